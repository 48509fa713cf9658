"""Fleet routing: splitting work, battery reserve, priorities, objective, solver fallback."""

from __future__ import annotations

import itertools
import random
import sys

import pytest

from mission.planning import (
    Drone,
    DropReason,
    Objective,
    PlanningError,
    PlanRequest,
    PointTarget,
    Priority,
    SolverChoice,
    plan_patrol,
    planner,
)
from mission.planning import routing as ortools_routing
from mission.planning.planner import routing_problem
from mission.planning.problem import RoutingProblem
from test_planning_support import BASE, FAST_S, at, metres, served


def fleet(n: int, battery: float = 95.0) -> tuple[Drone, ...]:
    return tuple(Drone(f"d{i}", at(0, 5 * i), battery) for i in range(n))


def test_work_is_split_between_drones_and_every_target_served_once() -> None:
    clusters = [(1500, 0), (-1500, 0), (0, 1500)]
    targets = tuple(PointTarget(f"c{c}-{j}", at(n + 60 * j, e - 60 * j))
                    for c, (n, e) in enumerate(clusters) for j in range(3))
    plan = plan_patrol(PlanRequest(fleet(3), targets, objective=Objective.MAKESPAN,
                                   time_limit_s=FAST_S))
    names = served(plan)
    assert sorted(names) == sorted(t.id for t in targets)
    assert not plan.dropped
    busy = [r for r in plan.routes if r.visits]
    assert len(busy) == 3
    for r in busy:  # each drone takes one cluster, not a tour through all three
        assert len({v.target_id.split("-")[0] for v in r.visits}) == 1
    assert plan.makespan_s == pytest.approx(max(r.duration_s for r in plan.routes))


def test_battery_reserve_drops_low_priority_with_reasons_and_keeps_high() -> None:
    drone = Drone("d0", BASE, battery_pct=60.0)
    targets = (
        PointTarget("high-n", at(900, 0), Priority.HIGH),
        PointTarget("low-e", at(0, 900), Priority.LOW),
        PointTarget("low-s", at(-900, 0), Priority.LOW),
        PointTarget("low-w", at(0, -900), Priority.LOW),
        PointTarget("low-far", at(0, 9000), Priority.LOW),
    )
    plan = plan_patrol(PlanRequest((drone,), targets, battery_reserve_pct=25.0,
                                   time_limit_s=FAST_S))
    assert "high-n" in served(plan)
    dropped = {d.target_id: d for d in plan.dropped}
    assert set(dropped) | set(served(plan)) == {t.id for t in targets}
    assert "low-far" in dropped and dropped["low-far"].reason is DropReason.OUT_OF_RANGE
    assert "d0" in dropped["low-far"].detail and "25% reserve" in dropped["low-far"].detail
    near_dropped = [d for tid, d in dropped.items() if tid != "low-far"]
    assert near_dropped, "a 60% battery cannot fly four 1.8 km round trips"
    assert all(d.reason is DropReason.BATTERY and d.priority is Priority.LOW
               for d in near_dropped)
    route = plan.route("d0")
    assert route.battery_end_pct >= 25.0
    assert route.battery_used_pct == pytest.approx(60.0 - route.battery_end_pct)


def test_high_priority_beats_many_cheap_low_priority_targets() -> None:
    # The HIGH target fits the battery only when flown alone; the LOW ones are close and many.
    drone = Drone("d0", BASE, battery_pct=55.0)
    lows = tuple(PointTarget(f"low{j}", at(-300, -200 + 100 * j), Priority.LOW) for j in range(5))
    high = PointTarget("high", at(780, 0), Priority.HIGH)
    for solver in (SolverChoice.ORTOOLS, SolverChoice.GREEDY):
        plan = plan_patrol(PlanRequest((drone,), (*lows, high), solver=solver,
                                       time_limit_s=FAST_S))
        assert "high" in served(plan), solver
        assert served(plan) == ["high"], solver
        assert {d.reason for d in plan.dropped} == {DropReason.BATTERY}
        assert plan.route("d0").battery_end_pct >= 25.0
    # Farther away it cannot be flown even alone: then it is dropped, as out of range.
    far = PointTarget("high", at(1100, 0), Priority.HIGH)
    plan = plan_patrol(PlanRequest((drone,), (*lows, far), time_limit_s=FAST_S))
    assert [(d.target_id, d.reason) for d in plan.dropped] == [("high", DropReason.OUT_OF_RANGE)]


def _max_high_served(p: RoutingProblem) -> int:
    """Brute force: the most HIGH targets any assignment and order can serve."""
    highs = [t for t, pr in enumerate(p.priorities) if pr == Priority.HIGH]
    fits: dict[tuple[int, frozenset[int]], bool] = {}
    for k in range(p.n_vehicles):
        for size in range(len(highs) + 1):
            for sub in itertools.combinations(highs, size):
                fits[k, frozenset(sub)] = any(
                    p.feasible(k, perm) for perm in itertools.permutations(sub))
    best = 0
    for owner in itertools.product(range(-1, p.n_vehicles), repeat=len(highs)):
        groups = [frozenset(h for h, o in zip(highs, owner, strict=True) if o == k)
                  for k in range(p.n_vehicles)]
        if all(fits[k, g] for k, g in enumerate(groups)):
            best = max(best, sum(len(g) for g in groups))
    return best


