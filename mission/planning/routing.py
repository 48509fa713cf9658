"""OR-Tools vehicle routing: prize-collecting VRP with a battery-energy capacity per drone.

Dropping a target costs a penalty larger than any route cost, scaled so dropping one target of a
priority costs more than dropping every target of all lower priorities together: the solver first
serves as much high-priority work as the batteries allow, then optimises the flying time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mission.planning.model import Objective
from mission.planning.problem import TIME_UNITS_PER_S, RoutingProblem

# Weight of the makespan against the summed flight time when minimising the makespan.
SPAN_COST_COEFFICIENT = 100
# The search stops once it has found nothing better for FLAT_S and for FLAT_SHARE of the time
# spent so far (OR-Tools' own improvement limit never stopped guided local search here).
FLAT_S = 0.3
FLAT_SHARE = 0.5
# Weight of each (severity-weighted) arrival time against the summed flight time for `response`:
# the flight time only breaks ties and guides the first solution.
ARRIVAL_COST_COEFFICIENT = 10


def penalties(p: RoutingProblem) -> list[int]:
    """Disjunction penalty per target, lexicographic over priorities."""
    bound = 0
    longest = 0
    for k, v in enumerate(p.vehicles):
        a = v.drone.airframe
        min_power = min(a.cruise_power_w, a.hover_power_w, a.climb_power_w)
        # Energy caps flight time, so it bounds any route's time (in matrix units).
        route_bound = int(v.capacity_j / min_power * TIME_UNITS_PER_S) + p.route_time(k, [])
        bound += route_bound
        longest = max(longest, route_bound)
    bound += SPAN_COST_COEFFICIENT * longest + 1
    if p.objective is Objective.RESPONSE:
        bound += ARRIVAL_COST_COEFFICIENT * sum(p.weight(t) for t in range(p.n_targets)) * longest
    level_penalty: dict[int, int] = {}
    weight = bound
    for level in sorted(set(p.priorities)):
        level_penalty[level] = weight
        weight *= p.priorities.count(level) + 1
    return [level_penalty[pr] for pr in p.priorities]


def solve_ortools(p: RoutingProblem, time_limit_s: float,
                  initial: list[list[int]] | None = None,
                  stop_when_flat: bool = True) -> list[list[int]] | None:
    """Routes (target nodes per vehicle) or None when the search found no solution.

    `initial` (routes every battery can fly) starts the search from that solution instead of
    building a first one, so the answer is never worse than it. With `stop_when_flat` the search
    ends before `time_limit_s` once it stops improving (OR-Tools' improvement limit).

    Raises ImportError when OR-Tools is not installed.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n_t, n_v = p.n_targets, p.n_vehicles
    if n_v == 0:
        return None
    manager = pywrapcp.RoutingIndexManager(
        n_t + 2 * n_v, n_v, [p.start(k) for k in range(n_v)], [p.end(k) for k in range(n_v)]
    )
    model = pywrapcp.RoutingModel(manager)
    time_cb = [model.RegisterTransitMatrix(_rows(p.time[k])) for k in range(n_v)]
    energy_cb = [model.RegisterTransitMatrix(_rows(p.energy[k])) for k in range(n_v)]
    for k in range(n_v):
        model.SetArcCostEvaluatorOfVehicle(time_cb[k], k)
    horizon = max(p.route_time(k, range(n_t)) for k in range(n_v)) + 1
    model.AddDimensionWithVehicleTransits(time_cb, 0, horizon, True, "time")
    model.AddDimensionWithVehicleTransitAndCapacity(
        energy_cb, 0, [v.capacity_j for v in p.vehicles], True, "energy"
    )
    time_dim = model.GetDimensionOrDie("time")
    if p.objective is Objective.MAKESPAN:
        time_dim.SetGlobalSpanCostCoefficient(SPAN_COST_COEFFICIENT)
    elif p.objective is Objective.RESPONSE:
        # cost weight * arrival: a soft upper bound of 0 on the arrival time at each target
        for t in range(n_t):
            w = p.weight(t) * ARRIVAL_COST_COEFFICIENT
            if w:
                time_dim.SetCumulVarSoftUpperBound(manager.NodeToIndex(t), 0, w)
    for t, penalty in enumerate(penalties(p)):
        model.AddDisjunction([manager.NodeToIndex(t)], penalty)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    if stop_when_flat:
        _stop_when_flat(model)
    solution = None
    if initial is not None:
        model.CloseModelWithParameters(params)
        start = model.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(t) for t in r] for r in initial], True)
        if start is not None:
            solution = model.SolveFromAssignmentWithParameters(start, params)
    if solution is None:
        solution = model.SolveWithParameters(params)
    if solution is None:
        return None
    routes: list[list[int]] = []
    for k in range(n_v):
        route: list[int] = []
        index = solution.Value(model.NextVar(model.Start(k)))
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(model.NextVar(index))
        routes.append(route)
    return routes


def _stop_when_flat(model: Any) -> None:
    """Finish the search when it stops improving (see FLAT_S)."""
    begun = time.perf_counter()
    best = [float("inf"), begun]

    def check() -> None:
        now = time.perf_counter()
        cost = model.CostVar().Max()
        if cost < best[0]:
            best[0], best[1] = cost, now
        elif now - best[1] > max(FLAT_S, FLAT_SHARE * (now - begun)):
            model.solver().FinishCurrentSearch()

    model.AddAtSolutionCallback(check)


def _rows(m: Sequence[Sequence[int]]) -> list[list[int]]:
    return [list(r) for r in m]
