"""Conformance with a plain pymavlink GCS: takeoff -> waypoints -> RTL -> landed, disarmed.

Runs through the ``sitl_fleet`` fixture, so it flies our simulator and, when an ``arducopter``
binary is present, the real ArduCopter SITL with the same assertions. Everything asserted is what
the client received over MAVLink (see tests/conformance_util.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import conformance_util as cu
from conformance_util import mavlink

pytestmark = pytest.mark.timeout(150)


def _start(fleet: Any, i: int) -> cu.MavClient:
    c = cu.MavClient(fleet.url(i), fleet.sysid(i), f"vehicle {i}")
    c.wait_heartbeat()
    c.request_streams(all_hz=2, position_hz=10)
    c.wait_position()
    return c


def _fly(c: cu.MavClient, bearing: float) -> tuple[list[cu.Item], float]:
    """GUIDED, arm (retrying), NAV_TAKEOFF, upload + read-back, AUTO + MISSION_START, to disarm.

    Returns the uploaded plan and the wall time the mission was started.
    """
    rec = c.rec
    c.set_mode(cu.GUIDED)
    c.arm_with_retry()
    p0 = rec.pos
    assert p0 is not None
    rec.home = (p0.lat, p0.lon)
    assert p0.rel_alt < cu.ON_GROUND_ALT, f"armed on the ground but relative_alt {p0.rel_alt}"

    # Takeoff straight away: ArduCopter disarms an idle armed copter after a few seconds.
    r = c.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10.0)
    assert r == mavlink.MAV_RESULT_ACCEPTED, f"NAV_TAKEOFF -> {r}: {rec.summary()}"
    t_takeoff = time.monotonic()
    c.wait(lambda: rec.pos is not None and rec.pos.rel_alt >= 9.0, 40, "GUIDED takeoff to 10 m")
    climb = [s.rel_alt for s in rec.positions if s.t >= t_takeoff]
    assert len(climb) >= 5, f"only {len(climb)} position samples during the climb"
    assert climb[-1] - climb[0] >= 8.0 and max(climb) < 15.0, (
        f"climb profile {climb[:3]}..{climb[-3:]}"
    )
    assert rec.armed and rec.mode == cu.GUIDED

    plan = cu.mission(p0.lat, p0.lon, bearing)
    ack, requests = c.upload(plan)
    assert ack == mavlink.MAV_MISSION_ACCEPTED, f"MISSION_ACK {ack} (requests {dict(requests)})"
    assert sum(requests.values()) >= len(plan), (
        f"only {dict(requests)} requests for {len(plan)} items"
    )
    got = c.download()
    problems = cu.compare_mission(plan, got)
    assert not problems, f"read-back differs: {problems}"

    t_auto = time.monotonic()
    c.set_mode(cu.AUTO)
    r = c.command(mavlink.MAV_CMD_MISSION_START, 0, 0)
    assert r == mavlink.MAV_RESULT_ACCEPTED, f"MISSION_START -> {r}"
    # about 20 s climb + 2 legs of 150 m + 212 m back + descent, at ArduCopter's default speeds
    c.wait(lambda: rec.armed is False, 240, "mission flown, landed and disarmed")
    end = time.monotonic() + 0.5
    while time.monotonic() < end:  # trailing MISSION_ITEM_REACHED / STATUSTEXT
        c.pump(0.05)
    return plan, t_auto


def _check(c: cu.MavClient, plan: list[cu.Item], t_auto: float) -> None:
    rec = c.rec
    problems = cu.check_flight(rec, plan, t_auto, waypoint_seqs=[2, 3])
    missing = [seq for seq in range(1, len(plan)) if seq not in rec.reached]
    if missing:
        problems.append(f"no MISSION_ITEM_REACHED for seq {missing} (got {rec.reached})")
    # ArduCopter stays in AUTO through the mission's RTL, the landing and the disarm.
    modes = {m for t, m, _ in rec.modes if t >= t_auto}
    if modes != {cu.AUTO}:
        problems.append(f"modes after AUTO: {sorted(modes)} (expected AUTO only)")
    if rec.foreign:
        problems.append(f"messages from other systems: {dict(rec.foreign)}")
    assert not problems, f"{problems}\n{rec.summary()}"


def test_pymavlink_single_vehicle_mission(sitl_fleet: Any) -> None:
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    c = _start(fleet, 0)
    try:
        assert c.rec.mode is not None
        plan, t_auto = _fly(c, bearing=0.0)
        _check(c, plan, t_auto)
    finally:
        c.close()


def test_pymavlink_three_vehicles_concurrently_no_crosstalk(sitl_fleet: Any) -> None:
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    sysids = [fleet.sysid(i) for i in range(cu.COUNT)]
    assert len(set(sysids)) == cu.COUNT, f"sysids {sysids}"
    clients = []
    try:
        for i in range(cu.COUNT):
            clients.append(_start(fleet, i))
        # Each vehicle flies its own square-ish route on a different bearing from its own home.
        with ThreadPoolExecutor(max_workers=cu.COUNT) as pool:
            futures = [pool.submit(_fly, c, 120.0 * i) for i, c in enumerate(clients)]
            results = [f.result() for f in futures]
        for c, (plan, t_auto) in zip(clients, results, strict=True):
            _check(c, plan, t_auto)
            astray = cu.off_route(c.rec, plan, t_auto)
            assert not astray, (
                f"{c.rec.name}: {len(astray)} position samples off its own route, e.g. {astray[0]}"
            )
        homes = [c.rec.home for c in clients]
        assert all(h is not None for h in homes)
        for a in range(cu.COUNT):
            for b in range(a + 1, cu.COUNT):
                ha, hb = homes[a], homes[b]
                assert ha is not None and hb is not None
                assert cu.dist_m(ha[0], ha[1], hb[0], hb[1]) > 1.0, (
                    f"vehicles {a} and {b} share a home"
                )
    finally:
        for c in clients:
            c.close()


def test_pymavlink_mission_protocol_like_arducopter(sitl_fleet: Any) -> None:
    """Mission-protocol details a GCS sees from a real ArduCopter (shared/traces, pymavlink and
    mavsdk sessions): each item is checked on arrival, upload requests are MISSION_REQUEST (not
    _INT) addressed to the uploader, seq 0 reads back as the real home with its AMSL altitude, and
    an item without a location (NAV_RETURN_TO_LAUNCH) reads back with frame 0.
    """
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    c = _start(fleet, 2)
    try:
        # _start waited for a position, so the EKF origin, hence home, is set
        c.conn.mav.command_long_send(
            c.sysid, 1, mavlink.MAV_CMD_REQUEST_MESSAGE, 0, mavlink.MAVLINK_MSG_ID_HOME_POSITION,
            0, 0, 0, 0, 0, 0,
        )  # fmt: skip
        c.wait(lambda: c.home_position is not None, 60, "HOME_POSITION")
        assert c.home_position is not None
        h_lat, h_lon, h_amsl = c.home_position
        p = c.rec.pos
        assert p is not None and cu.dist_m(h_lat, h_lon, p.lat, p.lon) < 2.0, (h_lat, h_lon, p)

        plan = cu.mission(h_lat, h_lon, bearing_deg=45.0)
        bad = list(plan)
        bad[2] = cu.Item(mavlink.MAV_CMD_NAV_WAYPOINT, lat=95.0, lon=plan[2].lon, alt=20.0)
        ack, _ = c.upload(bad)
        assert ack == mavlink.MAV_MISSION_INVALID_PARAM5_X, f"latitude 95 -> MISSION_ACK {ack}"

        ack, requests = c.upload(plan)
        assert ack == mavlink.MAV_MISSION_ACCEPTED, f"MISSION_ACK {ack}"
        assert set(requests) == {"MISSION_REQUEST"}, f"upload requests {dict(requests)}"
        t_ack = time.monotonic()
        got = c.download()
        problems = cu.compare_mission(plan, got)
        # a loaded, not started mission: MISSION_CURRENT seq 0, total without the home slot
        c.wait(lambda: any(t > t_ack for t, _ in c.mission_current), 5, "MISSION_CURRENT")
        mc = [m for t, m in c.mission_current if t > t_ack][-1]
        seen = (mc.seq, mc.total, mc.mission_state)
        if seen != (0, len(plan) - 1, mavlink.MISSION_STATE_NOT_STARTED):
            problems.append(
                f"MISSION_CURRENT (seq, total, state) {seen} after upload, "
                f"ArduCopter sends {(0, len(plan) - 1, 2)}"
            )
        home = got[0]
        if abs(home.z - h_amsl) > 1.0:
            problems.append(f"seq 0 z {home.z}, expected home AMSL {h_amsl:.2f} (uploaded 0)")
        if cu.dist_m(home.x / 1e7, home.y / 1e7, h_lat, h_lon) > 1.0:
            problems.append(f"seq 0 at {home.x},{home.y}, not at home {h_lat},{h_lon}")
        if got[-1].frame != mavlink.MAV_FRAME_GLOBAL:
            problems.append(f"NAV_RETURN_TO_LAUNCH read back with frame {got[-1].frame}, not 0")
        assert not problems, problems
    finally:
        c.close()
