"""A planned mission flown by the project's ArduCopter simulator, in process: the vehicle accepts
the items, reaches every target's items in order, never enters the no-fly zone (orbit and RTL
included) and lands at its base in about the planned time."""

from __future__ import annotations

from shapely.geometry import Point

from mission.planning import (
    Drone,
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
    assert 0.7 * route.duration_s < flown < 1.4 * route.duration_s
