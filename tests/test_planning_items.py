"""Mission item layout for ArduCopter, checked against the simulator's own item validation."""

from __future__ import annotations

import subprocess
import sys

from mission.planning import Drone, LatLon, Loiter, PlanRequest, PointTarget, plan_patrol
from sitl import mission_items as mi
from test_planning_support import BASE, FAST_S, at, metres


def test_items_follow_the_ardupilot_layout_and_pass_vehicle_validation() -> None:
    drone = Drone("d0", BASE, 95.0, base_amsl_m=455.0)
    targets = (PointTarget("a", at(600, 0)), PointTarget("b", at(600, 500), pattern=Loiter(20)))
    plan = plan_patrol(PlanRequest((drone,), targets, time_limit_s=FAST_S))
    route = plan.route("d0")
    items = route.items
    assert [it.seq for it in items] == list(range(len(items)))
    home, takeoff, speed = items[0], items[1], items[2]
    assert (home.command, home.frame, home.alt) == (mi.NAV_WAYPOINT, mi.FRAME_GLOBAL, 455.0)
    assert metres(LatLon(home.lat, home.lon), BASE) < 0.05
    assert (takeoff.command, takeoff.frame, takeoff.alt) == (mi.NAV_TAKEOFF, 3, route.altitude_m)
    assert speed.command == mi.DO_CHANGE_SPEED and speed.param2 == drone.airframe.cruise_speed_mps
    assert items[-1].command == mi.NAV_RETURN_TO_LAUNCH
    for it in items[1:]:
        if it.command in mi.NAV_COMMANDS - {mi.NAV_RETURN_TO_LAUNCH}:
            assert it.frame == mi.FRAME_GLOBAL_RELATIVE_ALT
    for v in route.visits:
        target = next(t for t in targets if t.id == v.target_id)
        served = items[v.first_seq]
        assert metres(LatLon(served.lat, served.lon), target.position) < 0.05
        assert 0 < v.arrival_s <= v.departure_s < route.duration_s
    for it in items:
        sim_item = mi.Item(it.seq, it.frame, it.command, it.current, it.autocontinue,
                           it.param1, it.param2, it.param3, it.param4,
                           round(it.lat * 1e7), round(it.lon * 1e7), it.alt)
        assert mi.validate(sim_item) == mi.ACCEPTED, it
    # Distance is the sum of the legs actually flown (no orbit here).
    legs = sum(metres(a, b) for a, b in zip(route.path, route.path[1:], strict=False))
    assert route.distance_m == __import__("pytest").approx(legs, rel=1e-3)


def test_planner_imports_no_web_framework_or_database() -> None:
    """The planner is pure: of the vehicle side it uses only the one mission-item type (a
    plain dataclass, telemetry.mission_item), nothing of the link."""
    pure = ("telemetry", "telemetry.mission_item")
    code = ("import sys, mission.planning; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'starlette', 'sqlmodel', 'sqlalchemy', 'mavsdk', 'telemetry') "
            f"and m not in {pure!r}]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
