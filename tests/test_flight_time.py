"""The flight-time model (mission/planning/flight_time.py) against a real ArduCopter.

The fit: the real patrol of shared/traces/arducopter-patrol-adsb (take-off to 40 m, a 250 m
hexagon with loiters, RTL) rebuilt as mission items and estimated by the planner's model with
the parameter values the vehicle reported; every item's predicted time must be within 10 % of
the recorded one (issue 12). The unit tests pin the model's pieces to ArduCopter's formulas.
"""

from __future__ import annotations

import math

import pytest

import patrol_trace as pt
from mission.planning.flight_time import (
    Track,
    corner_speed,
    landing_time,
    speed_change_time,
    straight_time,
    takeoff_time,
)
from mission.planning.flown_route import fly
from mission.planning.model import Airframe, LatLon, MissionItem

TOLERANCE = 0.10
_MISSING = pt.missing_reason()


def patrol_items(p: pt.Patrol) -> list[MissionItem]:
    items = [MissionItem(0, 0, 16, lat=p.home_lat, lon=p.home_lon, alt=p.home_amsl_m)]
    for it in p.items:
        lat, lon = pt.latlon(p, it)
        frame = 2 if it.command == 20 else 3
        items.append(MissionItem(it.seq, frame, it.command, it.param1, lat=lat, lon=lon,
                                 alt=it.alt_m))
    return items


@pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")
def test_model_fits_the_real_patrol_within_10_percent_per_leg() -> None:
    p = pt.patrol()
    a = Airframe.from_ardupilot(p.params)
    assert (a.cruise_speed_mps, a.accel_mps2, a.climb_speed_mps, a.descent_speed_mps,
            a.land_speed_mps, a.land_alt_low_m, a.rtl_alt_m, a.rtl_loiter_s) == (
        10.0, 2.5, 2.5, 1.5, 0.5, 10.0, 15.0, 5.0)
    home = LatLon(p.home_lat, p.home_lon)
    route = fly(patrol_items(p), home, home, p.home_amsl_m, a)
    predicted = dict(route.item_times)
    assert list(predicted) == [it.seq for it in p.items]
    before = 0.0
    rows = []
    for it in p.items:
        leg = predicted[it.seq] - before
        before = predicted[it.seq]
        rows.append((it.seq, it.command, it.seconds, leg, leg / it.seconds - 1))
    print("\nseq cmd recorded_s predicted_s error")
    for seq, cmd, rec, pred, err in rows:
        print(f"{seq:3d} {cmd:3d} {rec:10.1f} {pred:11.1f} {err:+6.1%}")
    total = p.items[-1].reached_vt - p.items[0].started_vt
    print(f"total {total:.1f} s recorded, {route.duration_s:.1f} s predicted")
    bad = [r for r in rows if abs(r[4]) > TOLERANCE]
    assert not bad, f"legs off by more than 10 %: {bad}"
    assert route.duration_s == pytest.approx(total, rel=0.05)


def test_straight_legs_are_s_curves() -> None:
    a = Airframe()
    # stop to stop: d/v + v/a + a/j when long enough to reach the speed
    assert straight_time(250, 0, 0, 10, 2.5, 1.0) == pytest.approx(25 + 4 + 2.5)
    # flying in and out at full speed costs only the distance
    assert straight_time(250, 10, 10, 10, 2.5, 1.0) == pytest.approx(25)
    # a short hop never reaches cruise speed, and is still longer than at a constant top speed
    short = straight_time(20, 0, 0, 10, 2.5, 1.0)
    assert 20 / 10 < short < 2 * speed_change_time(10, 2.5, 1.0)
    # a leg is monotonic in its distance
    ts = [straight_time(d, 0, 0, 10, 2.5, 1.0) for d in (1, 5, 20, 50, 65, 100)]
    assert ts == sorted(ts)
    assert speed_change_time(2, 2.5, 1.0) == pytest.approx(2 * math.sqrt(2))
    # corners: straight on at full speed, a U-turn stops, the trace's 60 degrees ~4.5 m/s
    assert corner_speed(10, 0) == 10 and corner_speed(10, math.pi) == 0
    assert corner_speed(10, math.radians(60)) == pytest.approx(4.44, abs=0.01)
    # take-off and landing from 40 m as the trace flew them (22.2 s; 43.0 s descent to disarm)
    assert takeoff_time(a, 40) == pytest.approx(22.2, rel=0.03)
    assert landing_time(a, 40) == pytest.approx(43.0, rel=0.03)
    # below LAND_ALT_LOW the whole descent is at LAND_SPEED
    assert landing_time(a, 5) == pytest.approx(5 / 0.5 + a.touchdown_s)


def test_track_corners_and_stops() -> None:
    a = Airframe()
    square = [(0.0, 0.0), (0.0, 200.0), (200.0, 200.0)]
    through = Track(a)
    through.path(square, stop_at_end=True)
    stopping = Track(a)
    stopping.path(square[:2], stop_at_end=True)
    stopping.path(square[1:], stop_at_end=True)
    # a 90 degree corner flown through is quicker than stopping there, slower than no corner
    straight = Track(a)
    straight.path([(0.0, 0.0), (0.0, 400.0)], stop_at_end=True)
    assert straight.duration_s < through.duration_s < stopping.duration_s
    assert through.times()[1] < stopping.times()[1]
    # energy: cruise power while flying, hover power while still
    hold = Track(a)
    hold.still(10)
    assert hold.energy_j() == pytest.approx(10 * a.hover_power_w)
    # RTL from below RTL_ALT climbs first
    low, high = Track(a), Track(a)
    low.rtl(100, 0.0, 5.0)
    high.rtl(100, 0.0, 40.0)
    assert low.duration_s < high.duration_s  # less to descend ...
    climb = Track(a)
    climb.climb(a.rtl_alt_m - 5.0)
    assert low.duration_s > climb.duration_s + landing_time(a, a.rtl_alt_m)  # ... after a climb


def test_an_airframe_that_cannot_move_is_refused() -> None:
    from mission.planning import Drone, InvalidRequestError, PlanRequest, PointTarget, plan_patrol

    here = LatLon(41.3, 69.2)
    for bad in ({"jerk_mps3": 0.0}, {"accel_mps2": -1.0}, {"land_speed_mps": 0.0},
                {"rtl_loiter_s": -5.0}):
        drone = Drone("d0", here, 90.0, airframe=Airframe(**bad))
        with pytest.raises(InvalidRequestError, match="airframe"):
            plan_patrol(PlanRequest((drone,), (PointTarget("t", LatLon(41.301, 69.2)),)))
