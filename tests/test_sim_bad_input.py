"""Bad input to the simulator is answered as ArduCopter answers it, and never hurts anyone else.

Garbage bytes, frames with broken checksums, unknown message ids, out-of-range mission items,
oversize and out-of-order uploads, commands in the wrong mode. After each, the vehicle still
answers and the other vehicles of the fleet never noticed.
"""

from __future__ import annotations

import os
import random
import socket
import time
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from mav import MavClient, MissionItem, connect
from sitl_fleet import FleetFactory

SPEEDUP = 10.0
HOME = (41.311081, 69.240562)
REL = 3


def _e7(x: float) -> int:
    return round(x * 1e7)


def _frame(msg: Any, sysid: int = 245) -> bytes:
    packed: bytes = msg.pack(mavlink.MAVLink(None, srcSystem=sysid, srcComponent=190))
    return packed


def _still_answers(c: MavClient) -> None:
    ack = c.command_long(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
    assert ack.accepted
    c.wait("AUTOPILOT_VERSION", timeout=3, since=0)


def test_garbage_on_the_wire_is_ignored(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=2, speedup=SPEEDUP, ekf_delay=2)
    rng = random.Random(7)
    good = _frame(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3))
    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF  # bad CRC
    unknown = bytearray(good)
    unknown[7] = 0xEE  # a message id nobody defines (crc will not match either)
    truncated = good[:7]
    huge_len = bytes([0xFD, 0xFF]) + os.urandom(300)
    with connect(fleet.url(1), target_system=2) as other:
        other.request_data_stream(4)
        with socket.create_connection(("127.0.0.1", fleet.tcp_port(0))) as raw:
            for blob in (bytes(corrupt), bytes(unknown), truncated, huge_len,
                         bytes(rng.getrandbits(8) for _ in range(20000))):
                raw.sendall(blob)
            raw.sendall(good)
        with connect(fleet.url(0)) as c:
            _still_answers(c)
        # The other vehicle's stream never paused: ten positions in a row, at 4 Hz of vehicle
        # time (9 gaps of 250 ms), however slowly a loaded machine lets them arrive.
        since = other.mark()
        deadline = time.monotonic() + 10.0
        while len(other.received("GLOBAL_POSITION_INT", since=since)) < 10:
            assert time.monotonic() < deadline, "the other vehicle's positions stopped"
            other.pump(0.2)
        ten = other.received("GLOBAL_POSITION_INT", since=since)[:10]
        assert ten[-1].time_boot_ms - ten[0].time_boot_ms <= 9 * 250 + 300, [
            m.time_boot_ms for m in ten]
    assert all(v["alive"] for v in fleet.control("status")["vehicles"])


def test_commands_for_another_system_are_ignored(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=2, speedup=SPEEDUP, ekf_delay=2)
    with connect(fleet.url(0)) as c:
        since = c.mark()
        c.mav.command_long_send(2, 1, mavlink.MAV_CMD_DO_SET_MODE, 0, 1, 6, 0, 0, 0, 0, 0)
        c.collect(0.5)
        assert c.received("COMMAND_ACK", since=since) == []
        assert c.wait_heartbeat().custom_mode == 0


def test_out_of_range_items_are_refused_with_the_field(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2)
    home = MissionItem(0, 16, x=_e7(HOME[0]), y=_e7(HOME[1]))
    cases = [
        (MissionItem(REL, 16, x=950_000_000, y=_e7(HOME[1]), z=20), 10),  # latitude 95 deg
        (MissionItem(REL, 16, x=_e7(HOME[0]), y=1_900_000_000, z=20), 11),  # longitude 190
        (MissionItem(REL, 16, x=_e7(HOME[0]), y=_e7(HOME[1]), z=1e6), 12),  # altitude
        (MissionItem(REL, 31999, x=_e7(HOME[0]), y=_e7(HOME[1]), z=20), 3),  # unknown command
        (MissionItem(99, 16, x=_e7(HOME[0]), y=_e7(HOME[1]), z=20), 2),  # unknown frame
    ]
    with connect(fleet.url(0)) as c:
        for item, expected in cases:
            assert c.upload_mission([home, item]).ack_type == expected
        _still_answers(c)