# Seeds 1, 45, 67 once stalled OR-Tools and 20, 34, 67 the greedy repair below the optimum.
@pytest.mark.parametrize("solver", [SolverChoice.ORTOOLS, SolverChoice.GREEDY])
@pytest.mark.parametrize("seed", [0, 1, 3, 20, 34, 45, 67, 68])
def test_high_priority_never_dropped_while_some_plan_can_fly_it(
    seed: int, solver: SolverChoice
) -> None:
    rng = random.Random(seed)
    drones = (Drone("a", BASE, rng.uniform(55, 80)), Drone("b", at(0, 400), rng.uniform(55, 80)))
    targets = tuple(
        PointTarget(f"t{j}", at(rng.uniform(-1600, 1600), rng.uniform(-1600, 1600)),
                    Priority.HIGH if j < 5 else Priority.LOW)
        for j in range(8)
    )
    request = PlanRequest(drones, targets, time_limit_s=0.1, solver=solver)
    best = _max_high_served(routing_problem(request))
    assert best >= 1
    plan = plan_patrol(request)
    highs_served = sum(1 for v in served(plan) if int(v[1:]) < 5)
    assert highs_served == best
    for d in plan.dropped:
        if d.priority is Priority.HIGH:
            assert d.reason in (DropReason.BATTERY, DropReason.OUT_OF_RANGE)


def test_objective_changes_the_makespan() -> None:
    # One drone flying north then south costs less in total than two drones each flying one
    # out-and-back (two extra climbs and descents), but finishes much later.
    targets = (PointTarget("n", at(1000, 0)), PointTarget("s", at(-1000, 0)))
    total = plan_patrol(PlanRequest(fleet(2), targets, objective=Objective.TOTAL_TIME,
                                    time_limit_s=FAST_S))
    span = plan_patrol(PlanRequest(fleet(2), targets, objective=Objective.MAKESPAN,
                                   time_limit_s=FAST_S))
    assert sum(1 for r in total.routes if r.visits) == 1
    assert sum(1 for r in span.routes if r.visits) == 2
    assert span.makespan_s < 0.7 * total.makespan_s
    assert total.total_time_s < span.total_time_s


def _check_valid(plan_targets: set[str], plan_served: list[str], reserve: float,
                 ends: list[float]) -> None:
    assert sorted(plan_served) == sorted(plan_targets)
    assert all(e >= reserve for e in ends)


def test_greedy_fallback_when_ortools_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ortools.constraint_solver", None)
    monkeypatch.setattr(planner, "SMALL_TARGETS", 0)  # AUTO uses OR-Tools beyond small ones
    targets = tuple(PointTarget(f"t{j}", at(400 * (j % 3) - 400, 500 * (j // 3) - 500))
                    for j in range(6))
    plan = plan_patrol(PlanRequest(fleet(2), targets, time_limit_s=FAST_S))
    assert plan.solver is SolverChoice.GREEDY
    assert any("not installed" in w for w in plan.warnings)
    _check_valid({t.id for t in targets}, served(plan), 25.0,
                 [r.battery_end_pct for r in plan.routes])
    with pytest.raises(PlanningError, match="not installed"):
        plan_patrol(PlanRequest(fleet(2), targets, solver=SolverChoice.ORTOOLS))


def test_greedy_fallback_when_ortools_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ortools_routing, "solve_ortools", lambda p, limit, initial: None)
    monkeypatch.setattr(planner, "SMALL_TARGETS", 0)
    drone = Drone("d0", BASE, battery_pct=60.0)
    targets = (PointTarget("high", at(900, 0), Priority.HIGH),
               *(PointTarget(f"low{j}", at(0, 700 + 50 * j), Priority.LOW) for j in range(4)),
               PointTarget("low-far", at(-700, 0), Priority.LOW))
    plan = plan_patrol(PlanRequest((drone,), targets, time_limit_s=FAST_S))
    assert plan.solver is SolverChoice.GREEDY
    assert any("no solution" in w for w in plan.warnings)
    assert "high" in served(plan)
    assert plan.dropped and all(d.priority is Priority.LOW for d in plan.dropped)
    assert set(served(plan)) | {d.target_id for d in plan.dropped} == {t.id for t in targets}
    assert plan.route("d0").battery_end_pct >= 25.0


def test_drone_below_reserve_is_not_tasked_and_airborne_drone_flies_home() -> None:
    drones = (
        Drone("flat", BASE, battery_pct=20.0),
        Drone("up", at(0, 10), battery_pct=80.0, position=at(800, 800), airborne=True),
    )
    plan = plan_patrol(PlanRequest(drones, (PointTarget("t", at(900, 700)),),
                                   time_limit_s=FAST_S))
    assert plan.route("flat").idle and not plan.route("flat").items
    assert any("'flat'" in w and "reserve" in w for w in plan.warnings)
    up = plan.route("up")
    assert [v.target_id for v in up.visits] == ["t"]
    assert 22 not in [it.command for it in up.items]  # already flying: no NAV_TAKEOFF
    assert up.items[-1].command == 20  # NAV_RETURN_TO_LAUNCH
    assert metres(up.path[0], at(800, 800)) < 0.05 and metres(up.path[-1], at(0, 10)) < 0.05
    assert (up.items[0].lat, up.items[0].lon) == (round(at(0, 10).lat, 7), round(at(0, 10).lon, 7))
