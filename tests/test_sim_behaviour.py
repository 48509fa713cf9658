"""Simulator behaviours the traces do not show but a ground station relies on: fault injection,
failsafes, fences, mission commands, extra serial ports and UDP streaming.

Everything is observed over MAVLink the way a ground station sees it; the control port is used only
to inject faults into the simulated world.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from mav import MavClient, MissionItem, connect
from sitl_fleet import FleetFactory, wait_for

SPEEDUP = 10.0
EKF = 2.0
GUIDED, AUTO, RTL, LAND, ALT_HOLD = 4, 3, 6, 9, 2
REL = 3  # MAV_FRAME_GLOBAL_RELATIVE_ALT
HOME = (41.311081, 69.240562)


def _e7(x: float) -> int:
    return round(x * 1e7)


def _airborne(c: MavClient, alt: float = 20.0) -> None:
    """GUIDED, arm (retrying until the EKF is ready, as a GCS does), take off and climb."""
    c.request_data_stream(10)
    c.set_mode("GUIDED")
    wait_for(lambda: c.arm().accepted, timeout=20, interval=0.2)
    assert c.takeoff(alt).accepted
    c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt > (alt - 1) * 1000, timeout=30)


def _mission(*items: MissionItem) -> list[MissionItem]:
    return [MissionItem(0, 16, x=_e7(HOME[0]), y=_e7(HOME[1])), *items]


def test_gps_loss_in_flight_lands_and_disarms(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c:
        _airborne(c)
        fleet.control("gps_loss", vehicle=0, lost=True)
        c.wait("STATUSTEXT", lambda m: m.text == "EKF variance", timeout=10)
        c.wait_mode("LAND", timeout=10)
        c.wait("GPS_RAW_INT", lambda m: m.fix_type <= 1 and m.satellites_visible == 0, timeout=5)
        c.wait_armed(False, timeout=60)


def test_battery_failsafe_returns_home(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c:
        assert c.param_set("BATT_FS_LOW_ACT", 2, 2) is not None
        assert c.param_set("BATT_LOW_MAH", 500, 9) is not None
        _airborne(c)
        fleet.control("battery", vehicle=0, percent=10)
        text = c.wait("STATUSTEXT", lambda m: m.text.startswith("Battery 1 is low"), timeout=30)
        assert text.severity == 4
        c.wait("STATUSTEXT", lambda m: m.text == "Battery Failsafe", timeout=5)
        c.wait_mode("RTL", timeout=5)
        c.wait("SYS_STATUS", lambda m: m.battery_remaining <= 10, timeout=5)
        c.wait_armed(False, timeout=90)


def test_altitude_fence_breach_triggers_rtl(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c:
        _airborne(c, alt=20)
        assert c.param_set("FENCE_ALT_MAX", 30, 9) is not None
        assert c.param_set("FENCE_TYPE", 1, 2) is not None
        assert c.param_set("FENCE_ENABLE", 1, 2) is not None
        ack = c.command_int(192, params=(-1, 0, 0, 0), x=_e7(HOME[0]), y=_e7(HOME[1]), z=50)
        assert ack.result == 4, "a GUIDED target above FENCE_ALT_MAX is refused"
        assert c.takeoff(10).result == 4, "takeoff while flying is refused"
        # lowering the ceiling below the copter is a breach, answered with RTL (FENCE_ACTION 1)
        since = c.mark()
        assert c.param_set("FENCE_ALT_MAX", 15, 9) is not None
        c.wait("STATUSTEXT", lambda m: m.text == "Max Alt fence breached", timeout=10,
               since=since)
        c.wait_mode("RTL", timeout=5)


def test_polygon_fence_upload_and_reposition(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    d = 0.002  # about 220 m
    lat, lon = HOME
    corners = [(lat - d, lon - d), (lat + d, lon - d), (lat + d, lon + d), (lat - d, lon + d)]
    fence = [MissionItem(0, 5001, param1=4, x=_e7(a), y=_e7(b)) for a, b in corners]
    fence.append(MissionItem(0, 5004, param1=30, x=_e7(lat + 0.001), y=_e7(lon)))
    with connect(fleet.url(0)) as c:
        result = c.upload_mission(fence, mission_type=1)
        assert result.ack_type == 0
        c.wait("STATUSTEXT", lambda m: m.text == "Fence Indexed OK", since=0, timeout=5)
        back = c.download_mission(mission_type=1)
        assert [(m.command, m.x, m.y) for m in back] == [(f.command, f.x, f.y) for f in fence]
        assert c.param_set("FENCE_ENABLE", 1, 2) is not None
        _airborne(c)
        inside = c.command_int(192, params=(-1, 0, 0, 0), x=_e7(lat - 0.001), y=_e7(lon), z=20)
        assert inside.accepted
        in_circle = c.command_int(192, x=_e7(lat + 0.001), y=_e7(lon + 0.0001), z=20)
        outside = c.command_int(192, x=_e7(lat + 0.003), y=_e7(lon), z=20)
        assert (in_circle.result, outside.result) == (4, 4)
        c.wait("GLOBAL_POSITION_INT", lambda m: abs(m.lat - _e7(lat - 0.001)) < 30, timeout=30)


def test_fence_with_bad_polygon_is_refused(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    two_vertices = [MissionItem(0, 5001, param1=2, x=_e7(HOME[0]), y=_e7(HOME[1] + i * 1e-3))
                    for i in range(2)]
    with connect(fleet.url(0)) as c:
        assert c.upload_mission(two_vertices, mission_type=1).ack_type == 5  # MAV_MISSION_INVALID
        assert c.upload_mission([MissionItem(0, 16)], mission_type=1).ack_type == 3  # UNSUPPORTED


def test_do_jump_loiter_turns_and_land_item(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    lat, lon = HOME
    items = _mission(
        MissionItem(REL, 22, z=15),
        MissionItem(REL, 16, x=_e7(lat + 0.0004), y=_e7(lon), z=15),
        MissionItem(REL, 16, x=_e7(lat + 0.0004), y=_e7(lon + 0.0004), z=15),
        MissionItem(0, 177, param1=2, param2=1),  # jump back to item 2 once
        MissionItem(REL, 18, param1=1, param3=20, x=_e7(lat), y=_e7(lon + 0.0004), z=15),
        MissionItem(REL, 21, x=_e7(lat), y=_e7(lon)),
    )
    with connect(fleet.url(0)) as c:
        assert c.upload_mission(items).ack_type == 0
        _airborne(c, alt=15)
        start = c.mark()
        assert c.command_long(300).accepted  # MISSION_START switches a copter to AUTO
        c.wait_armed(False, timeout=120)
        texts = [r.msg.text for r in c.history[start:] if r.type == "STATUSTEXT"]
        mission_texts = [t for t in texts if t.startswith(("Mission:", "Reached"))]
        assert mission_texts == [
            "Mission: 1 Takeoff", "Mission: 2 WP", "Reached command #2", "Mission: 3 WP",
            "Reached command #3", "Mission: 2 WP", "Reached command #2", "Mission: 3 WP",
            "Reached command #3", "Mission: 5 LoitTurns", "Reached command #5",
            "Mission: 6 Land"]
        reached = [r.msg.seq for r in c.history[start:] if r.type == "MISSION_ITEM_REACHED"]
        assert reached[-1] == 6 and reached.count(2) == 2
        hb = c.wait_heartbeat()
        assert hb.custom_mode == AUTO, "a mission's LAND item keeps the mode AUTO"


def _of_type(mtype: int) -> Callable[[Any], bool]:
    return lambda m: bool(m.mission_type == mtype)


def test_partial_upload_and_capacity(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    lat, lon = HOME
    items = _mission(*(MissionItem(REL, 16, x=_e7(lat + i * 1e-4), y=_e7(lon), z=20)
                       for i in range(1, 5)))
    with connect(fleet.url(0)) as c:
        assert c.upload_mission(items).ack_type == 0
        since = c.mark()
        c.mav.mission_write_partial_list_send(1, 1, 2, 2, 0)
        req = c.wait(["MISSION_REQUEST", "MISSION_REQUEST_INT"], timeout=5, since=since)
        assert req.seq == 2
        c.mav.mission_item_int_send(1, 1, 2, REL, 16, 0, 1, 0, 0, 0, 0, _e7(lat), _e7(lon + 1e-3),
                                    33, 0)
        assert c.wait("MISSION_ACK", timeout=5, since=since).type == 0
        back = c.download_mission()
        assert len(back) == 5 and back[2].y == _e7(lon + 1e-3) and back[2].z == 33
        assert back[3].x == items[3].x
        since = c.mark()
        c.mav.mission_write_partial_list_send(1, 1, 9, 12, 0)
        assert c.wait("MISSION_ACK", timeout=5, since=since).type == 1
        c.wait("STATUSTEXT", lambda m: m.text == "Flight plan update rejected", since=since)
        for mtype, too_many in ((0, 701), (1, 85), (2, 11)):
            since = c.mark()
            c.mav.mission_count_send(1, 1, too_many, mtype)
            ack = c.wait("MISSION_ACK", _of_type(mtype), since=since)
            assert ack.type == 4  # MAV_MISSION_NO_SPACE


def test_auto_disarm_after_disarm_delay(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c:
        c.request_data_stream(10)
        c.set_mode("GUIDED")
        wait_for(lambda: c.arm().accepted, timeout=20, interval=0.2)
        t0 = c.wait("SYSTEM_TIME", timeout=3).time_boot_ms / 1000
        c.wait_armed(False, timeout=5)
        elapsed = c.wait("SYSTEM_TIME", timeout=3).time_boot_ms / 1000 - t0
        assert 9.5 <= elapsed <= 12, f"DISARM_DELAY is 10 s of vehicle time, took {elapsed}"


def test_link_cut_and_kill_leave_other_vehicles_alone(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=3, speedup=SPEEDUP, ekf_delay=EKF)
    clients = [connect(fleet.url(i), target_system=fleet.sysid(i)) for i in range(3)]
    try:
        fleet.control("cut_link", vehicle=0)
        clients[0].collect(0.3)
        since = [c.mark() for c in clients]
        for c in clients:
            c.collect(1.0)
        assert clients[0].received("HEARTBEAT", since=since[0]) == []
        assert len(clients[1].received("HEARTBEAT", since=since[1])) >= 5  # 1 Hz x speedup 10
        fleet.control("restore_link", vehicle=0)
        clients[0].wait_heartbeat(timeout=3)
        fleet.control("kill", vehicle=1)
        wait_for(lambda: _refused(fleet.tcp_port(1)), timeout=5)
        assert clients[2].wait_heartbeat(timeout=3).type == 2
        status = fleet.control("status")["vehicles"]
        assert [v["alive"] for v in status] == [True, False, True]
    finally:
        for c in clients:
            c.close()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_serial1_port_serves_a_second_ground_station(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c0, connect(f"tcp:127.0.0.1:{fleet.tcp_port(0) + 2}") as c1:
        c0.request_data_stream(4)
        c1.collect(1.0)
        assert c1.received("GLOBAL_POSITION_INT") == [], "stream rates are per serial port"
        c1.set_mode("LOITER")
        c0.wait_mode("LOITER", timeout=5)


def test_udp_out_streams_and_takes_commands(sim_fleet: FleetFactory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF,
                      extra_args=["--out", f"udp:127.0.0.1:{port}"])
    with MavClient(f"udpin:127.0.0.1:{port}") as c:
        c.wait_heartbeat(timeout=5)
        c.request_data_stream(4)
        c.wait("GLOBAL_POSITION_INT", timeout=5)
        assert fleet.control("status", vehicle=0)["link_up"]


def test_wind_is_reported(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with connect(fleet.url(0)) as c:
        c.request_data_stream(4)
        fleet.control("wind", vehicle=0, speed=7.5, direction=270)
        w = c.wait("WIND", lambda m: m.speed > 7, timeout=5)
        assert w.direction == pytest.approx(270)


def test_control_errors_name_the_problem(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF)
    with socket.create_connection(("127.0.0.1", fleet.control_port)) as s:
        f = s.makefile("rw")
        for line, needle in (('{"op": "kill", "vehicle": 7}\n', "vehicle must be"),
                             ('not json\n', "bad JSON"),
                             ('{"op": "explode", "vehicle": 0}\n', "unknown op"),
                             ('{"op": "battery", "vehicle": 0, "percent": 300}\n', "percent")):
            f.write(line)
            f.flush()
            assert needle in f.readline()
    time.sleep(0.1)
    assert fleet.control("status", vehicle=0)["alive"]


def _ftp(c: MavClient, seq: int, opcode: int, offset: int = 0, data: bytes = b"",
         session: int = 7) -> list[bytes]:
    """One MAVFTP request; returns the payloads of the replies to it (a burst gives several)."""
    header = struct.pack("<HBBBBBBI", seq, session, opcode, len(data), 0, 0, 0, offset) + data
    since = c.mark()
    c.mav.file_transfer_protocol_send(0, 1, 1, list(header + bytes(251 - len(header))))
    first = c.wait("FILE_TRANSFER_PROTOCOL", timeout=5.0, since=since)
    c.collect(0.3)
    replies = [bytes(m.payload) for m in c.received("FILE_TRANSFER_PROTOCOL", since=since)]
    assert bytes(first.payload) == replies[0]
    return replies


def test_parameters_over_mavftp_as_mavproxy_reads_them(sim_fleet: FleetFactory) -> None:
    """@PARAM/param.pck in ArduPilot's packed format, decoded by MAVProxy's own decoder."""
    from MAVProxy.modules.lib.param_ftp import ftp_param_decode

    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    with connect(fleet.url(0)) as c:
        assert c.param_set("WPNAV_SPEED", 750.0, 9).param_value == 750.0
        path = b"@PARAM/param.pck?withdefaults=1"
        (opened,) = _ftp(c, 0, 4, data=path)
        seq, session, opcode, size, req_opcode = struct.unpack_from("<HBBBB", opened)
        assert (seq, session, opcode, size, req_opcode) == (1, 7, 128, 4, 4)
        file_size = struct.unpack_from("<I", opened, 12)[0]
        data = b""
        for reply in _ftp(c, 2, 15):  # BurstReadFile from offset 0
            _, _, op, n, _, _, _, offset = struct.unpack_from("<HBBBBBBI", reply)
            assert op == 128 and offset == len(data)
            data += reply[12:12 + n]
        assert len(data) == file_size
        (eof,) = _ftp(c, 9, 5, offset=file_size)  # ReadFile past the end: NAK EOF
        assert eof[3:5] == bytes([129, 1]) and eof[12] == 6
        (missing,) = _ftp(c, 10, 4, data=b"/APM/nope.txt", session=8)
        assert missing[3] == 129 and missing[12] == 10  # NAK FileNotFound
        _ftp(c, 11, 1)  # TerminateSession

    pdata = ftp_param_decode(data)
    assert pdata is not None
    params = {name.decode(): value for name, value, _ in pdata.params}
    defaults = {name.decode(): value for name, value, _ in pdata.defaults or []}
    assert params["WPNAV_SPEED"] == 750.0 and defaults["WPNAV_SPEED"] == 1000.0
    assert params["SYSID_THISMAV"] == 1 and params["ARMING_CHECK"] == 1
    assert len(params) > 50


def test_second_flight_after_an_auto_mission_takes_off(sim_fleet: FleetFactory) -> None:
    """A landing's descent rate once leaked into the next take-off: the copter 'hit the ground'
    at once and disarmed. Fly the same AUTO mission twice."""
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0)
    with connect(fleet.url(0)) as c:
        c.request_data_stream(4)
        home = c.wait("GLOBAL_POSITION_INT", lambda m: m.lat != 0, timeout=5.0)
        items = _mission(
            MissionItem(3, 22, z=20.0),
            MissionItem(3, 16, x=home.lat + 5000, y=home.lon, z=20.0),
            MissionItem(3, 20),
        )
        for flight in range(2):
            since = c.mark()
            assert c.upload_mission(items).ack_type == 0
            assert c.set_mode("GUIDED").accepted
            # GLOBAL_POSITION_INT carries a position from the GPS before the EKF has one, so
            # the first arm may be refused ("PreArm: Need Position Estimate"): retry as a GCS does.
            wait_for(lambda: c.arm().accepted, timeout=20, interval=0.2)
            assert c.takeoff(20.0).accepted
            c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 15000, timeout=5.0)
            assert c.set_mode("AUTO").accepted
            c.wait_armed(False, timeout=30.0)
            texts = [r.msg.text for r in c.history[since:] if r.type == "STATUSTEXT"]
            hits = [t for t in texts if t.startswith("SIM Hit ground")]
            assert "Mission: 3 RTL" in texts and len(hits) == 1, (flight, texts)
            assert float(hits[0].split()[-2]) >= 0.4, (flight, texts)  # landed, not dropped
