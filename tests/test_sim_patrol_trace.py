"""The project's simulator flies the real ArduCopter patrol (shared/traces/arducopter-patrol-adsb)
in the recorded time: every item within 10 % of the real vehicle's (issue 12).

The simulator is the reference the end-to-end tests and CI fly against, so its take-off, S-curve
legs, corners, loiters, RTL and landing must take as long as ArduCopter's. Driven over MAVLink as
the trace's ground station did: upload, GUIDED, arm, AUTO, MISSION_START, until disarmed; times
are the vehicle's own clock (SYSTEM_TIME), so the speedup does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from pymavlink import mavutil

import patrol_trace as pt
from mav import MavClient, MissionItem
from sitl_fleet import SitlFleet

_MISSING = pt.missing_reason()
pytestmark = [pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
              pytest.mark.timeout(180)]

SPEEDUP = 10.0
TOLERANCE = 0.10
_R = 6_378_137.0
ml = mavutil.mavlink


@pytest.fixture
def client(sim_fleet: object) -> Iterator[tuple[SitlFleet, MavClient]]:
    fleet: SitlFleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0)  # type: ignore[operator]
    c = MavClient(fleet.url(0), target_system=fleet.sysid(0))
    try:
        c.wait_heartbeat(10.0)
        c.request_data_stream(5)
        c.wait("SYSTEM_TIME", timeout=5.0)
        yield fleet, c
    finally:
        c.close()


def wall(vehicle_s: float) -> float:
    return vehicle_s / SPEEDUP * 1.5 + 5.0


def _offset(lat0: int, lon0: int, north: float, east: float) -> tuple[int, int]:
    dlat = math.degrees(north / _R)
    dlon = math.degrees(east / (_R * math.cos(math.radians(lat0 * 1e-7))))
    return lat0 + round(dlat * 1e7), lon0 + round(dlon * 1e7)


def patrol_mission(home_lat: int, home_lon: int) -> list[MissionItem]:
    """The trace's patrol around the simulator's home (seq 0: the home slot)."""
    items = [MissionItem(0, 16)]
    for it in pt.patrol().items:
        if it.command in (22, 20):
            items.append(MissionItem(3, it.command, z=it.alt_m))
            continue
        x, y = _offset(home_lat, home_lon, it.north_m, it.east_m)
        items.append(MissionItem(3, it.command, param1=it.param1, x=x, y=y, z=it.alt_m))
    return items


def test_simulator_flies_the_real_patrol_within_10_percent_per_item(
        client: tuple[SitlFleet, MavClient]) -> None:
    _, c = client
    c.wait("SYSTEM_TIME", lambda m: m.time_boot_ms > 4000, wall(5.0))  # EKF ready (2 s)
    since = c.mark()
    assert c.request_message(242).result == 0  # HOME_POSITION
    h = c.wait("HOME_POSITION", timeout=5.0, since=since)
    assert c.upload_mission(patrol_mission(h.latitude, h.longitude)).ack_type == 0
    c.send_set_mode("GUIDED")
    c.wait_mode("GUIDED", 5.0)
    assert c.arm().accepted
    assert c.set_mode("AUTO").accepted
    start = c.mark()
    assert c.command_long(ml.MAV_CMD_MISSION_START).accepted
    started = c.vehicle_time()
    assert started is not None
    recorded = pt.patrol().items
    c.wait_armed(False, wall(sum(it.seconds for it in recorded) * 1.5))
    reached: dict[int, float] = {}
    for r in c.history[start:]:
        if r.type == "MISSION_ITEM_REACHED" and r.msg.seq not in reached:
            assert r.vt is not None
            reached[r.msg.seq] = r.vt
    assert list(reached) == [it.seq for it in recorded], "MISSION_ITEM_REACHED order"
    before = started
    rows = []
    for it in recorded:
        flown = reached[it.seq] - before
        before = reached[it.seq]
        rows.append((it.seq, it.command, it.seconds, flown, flown / it.seconds - 1))
    print("\nseq cmd real_s sim_s error")
    for seq, cmd, real, sim, err in rows:
        print(f"{seq:3d} {cmd:3d} {real:6.1f} {sim:6.1f} {err:+6.1%}")
    bad = [r for r in rows if abs(r[4]) > TOLERANCE]
    assert not bad, f"items off the real vehicle's time by more than 10 %: {bad}"
