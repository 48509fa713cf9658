"""Insertion heuristics: the construction used when OR-Tools is missing or finds nothing, and a
priority repair run after either solver.

The repair inserts dropped targets highest priority first, evicting strictly lower-priority
targets, or trading places with a same-priority target that fits elsewhere, when that makes room.
It is a heuristic; exact.py settles the top priority level when it holds few targets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

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


_BIG = np.int64(2**62)


class _Arrays:
    """The problem's matrices as numpy arrays, to price inserting many targets into one route
    at every position at once (the same keys as _insertion with others = 0)."""

    def __init__(self, p: RoutingProblem) -> None:
        self.p = p
        self.time = [np.asarray(m, dtype=np.int64) for m in p.time]
        self.energy = [np.asarray(m, dtype=np.int64) for m in p.energy]
        self.weights = np.asarray([p.weight(t) for t in range(p.n_targets)], dtype=np.int64)

    def insertions(self, k: int, route: Sequence[int], targets: Sequence[int]
                   ) -> list[tuple[tuple[int, ...], int] | None]:
        if not targets:
            return []
        p = self.p
        tm, em = self.time[k], self.energy[k]
        nodes = np.asarray([p.start(k), *route, p.end(k)], dtype=np.int64)
        a, b = nodes[:-1], nodes[1:]
        cand = np.asarray(targets, dtype=np.int64)
        seg_t, seg_e = tm[a, b], em[a, b]
        to_t = tm[np.ix_(a, cand)].T  # [target][position]: a -> t
        from_t = tm[np.ix_(cand, b)]  # t -> b
        dt = to_t + from_t - seg_t
        de = em[np.ix_(a, cand)].T + em[np.ix_(cand, b)] - seg_e
        feasible = int(seg_e.sum()) + de <= p.vehicles[k].capacity_j
        if p.objective is Objective.MAKESPAN:
            primary = int(seg_t.sum()) + dt
        elif p.objective is Objective.RESPONSE:
            arrive = np.concatenate(([0], np.cumsum(seg_t)[:-1]))
            w_route = self.weights[np.asarray(route, dtype=np.int64)] if route else \
                np.zeros(0, dtype=np.int64)
            after = np.concatenate((np.cumsum(w_route[::-1])[::-1], [0]))
            primary = self.weights[cand][:, None] * (arrive[None, :] + to_t) + dt * after[None, :]
        else:
            primary = dt
        primary = np.where(feasible, primary, _BIG)
        best = primary.min(axis=1)
        pos = np.where(primary == best[:, None], dt, _BIG).argmin(axis=1)
        out: list[tuple[tuple[int, ...], int] | None] = []
        total = p.objective is Objective.TOTAL_TIME
        for i in range(len(targets)):
            if best[i] >= _BIG:
                out.append(None)
                continue
            j = int(pos[i])
            key = (int(best[i]),) if total else (int(best[i]), int(dt[i, j]))
            out.append((key, j))
        return out


def _construct(p: RoutingProblem, regret: bool) -> Routes:
    """Highest priority first; within a priority, insert one target at a time: the cheapest, or
    (regret) the one that would lose most by not getting its best vehicle.

    Each target's best insertion into each route is kept and recomputed only for the route that
    changed (for the makespan the other routes' times enter the key at the choice): O(n^2 * L)
    rather than O(n^2 * V * L) per level."""
    routes: Routes = [[] for _ in p.vehicles]
    makespan = p.objective is Objective.MAKESPAN
    arrays = _Arrays(p)
    for level in sorted(set(p.priorities), reverse=True):
        pending = [t for t, pr in enumerate(p.priorities) if pr == level]
        cache: dict[int, list[tuple[tuple[int, ...], int] | None]] = {t: [] for t in pending}
        for k, r in enumerate(routes):
            for t, ins in zip(pending, arrays.insertions(k, r, pending), strict=True):
                cache[t].append(ins)
        while pending:
            times = _times(p, routes)
            others = [_others(times, k) for k in range(len(routes))]
            choice: tuple[tuple[float, ...], int, int, int] | None = None
            for t in pending:
                options = []
                for k, ins in enumerate(cache[t]):
                    if ins is None:
                        continue
                    key0 = ins[0]
                    if makespan:  # computed with others = 0: (route time with t, dt)
                        key0 = (max(others[k], key0[0]), key0[1])
                    options.append((key0, k, ins[1]))
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
            del cache[t]
            for t2, ins in zip(pending, arrays.insertions(k, routes[k], pending), strict=True):
                cache[t2][k] = ins
    return routes


def solve_greedy(p: RoutingProblem, deadline: float | None = None) -> Routes:
    """The best of cheapest insertion and regret insertion, each followed by the repair, and
    (for the other objectives) cheapest insertion by flying time: when the batteries bind, the
    least flying serves the most targets, which the score counts first."""
    candidates = [repair(p, _construct(p, regret), deadline) for regret in (False, True)]
    if p.objective is not Objective.TOTAL_TIME:
        frugal = _construct(replace(p, objective=Objective.TOTAL_TIME), False)
        candidates.append(repair(p, frugal, deadline))
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


def _swap_in(p: RoutingProblem, routes: Routes, t: int, deadline: float | None = None) -> bool:
    """Serve t in place of a same-priority target x that then finds room in another route."""
    for k, route in enumerate(routes):
        for x in [x for x in route if p.priorities[x] == p.priorities[t]]:
            if deadline is not None and time.perf_counter() > deadline:
                return False
            trial = [list(r) for r in routes]
            trial[k].remove(x)
            if _place(p, trial, t) and _place(p, trial, x):
                routes[:] = trial
                return True
    return False


def repair(p: RoutingProblem, routes: Routes, deadline: float | None = None) -> Routes:
    """Insert dropped targets, highest priority first, evicting lower priorities when needed
    and trading places with a same-priority target that fits elsewhere.

    The trades cost O(served x dropped) placements: with many targets of one priority that no
    battery can take (one drone, 200 incidents) that is tens of seconds, so they stop at
    `deadline` (time.perf_counter()); insertions and evictions always run."""
    routes = [list(r) for r in routes]
    for level in sorted(set(p.priorities), reverse=True):
        served = {t for r in routes for t in r}
        for t in [t for t, pr in enumerate(p.priorities) if pr == level and t not in served]:
            if not _place(p, routes, t):
                _swap_in(p, routes, t, deadline)
    return routes
