"""A planned mission flown by the project's ArduCopter simulator, in process: the vehicle accepts
the items, reaches every target's items in order, never enters the no-fly zone (orbit and RTL
included) and lands at its base in about the planned time."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point

from mission.planning import (
    Drone,
    DroneRoute,
    LatLon,
    Loiter,
    NoFlyZone,
    Orbit,
    PlanRequest,
    PointTarget,
    plan_patrol,
)
from sitl import mission_items as mi
from sitl.modes import Mode
from sitl.vehicle import Vehicle
from test_planning_support import BASE, FAST_S, at, lonlat_polygon, metres, rect

TICK_S = 0.1


def test_simulator_flies_the_plan_around_the_zone_and_home() -> None:
    zone = NoFlyZone("wall", rect(300, -300, 400, 300))
    targets = (PointTarget("fire", at(600, 0), pattern=Orbit(40, turns=1)),
               PointTarget("crash", at(500, 400), pattern=Loiter(15)))
    plan = plan_patrol(PlanRequest((Drone("d0", BASE, 95.0, base_amsl_m=455.0),), targets,
                                   (zone,), time_limit_s=FAST_S))
    route = plan.route("d0")

    v = Vehicle(0, 1, (BASE.lat, BASE.lon, 455.0, 0.0), ekf_delay=1.0)
    while not v.position_ok:
        v.step(TICK_S)
    assert v.set_mode(Mode.GUIDED) == mi.ACCEPTED and v.arm() == mi.ACCEPTED
    items = [mi.Item(it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                     it.param2, it.param3, it.param4, round(it.lat * 1e7), round(it.lon * 1e7),
                     it.alt) for it in route.items]
    assert all(mi.validate(item) == mi.ACCEPTED for item in items)
    v.store_mission(mi.MISSION, items)
    assert v.set_mode(Mode.AUTO) == mi.ACCEPTED
    v.runner.start_or_resume()

    forbidden = lonlat_polygon(zone.polygon)
    start, reached, top = v.time, [], 0.0
    while v.armed and v.time - start < 3 * route.duration_s:
        v.step(TICK_S)
        lat, lon = v.latlon
        assert not forbidden.contains(Point(lon, lat)), f"inside the zone at t={v.time - start}"
        top = max(top, v.alt_rel)
        reached += [int(t.split("#")[1]) for _, t in v.outbox if t.startswith("Reached command")]
        v.outbox.clear()
    flown = v.time - start
    assert not v.armed, "the vehicle should have landed and disarmed"
    assert metres(LatLon(*v.latlon), BASE) < 5.0
    visit_seqs = [s for visit in route.visits for s in range(visit.first_seq, visit.last_seq + 1)]
    assert [s for s in reached if s in visit_seqs] == visit_seqs
    assert top <= route.altitude_m + 1.0
    print(f"planned {route.duration_s:.1f} s, flown {flown:.1f} s")
    assert flown == pytest.approx(route.duration_s, rel=0.10)


def fly_on_simulator(route: DroneRoute) -> tuple[dict[int, float], float]:
    """Vehicle seconds from the take-off command until each item was reached, and until
    disarmed, for `route` flown by the simulator (GUIDED, arm, AUTO from the ground)."""
    v = Vehicle(0, 1, (BASE.lat, BASE.lon, 455.0, 0.0), ekf_delay=1.0)
    while not v.position_ok:
        v.step(TICK_S)
    assert v.set_mode(Mode.GUIDED) == mi.ACCEPTED and v.arm() == mi.ACCEPTED
    v.store_mission(mi.MISSION, [
        mi.Item(it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                it.param2, it.param3, it.param4, round(it.lat * 1e7), round(it.lon * 1e7),
                it.alt) for it in route.items])
    assert v.set_mode(Mode.AUTO) == mi.ACCEPTED
    v.runner.start_or_resume()
    start, reached = v.time, {}
    while v.armed and v.time - start < 3 * route.duration_s:
        v.step(TICK_S)
        if v.reached_seq is not None and v.reached_seq not in reached:
            reached[v.reached_seq] = v.time - start
    assert not v.armed, "the vehicle should have landed and disarmed"
    return reached, v.time - start


def test_planned_times_match_the_simulated_flight_per_leg() -> None:
    """Issue 12: three drones, six incidents in a ring 250 m out; every leg of every route (to
    each target and its loiter, then home and landed) flies within 10 % of the plan, and each
    target's eta_s is when the drone got there."""
    targets = tuple(PointTarget(f"i{k}", at(250 * math.cos(math.radians(60 * k)),
                                            250 * math.sin(math.radians(60 * k))),
                                pattern=Loiter(20), severity=1 + k % 5) for k in range(6))
    drones = tuple(Drone(f"d{k}", BASE, 95.0, base_amsl_m=455.0) for k in range(3))
    plan = plan_patrol(PlanRequest(drones, targets, time_limit_s=FAST_S))
    flown_routes = [r for r in plan.routes if r.visits]
    assert len(flown_routes) == 3
    for route in flown_routes:
        reached, total = fly_on_simulator(route)
        planned = [v.departure_s for v in route.visits] + [route.duration_s]
        flown = [reached[v.last_seq] for v in route.visits] + [total]
        for i, (p0, p1, f0, f1) in enumerate(zip([0.0, *planned], planned, [0.0, *flown], flown,
                                                 strict=False)):
            print(f"{route.drone_id} leg {i}: planned {p1 - p0:.1f} s, flown {f1 - f0:.1f} s")
            assert f1 - f0 == pytest.approx(p1 - p0, rel=0.10), (route.drone_id, i)
        for v, done in zip(route.visits, flown, strict=False):
            # arrival: the loiter item is reached once its 20 s are over
            assert done - 20.0 == pytest.approx(v.eta_s, rel=0.10), v.target_id
