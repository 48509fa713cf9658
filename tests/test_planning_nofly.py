"""No-fly zones: every leg avoids them, distances are the detoured ones, unreachable targets fail
with an error naming them."""

from __future__ import annotations

import pytest

from mission.planning import (
    Drone,
    InvalidRequestError,
    NoFlyZone,
    Objective,
    Orbit,
    PlanRequest,
    PointTarget,
    UnreachableTargetError,
    plan_patrol,
)
from mission.planning.geometry import LocalFrame
from mission.planning.nofly import NoFlyRouter
from mission.planning.planner import routing_problem
from test_planning_support import BASE, FAST_S, assert_clear_of, at, legs, metres, rect, served

WALL = NoFlyZone("stadium", rect(300, -600, 500, 600))
POND = NoFlyZone("prison", rect(-200, 700, 200, 900))


def test_no_leg_crosses_a_no_fly_zone() -> None:
    drones = (Drone("d0", BASE, 95.0), Drone("d1", at(0, 20), 95.0))
    targets = (PointTarget("behind-wall", at(900, 0)),
               PointTarget("behind-wall-2", at(800, 300)),
               PointTarget("east", at(0, 1200)),
               PointTarget("orbit", at(-300, 1200), pattern=Orbit(40)))
    zones = (WALL, POND)
    plan = plan_patrol(PlanRequest(drones, targets, zones, objective=Objective.MAKESPAN,
                                   time_limit_s=FAST_S))
    assert sorted(served(plan)) == sorted(t.id for t in targets)
    assert_clear_of(plan, zones)
    # The detour is real: a drone reaching "behind-wall" flies well beyond the straight 1.8 km.
    r = next(r for r in plan.routes if "behind-wall" in [v.target_id for v in r.visits])
    assert len(legs(r)) > 2 + len(r.visits)
    assert r.distance_m > 2 * 900 + 200


def test_routing_distances_are_the_detoured_ones() -> None:
    frame = LocalFrame(BASE.lat, BASE.lon)
    router = NoFlyRouter([("wall", frame.polygon(WALL.polygon, "wall"))], clearance_m=15.0)
    a, b = frame.xy(BASE), frame.xy(at(900, 0))
    path = router.path(a, b)
    assert path is not None and len(path) > 2
    detour = sum(metres(frame.latlon(p), frame.latlon(q))
                 for p, q in zip(path, path[1:], strict=False))
    # Around the 1.2 km wide wall: at least to its corner and back, i.e. 2 * hypot(600, 400+).
    assert detour > 2 * (600**2 + 400**2) ** 0.5
    matrix = router.paths([a, b])
    assert matrix[0][1] == path and matrix[1][0] is not None
    assert router.clear(a, frame.xy(at(0, 900)))
    # The routing matrix prices the detour, not the straight 900 m.
    problem = routing_problem(PlanRequest((Drone("d0", BASE, 90.0),),
                                          (PointTarget("t", at(900, 0)),), (WALL,)))
    start, end = problem.start(0), problem.end(0)
    cruise_s = (problem.time[0][start][0] + problem.time[0][0][end]) / 10
    assert cruise_s > 2 * detour / 10.0  # out and back at 10 m/s, plus climb and descent


def test_target_inside_a_no_fly_zone_is_refused_by_name() -> None:
    request = PlanRequest((Drone("d0", BASE, 90.0),), (PointTarget("fire-7", at(400, 0)),),
                          (WALL,), time_limit_s=FAST_S)
    with pytest.raises(UnreachableTargetError, match="'fire-7'.*'stadium'") as err:
        plan_patrol(request)
    assert err.value.target_id == "fire-7"


def test_enclosed_target_is_refused_by_name() -> None:
    ring = (NoFlyZone("n", rect(1000, 900, 1100, 1500)), NoFlyZone("s", rect(500, 900, 600, 1500)),
            NoFlyZone("w", rect(500, 900, 1100, 1000)), NoFlyZone("e", rect(500, 1400, 1100, 1500)))
    request = PlanRequest((Drone("d0", BASE, 90.0),),
                          (PointTarget("ok", at(0, 500)), PointTarget("walled-in", at(800, 1200))),
                          ring, time_limit_s=FAST_S)
    with pytest.raises(UnreachableTargetError, match="'walled-in'.*enclosed"):
        plan_patrol(request)


def test_orbit_crossing_a_zone_and_drone_inside_a_zone_are_refused() -> None:
    with pytest.raises(UnreachableTargetError, match="'overwatch'.*orbit.*'stadium'"):
        plan_patrol(PlanRequest((Drone("d0", BASE, 90.0),),
                                (PointTarget("overwatch", at(250, 0), pattern=Orbit(80)),),
                                (WALL,)))
    with pytest.raises(InvalidRequestError, match="'d9'.*'stadium'"):
        plan_patrol(PlanRequest((Drone("d9", at(400, 0), 90.0),), (), (WALL,)))
