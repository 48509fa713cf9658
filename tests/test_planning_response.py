"""The `response` objective: severity-weighted time to eyes on, the planner's default.

Issue 12: with three drones at base and six incidents in a ring 250 m away, the old default
(`total_time`) put all six on one drone; the response objective must use the drones in parallel
and reach the most severe incident first.
"""

from __future__ import annotations

import math

import pytest

from mission.planning import (
    Drone,
    InvalidRequestError,
    Loiter,
    Objective,
    PlanRequest,
    PointTarget,
    Priority,
    SolverChoice,
    plan_patrol,
)
from mission.planning.model import DEFAULT_SEVERITY_WEIGHTS
from mission.planning.planner import routing_problem
from test_planning_support import BASE, FAST_S, at

# severities around the ring, clockwise from north; the 5 sits between two 1s
RING_SEVERITIES = (1, 5, 1, 3, 2, 4)


def ring_targets(radius_m: float = 250.0) -> tuple[PointTarget, ...]:
    out = []
    for i, sev in enumerate(RING_SEVERITIES):
        a = math.radians(60 * i)
        out.append(PointTarget(f"inc{i}-sev{sev}", at(radius_m * math.cos(a),
                                                       radius_m * math.sin(a)),
                               Priority.HIGH if sev >= 4 else Priority.NORMAL,
                               Loiter(20.0), severity=sev))
    return tuple(out)


def three_at_base() -> tuple[Drone, ...]:
    return tuple(Drone(f"d{i}", BASE, 95.0) for i in range(3))


def etas(plan: object) -> dict[str, float]:
    return {v.target_id: v.eta_s for r in plan.routes for v in r.visits}  # type: ignore[attr-defined]


@pytest.mark.parametrize("solver", [SolverChoice.AUTO, SolverChoice.GREEDY])
def test_default_objective_uses_drones_in_parallel_and_serves_the_most_severe_first(
        solver: SolverChoice) -> None:
    request = PlanRequest(three_at_base(), ring_targets(), solver=solver, time_limit_s=FAST_S)
    assert request.objective is Objective.RESPONSE
    plan = plan_patrol(request)
    assert plan.objective is Objective.RESPONSE
    assert not plan.dropped
    busy = [r for r in plan.routes if r.visits]
    assert len(busy) == 3, [len(r.visits) for r in plan.routes]
    eta = etas(plan)
    assert len(eta) == 6
    most_severe = "inc1-sev5"
    assert eta[most_severe] == min(eta.values())
    # each drone serves its most severe target first
    for r in busy:
        sevs = [int(v.target_id.rsplit("sev", 1)[1]) for v in r.visits]
        assert sevs[0] == max(sevs), sevs
    # the objective value reported is the weighted sum of the ETAs
    w = dict(zip(range(1, 6), DEFAULT_SEVERITY_WEIGHTS, strict=True))
    expected = sum(w[int(k.rsplit("sev", 1)[1])] * e for k, e in eta.items())
    assert plan.response_s == pytest.approx(expected)
    # ETAs are the route's arrival times: after take-off and the flight out, before the loiter
    for r in busy:
        first = r.visits[0]
        assert 0 < first.eta_s < r.duration_s
        for a, b in zip(r.visits, r.visits[1:], strict=False):
            assert b.eta_s >= a.departure_s >= a.eta_s + 20.0 - 1e-6


def test_response_beats_total_time_on_the_severe_incidents() -> None:
    """total_time stays selectable and gives the least flying; response the earliest eyes on."""
    targets = ring_targets()
    resp = plan_patrol(PlanRequest(three_at_base(), targets, time_limit_s=FAST_S))
    total = plan_patrol(PlanRequest(three_at_base(), targets, objective=Objective.TOTAL_TIME,
                                    time_limit_s=FAST_S))
    span = plan_patrol(PlanRequest(three_at_base(), targets, objective=Objective.MAKESPAN,
                                   time_limit_s=FAST_S))
    assert total.objective is Objective.TOTAL_TIME and span.objective is Objective.MAKESPAN
    assert total.total_time_s <= resp.total_time_s + 1e-6
    assert resp.response_s < total.response_s
    assert resp.response_s <= span.response_s + 1e-6
    assert max(etas(resp).values()) < max(etas(total).values())


def test_severity_weights_are_configurable() -> None:
    """With all weights equal, severity plays no part; with severity 1 weighted most, the
    severity-1 targets come first."""
    targets = ring_targets()
    one = PlanRequest((Drone("d0", BASE, 95.0),), targets, time_limit_s=FAST_S,
                      severity_weights=(1000, 1, 1, 1, 1))
    eta = etas(plan_patrol(one))
    sev1 = [e for k, e in eta.items() if k.endswith("sev1")]
    others = [e for k, e in eta.items() if not k.endswith("sev1")]
    assert max(sev1) < min(others)
    with pytest.raises(InvalidRequestError, match="severity weights"):
        plan_patrol(PlanRequest(three_at_base(), targets, severity_weights=(1, 2, 3)))
    with pytest.raises(InvalidRequestError, match="severity 7"):
        plan_patrol(PlanRequest(three_at_base(), (PointTarget("x", at(10, 10), severity=7),)))


def test_objective_value_by_hand() -> None:
    """RoutingProblem.objective_value and score: arrivals summed from the start arc, weighted."""
    targets = (PointTarget("a", at(100, 0), severity=5), PointTarget("b", at(200, 0), severity=1))
    p = routing_problem(PlanRequest((Drone("d0", BASE, 95.0),), targets))
    tm = p.time[0]
    s = p.start(0)
    assert p.weights == (16, 1)
    assert p.arrivals(0, [0, 1]) == [tm[s][0], tm[s][0] + tm[0][1]]
    ab = 16 * tm[s][0] + 1 * (tm[s][0] + tm[0][1])
    ba = 1 * tm[s][1] + 16 * (tm[s][1] + tm[1][0])
    assert p.objective_value([[0, 1]]) == ab
    assert p.objective_value([[1, 0]]) == ba
    assert ab < ba
    assert p.score([[0, 1]]) == (0, ab, p.route_time(0, [0, 1]))
    # a dropped target counts first, whatever the arrival times
    assert p.score([[0]]) > p.score([[1, 0]])
    # the other objectives' values
    total = routing_problem(PlanRequest((Drone("d0", BASE, 95.0),), targets,
                                        objective=Objective.TOTAL_TIME))
    assert total.objective_value([[0, 1]]) == total.route_time(0, [0, 1])