def test_upload_protocol_abuse(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2)
    wp = (REL, 16, 0, 1, 0, 0, 0, 0, _e7(HOME[0]), _e7(HOME[1]), 20)
    with connect(fleet.url(0)) as c:
        # an item with no upload in progress
        since = c.mark()
        c.mav.mission_item_int_send(1, 1, 0, *wp, 0)
        assert c.wait("MISSION_ACK", since=since).type == 1  # MAV_MISSION_ERROR
        # skipping ahead is an invalid sequence; the vehicle keeps asking for what it needs
        since = c.mark()
        c.mav.mission_count_send(1, 1, 3, 0)
        c.wait(["MISSION_REQUEST", "MISSION_REQUEST_INT"], lambda m: m.seq == 0, since=since)
        c.mav.mission_item_int_send(1, 1, 2, *wp, 0)
        assert c.wait("MISSION_ACK", since=since).type == 13  # INVALID_SEQUENCE
        c.wait(["MISSION_REQUEST", "MISSION_REQUEST_INT"], lambda m: m.seq == 0, since=since)
        # duplicates are harmless; then finish properly
        for seq in (0, 0, 1, 1, 2):
            c.mav.mission_item_int_send(1, 1, seq, *wp, 0)
        ack = c.wait("MISSION_ACK", lambda m: m.type == 0, since=since, timeout=5)
        assert ack.type == 0
        assert len(c.download_mission()) == 3
        # a client that stops feeding items: the upload is cancelled after its timeout
        since = c.mark()
        c.mav.mission_count_send(1, 1, 4, 0)
        c.mav.mission_item_int_send(1, 1, 0, *wp, 0)
        assert c.wait("MISSION_ACK", since=since, timeout=5).type == 15  # OPERATION_CANCELLED
        # download of a seq that does not exist
        since = c.mark()
        c.mav.mission_request_int_send(1, 1, 50, 0)
        assert c.wait("MISSION_ACK", since=since).type == 13


def test_commands_in_the_wrong_state(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2)
    with connect(fleet.url(0)) as c:
        assert c.takeoff(10).result == 4, "takeoff while disarmed"
        c.set_mode("AUTO")
        since = c.mark()
        assert c.arm().result == 4, "Copter cannot arm in AUTO"
        c.wait("STATUSTEXT", lambda m: m.text == "Arm: Mode not armable", since=since)
        assert c.command_long(mavlink.MAV_CMD_DO_SET_MODE, 1, 12345).result == 4
        assert c.command_long(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 3).result == 2  # DENIED
        assert c.command_long(mavlink.MAV_CMD_DO_REPOSITION, -1, 0, 0, 0, 41.3, 69.2, 20).result \
            == 2, "reposition outside GUIDED without the change-mode flag"
        assert c.command_long(mavlink.MAV_CMD_PREFLIGHT_CALIBRATION).result == 3
        c.set_mode("GUIDED")
        c.wait_mode("GUIDED")
        assert c.command_long(mavlink.MAV_CMD_DO_CHANGE_SPEED, 1, -5).result == 4
        assert c.command_long(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, 9999, 1e5).result == 4
        _still_answers(c)


def test_nan_and_unknown_parameters_change_nothing(sim_fleet: FleetFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2)
    with connect(fleet.url(0)) as c:
        before = c.param_get("WPNAV_SPEED")
        assert before is not None
        c.mav.param_set_send(1, 1, b"WPNAV_SPEED", float("nan"), 9)
        c.mav.param_set_send(1, 1, b"NO_SUCH_PARAM", 3.0, 9)
        assert c.param_get("NO_SUCH_PARAM", timeout=1.0) is None
        after = c.param_get("WPNAV_SPEED")
        assert after is not None and after.param_value == before.param_value
        # integer parameters are clamped to their type, as AP_Param does
        assert c.param_set("DISARM_DELAY", 1000, 2).param_value == 127
