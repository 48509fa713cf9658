"""On-station patterns: loiter and orbit items, lawnmower coverage, perimeter, no-fly clipping."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import LineString, Point

from mission.planning import (
    Airframe,
    AreaTarget,
    Drone,
    LatLon,
    Lawnmower,
    Loiter,
    NoFlyZone,
    Orbit,
    Perimeter,
    PlanRequest,
    PointTarget,
    plan_patrol,
)
from mission.planning.geometry import LocalFrame
from test_planning_support import BASE, FAST_S, assert_clear_of, at, metres, rect

NAV_WAYPOINT, NAV_LOITER_TURNS, NAV_LOITER_TIME = 16, 18, 19
# A long-endurance airframe, so covering a whole zone fits one flight.
DRONE = Drone("d0", BASE, 95.0, airframe=Airframe(battery_capacity_wh=300.0))


def _rotated_rect(
    cn: float, ce: float, length: float, width: float, deg: float
) -> tuple[LatLon, ...]:
    a = math.radians(deg)
    u, v = (math.cos(a), math.sin(a)), (-math.sin(a), math.cos(a))  # in (north, east)
    pts = []
    for sl, sw in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        n = cn + sl * length / 2 * u[0] + sw * width / 2 * v[0]
        e = ce + sl * length / 2 * u[1] + sw * width / 2 * v[1]
        pts.append(at(n, e))
    return tuple(pts)


def test_loiter_and_orbit_items() -> None:
    targets = (PointTarget("hold", at(500, 0), pattern=Loiter(45)),
               PointTarget("ring", at(500, 400), pattern=Orbit(60, turns=2.5, clockwise=False)),
               PointTarget("cw", at(0, 400), pattern=Orbit(30)))
    plan = plan_patrol(PlanRequest((DRONE,), targets, time_limit_s=FAST_S))
    route = plan.route("d0")
    by_id = {v.target_id: v for v in route.visits}
    assert set(by_id) == {"hold", "ring", "cw"}
    hold, ring, cw = (route.items[by_id[t].first_seq] for t in ("hold", "ring", "cw"))
    assert hold.command == NAV_LOITER_TIME and hold.param1 == 45 and hold.frame == 3
    assert ring.command == NAV_LOITER_TURNS and ring.param1 == 2.5 and ring.param3 == -60
    assert cw.command == NAV_LOITER_TURNS and cw.param3 == 30
    for item, t in ((hold, targets[0]), (ring, targets[1]), (cw, targets[2])):
        assert isinstance(t, PointTarget)
        assert metres(LatLon(item.lat, item.lon), t.position) < 0.05
        assert item.alt == route.altitude_m
    # Time on station is in the schedule: the loiter lasts 45 s, the 2.5 turns of 60 m at most
    # 10 m/s take at least 2.5 * 2 * pi * 60 / 10 s.
    v_hold, v_ring = by_id["hold"], by_id["ring"]
    assert v_hold.departure_s - v_hold.arrival_s == pytest.approx(45.0)
    assert v_ring.departure_s - v_ring.arrival_s >= 2.5 * 2 * math.pi * 60 / 10


def _sweep_lines(plan_items: list[tuple[float, float]]) -> list[LineString]:
    return [LineString([a, b]) for a, b in zip(plan_items, plan_items[1:], strict=False) if a != b]


def test_lawnmower_covers_the_zone_at_the_requested_spacing() -> None:
    poly = _rotated_rect(900, 300, 500, 260, 30)
    spacing = 40.0
    target = AreaTarget("search", poly, Lawnmower(spacing, heading_deg=30))
    plan = plan_patrol(PlanRequest((DRONE,), (target,), time_limit_s=FAST_S))
    route = plan.route("d0")
    (visit,) = route.visits
    frame = LocalFrame(BASE.lat, BASE.lon)
    pts = [frame.xy(LatLon(it.lat, it.lon))
           for it in route.items[visit.first_seq:visit.last_seq + 1]]
    sweeps = _sweep_lines(pts)
    area = frame.polygon(poly, "search")
    # Sweeps run along the heading: the long legs point at 30 degrees (or 210).
    long_legs = [s for s in sweeps if s.length > 100]
    assert len(long_legs) >= 260 / spacing - 1
    for s in long_legs:
        (x0, y0), (x1, y1) = s.coords
        bearing = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 180
        assert bearing == pytest.approx(30, abs=0.5)
    # Every point of the zone is within spacing/2 of the flown path; sweeps are spacing apart.
    minx, miny, maxx, maxy = area.bounds
    step = 7.0
    worst = 0.0
    y = miny
    while y <= maxy:
        x = minx
        while x <= maxx:
            p = Point(x, y)
            if area.contains(p):
                worst = max(worst, min(s.distance(p) for s in sweeps))
            x += step
        y += step
    assert worst <= spacing / 2 + 0.5
    gaps = sorted(long_legs[i].distance(long_legs[i + 1]) for i in range(len(long_legs) - 1))
    assert gaps[0] == pytest.approx(spacing, abs=0.5)
    assert gaps[-1] == pytest.approx(spacing, abs=0.5)


def test_lawnmower_and_perimeter_are_clipped_by_no_fly_zones() -> None:
    zone = NoFlyZone("hospital-pad", rect(800, 200, 1000, 320))
    search = AreaTarget("search", rect(700, 0, 1100, 400), Lawnmower(40))
    fence = AreaTarget("fence", rect(700, 0, 1100, 400), Perimeter(laps=2))
    for target in (search, fence):
        plan = plan_patrol(PlanRequest((DRONE,), (target,), (zone,),
                                       time_limit_s=FAST_S))
        assert plan.route("d0").visits, target.id
        assert_clear_of(plan, (zone,))
    frame = LocalFrame(BASE.lat, BASE.lon)
    plan = plan_patrol(PlanRequest((DRONE,), (search,), (zone,),
                                   clearance_m=15.0, time_limit_s=FAST_S))
    route = plan.route("d0")
    (visit,) = route.visits
    pts = [frame.xy(LatLon(it.lat, it.lon))
           for it in route.items[visit.first_seq:visit.last_seq + 1]]
    sweeps = _sweep_lines(pts)
    area = frame.polygon(search.polygon, "search")
    keep = frame.polygon(zone.polygon, "zone").buffer(15 + 20 + 1)
    worst = max(min(s.distance(Point(x, y)) for s in sweeps)
                for x in range(int(area.bounds[0]), int(area.bounds[2]), 9)
                for y in range(int(area.bounds[1]), int(area.bounds[3]), 9)
                if area.contains(Point(x, y)) and not keep.contains(Point(x, y)))
    assert worst <= 20.5


def test_perimeter_follows_the_outline_for_each_lap() -> None:
    poly = rect(600, -200, 900, 200)
    plan = plan_patrol(PlanRequest((DRONE,),
                                   (AreaTarget("fence", poly, Perimeter(laps=3, inset_m=10)),),
                                   time_limit_s=FAST_S))
    route = plan.route("d0")
    (visit,) = route.visits
    items = route.items[visit.first_seq:visit.last_seq + 1]
    assert len(items) == 3 * 4 + 1 and all(it.command == NAV_WAYPOINT for it in items)
    frame = LocalFrame(BASE.lat, BASE.lon)
    outline = frame.polygon(poly, "fence").exterior
    for it in items:
        p = Point(frame.xy(LatLon(it.lat, it.lon)))
        assert outline.distance(p) == pytest.approx(10, abs=0.1)
    assert (items[0].lat, items[0].lon) == (items[-1].lat, items[-1].lon)
    assert route.distance_m > 3 * 2 * (280 + 380)
