"""The estimate of an imported route (mission.planning.flown_route) counts the flight from where
the drone is to the route and back, with the planner's time/energy model, and the project's
simulator flies such a route in about the estimated time, transit included."""

from __future__ import annotations

import pytest

from mission.planning.flown_route import UnboundedRouteError, fly, metres, reach_m
from mission.planning.model import Airframe, LatLon, MissionItem
from sitl import mission_items as mi
from sitl.modes import Mode
from sitl.vehicle import Vehicle
from test_planning_support import BASE, at

TICK_S = 0.1
SFO = LatLon(37.6213, -122.3790)
CANBERRA = LatLon(-35.363261, 149.165230)


def route(far_home: LatLon, points: list[LatLon], alt: float = 30.0) -> list[MissionItem]:
    """home slot, take-off, waypoints, RTL: what QGroundControl writes for a simple route."""
    items = [MissionItem(0, 0, 16, lat=far_home.lat, lon=far_home.lon, alt=455.0),
             MissionItem(1, 3, 22, alt=alt)]
    items += [MissionItem(n, 3, 16, lat=p.lat, lon=p.lon, alt=alt)
              for n, p in enumerate(points, start=2)]
    return [*items, MissionItem(len(items), 3, 20)]


def test_transit_out_and_back_are_in_the_estimate() -> None:
    items = route(at(600, 0), [at(600, 0), at(700, 0)])
    got = fly(items, BASE, BASE, 455.0)
    assert got.transit_out_m == pytest.approx(600, abs=1)
    assert got.transit_back_m == pytest.approx(700, abs=1)
    assert got.distance_m == pytest.approx(1400, abs=2)
    assert got.path[0] == BASE and got.path[-1] == BASE
    a = Airframe()
    flying = 1400 / a.cruise_speed_mps
    # take-off to 30 m, both legs, RTL's loiter and the landing (the last 10 m at LAND_SPEED)
    slow = 30 / a.climb_speed_mps + a.rtl_loiter_s + 10 / a.land_speed_mps
    assert flying + slow < got.duration_s < flying + slow + 45
    # the same file judged from its own first waypoint (the old estimate) is far shorter
    own = fly(items, at(600, 0), at(600, 0), 455.0)
    assert own.distance_m == pytest.approx(200, abs=1)
    assert got.battery_used_pct > 2 * own.battery_used_pct
    assert got.duration_s - own.duration_s > 0.9 * 1200 / a.cruise_speed_mps  # the transits


def test_great_circle_distance_across_the_pacific() -> None:
    assert 12_100_000 < metres(CANBERRA, SFO) < 12_300_000  # about 12,190 km
    assert metres(BASE, at(1000, 0)) == pytest.approx(1000, rel=2e-3)  # two Earth radii


def test_absolute_frames_are_resolved_above_home() -> None:
    items = [MissionItem(0, 0, 16), MissionItem(1, 3, 22, alt=20.0),
             MissionItem(2, 2, 16, lat=at(100, 0).lat, lon=at(100, 0).lon, alt=495.0),
             MissionItem(3, 3, 20)]
    assert fly(items, BASE, BASE, 455.0).top_alt_m == pytest.approx(40.0)


def test_jumps_are_flown_their_repeat_count_and_endless_ones_refused() -> None:
    p = at(200, 0)
    items = [MissionItem(0, 0, 16), MissionItem(1, 3, 22, alt=30.0),
             MissionItem(2, 3, 16, lat=p.lat, lon=p.lon, alt=30.0),
             MissionItem(3, 3, 16, lat=BASE.lat, lon=BASE.lon, alt=30.0),
             MissionItem(4, 0, 177, 2.0, 3.0), MissionItem(5, 3, 20)]
    assert fly(items, BASE, BASE, 455.0).distance_m == pytest.approx(4 * 400, abs=4)
    forever = [*items[:4], MissionItem(4, 0, 177, 2.0, -1.0), items[5]]
    with pytest.raises(UnboundedRouteError, match="item 4: DO_JUMP repeats forever"):
        fly(forever, BASE, BASE, 455.0)
    unlimited = [*items[:2], MissionItem(2, 3, 17, lat=p.lat, lon=p.lon, alt=30.0)]
    with pytest.raises(UnboundedRouteError, match="item 2: NAV_LOITER_UNLIM"):
        fly(unlimited, BASE, BASE, 455.0)


