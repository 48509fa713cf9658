"""Insertion heuristics: the construction used when OR-Tools is missing or finds nothing, and a
priority repair run after either solver.

The repair inserts dropped targets highest priority first, evicting strictly lower-priority
targets, or trading places with a same-priority target that fits elsewhere, when that makes room.
It is a heuristic; exact.py settles the top priority level when it holds few targets.
"""

from __future__ import annotations

from collections.abc import Sequence

from mission.planning.model import Objective
from mission.planning.problem import RoutingProblem

Routes = list[list[int]]


def _times(p: RoutingProblem, routes: Routes) -> list[int]:
    return [p.route_time(k, r) for k, r in enumerate(routes)]


def _insertion(
    p: RoutingProblem, k: int, route: Sequence[int], t: int, others: int
) -> tuple[tuple[int, ...], int] | None:
    """Best feasible (cost key, position) for putting t into `route` of vehicle k.

    `others` is the longest route time among the other vehicles (for the makespan objective).
    """
    tm, em = p.time[k], p.energy[k]
    nodes = [p.start(k), *route, p.end(k)]
    base_e = p.route_energy(k, route)
    base_t = p.route_time(k, route)
    cap = p.vehicles[k].capacity_j
    response = p.objective is Objective.RESPONSE
    if response:
        # arrival at nodes[pos] and the weight of everything after it (delayed by an insertion)
        arrive = [0, *p.arrivals(k, route)]
        after = [0] * (len(route) + 1)
        for i in range(len(route) - 1, -1, -1):
            after[i] = after[i + 1] + p.weight(route[i])
    best: tuple[tuple[int, ...], int] | None = None
    for pos in range(len(nodes) - 1):
        a, b = nodes[pos], nodes[pos + 1]
        de = em[a][t] + em[t][b] - em[a][b]
        if base_e + de > cap:
            continue
        dt = tm[a][t] + tm[t][b] - tm[a][b]
        if p.objective is Objective.MAKESPAN:
            key: tuple[int, ...] = (max(others, base_t + dt), dt)
        elif response:
            own = p.weight(t) * (arrive[pos] + tm[a][t])
            key = (own + dt * after[pos], dt)
        else:
            key = (dt,)
        if best is None or key < best[0]:
            best = (key, pos)
    return best


def _others(times: list[int], k: int) -> int:
    return max((x for j, x in enumerate(times) if j != k), default=0)


Insertion = tuple[tuple[int, ...], int, int]  # (cost key, vehicle, position)


def _best_insert(p: RoutingProblem, routes: Routes, t: int) -> Insertion | None:
    times = _times(p, routes)
    best: Insertion | None = None
    for k, r in enumerate(routes):
        ins = _insertion(p, k, r, t, _others(times, k))
        if ins is not None and (best is None or ins[0] < best[0]):
            best = (ins[0], k, ins[1])
    return best


def _construct(p: RoutingProblem, regret: bool) -> Routes:
    """Highest priority first; within a priority, insert one target at a time: the cheapest, or
    (regret) the one that would lose most by not getting its best vehicle."""
    routes: Routes = [[] for _ in p.vehicles]
    for level in sorted(set(p.priorities), reverse=True):
        pending = [t for t, pr in enumerate(p.priorities) if pr == level]
        while pending:
            times = _times(p, routes)
            choice: tuple[tuple[float, ...], int, int, int] | None = None
            for t in pending:
                options = []
                for k, r in enumerate(routes):
                    ins = _insertion(p, k, r, t, _others(times, k))
                    if ins is not None:
                        options.append((ins[0], k, ins[1]))
                if not options:
                    continue
                options.sort()
                key: tuple[float, ...] = tuple(float(x) for x in options[0][0])
                if regret:
                    gap = (options[1][0][0] - options[0][0][0]) if len(options) > 1 else 1e18
                    key = (-gap, *key)
                if choice is None or key < choice[0]:
                    choice = (key, options[0][1], options[0][2], t)
            if choice is None:
                break  # nothing left at this level fits anywhere
            _, k, pos, t = choice
            routes[k].insert(pos, t)
            pending.remove(t)
    return routes


def solve_greedy(p: RoutingProblem) -> Routes:
    """The better of cheapest insertion and regret insertion, each followed by the repair."""
    candidates = [repair(p, _construct(p, regret)) for regret in (False, True)]
    return min(candidates, key=p.score)


def _evict_to_fit(
    p: RoutingProblem, routes: Routes, k: int, t: int
) -> tuple[list[int], list[int]] | None:
    """Route k with t inserted after removing as few low-priority targets as needed."""
    trial = list(routes[k])
    evicted: list[int] = []
    prio = p.priorities
    others = _others(_times(p, routes), k)
    while True:
        ins = _insertion(p, k, trial, t, others)
        if ins is not None:
            trial.insert(ins[1], t)
            return trial, evicted
        lower = [x for x in trial if prio[x] < prio[t]]
        if not lower:
            return None

        def saving(x: int, trial: list[int] = trial) -> int:
            return p.route_energy(k, trial) - p.route_energy(k, [y for y in trial if y != x])

        victim = min(lower, key=lambda x: (prio[x], -saving(x)))
        trial.remove(victim)
        evicted.append(victim)


def _place(p: RoutingProblem, routes: Routes, t: int) -> bool:
    """Insert t, evicting strictly lower-priority targets if needed (they count as dropped)."""
    ins = _best_insert(p, routes, t)
    if ins is not None:
        routes[ins[1]].insert(ins[2], t)
        return True
    levels = sorted(set(p.priorities), reverse=True)
    options = []
    for k in range(len(routes)):
        fit = _evict_to_fit(p, routes, k, t)
        if fit is not None:
            lost = tuple(sum(1 for x in fit[1] if p.priorities[x] == lv) for lv in levels)
            options.append((lost, k, fit[0]))
    if not options:
        return False
    _, k, new_route = min(options, key=lambda o: (o[0], o[1]))
    routes[k] = new_route
    return True


def _swap_in(p: RoutingProblem, routes: Routes, t: int) -> bool:
    """Serve t in place of a same-priority target x that then finds room in another route."""
    for k, route in enumerate(routes):
        for x in [x for x in route if p.priorities[x] == p.priorities[t]]:
            trial = [list(r) for r in routes]
            trial[k].remove(x)
            if _place(p, trial, t) and _place(p, trial, x):
                routes[:] = trial
                return True
    return False


def repair(p: RoutingProblem, routes: Routes) -> Routes:
    """Insert dropped targets, highest priority first, evicting lower priorities when needed
    and trading places with a same-priority target that fits elsewhere."""
    routes = [list(r) for r in routes]
    for level in sorted(set(p.priorities), reverse=True):
        served = {t for r in routes for t in r}
        for t in [t for t, pr in enumerate(p.priorities) if pr == level and t not in served]:
            if not _place(p, routes, t):
                _swap_in(p, routes, t)
    return routes