def test_a_route_that_lands_away_has_no_return_leg() -> None:
    p = at(500, 0)
    items = [MissionItem(0, 0, 16), MissionItem(1, 3, 22, alt=30.0),
             MissionItem(2, 3, 21, lat=p.lat, lon=p.lon)]
    got = fly(items, BASE, BASE, 455.0)
    assert got.transit_back_m == 0.0 and not got.returns_home and not got.added_return
    open_end = fly(items[:2] + [MissionItem(2, 3, 16, lat=p.lat, lon=p.lon, alt=30.0)],
                   BASE, BASE, 455.0)
    assert open_end.added_return and open_end.transit_back_m == pytest.approx(500, abs=1)


def test_reach_is_out_and_back_on_the_usable_charge() -> None:
    a = Airframe()
    full = reach_m(a, 100.0, 25.0)
    assert full == pytest.approx(0.75 * 90 * 3600 / 380 * 10 / 2)
    assert reach_m(a, 20.0, 25.0) == 0.0


def flown_on_simulator(items: list[MissionItem], limit_s: float) -> float:
    """Vehicle seconds from AUTO to disarmed for `items` flown by the project's simulator."""
    v = Vehicle(0, 1, (BASE.lat, BASE.lon, 455.0, 0.0), ekf_delay=1.0)
    while not v.position_ok:
        v.step(TICK_S)
    assert v.set_mode(Mode.GUIDED) == mi.ACCEPTED and v.arm() == mi.ACCEPTED
    stored = [mi.Item(it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                      it.param2, it.param3, it.param4, round(it.lat * 1e7), round(it.lon * 1e7),
                      it.alt) for it in items]
    v.store_mission(mi.MISSION, stored)
    assert v.set_mode(Mode.AUTO) == mi.ACCEPTED
    v.runner.start_or_resume()
    start = v.time
    while v.armed and v.time - start < limit_s:
        v.step(TICK_S)
    assert not v.armed, "the vehicle should have landed and disarmed"
    return v.time - start


def test_simulator_flies_the_transit_in_about_the_estimated_time() -> None:
    """The file's route starts 800 m from the drone; the flown time (vehicle clock) matches the
    estimate with its transit legs within the planner's tolerance, and not the estimate
    without them."""
    items = route(at(800, 0), [at(800, 0), at(850, 50), at(800, 100)])
    est = fly(items, BASE, BASE, 455.0)
    own = fly(items, at(800, 0), at(800, 0), 455.0)
    flown = flown_on_simulator(items, 3 * est.duration_s)
    print(f"estimate {est.duration_s:.0f} s (without transit {own.duration_s:.0f} s), "
          f"flown {flown:.0f} s")
    assert flown == pytest.approx(est.duration_s, rel=0.10)
    assert not 0.7 * own.duration_s < flown < 1.4 * own.duration_s


def test_simulator_flies_holds_circles_and_speed_changes_in_about_the_estimated_time() -> None:
    p, q = at(400, 0), at(400, 300)
    items = [MissionItem(0, 0, 16), MissionItem(1, 3, 22, alt=25.0),
             MissionItem(2, 2, 178, 1.0, 6.0, -1.0),  # DO_CHANGE_SPEED 6 m/s
             MissionItem(3, 3, 19, 20.0, lat=p.lat, lon=p.lon, alt=25.0),  # hold 20 s
             MissionItem(4, 3, 18, 1.0, 0.0, 40.0, lat=q.lat, lon=q.lon, alt=40.0),  # 1 turn
             MissionItem(5, 3, 20)]
    est = fly(items, BASE, BASE, 455.0)
    flown = flown_on_simulator(items, 3 * est.duration_s)
    print(f"holds/circle: estimate {est.duration_s:.0f} s, flown {flown:.0f} s")
    assert flown == pytest.approx(est.duration_s, rel=0.10)
