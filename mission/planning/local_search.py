"""Local search over a routing solution: relocate, swap, 2-opt, or-opt (a run of 2-3 targets
moved, either way round) and cross (two routes exchange their tails) moves, kept while they lower
the objective and every battery still holds.

Why: greedy insertion places each target once and never revisits the choice; a few passes of
these moves bring small problems (up to ~20 targets and 5 drones, the usual incident response)
to what OR-Tools finds in seconds, in milliseconds. The set of served targets never changes here
(the priority repair decides it), so only the objective is compared.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mission.planning.model import Objective
from mission.planning.problem import RoutingProblem

Routes = list[list[int]]
Metrics = tuple[int, int, int]  # route time, energy, weighted arrivals


def route_metrics(p: RoutingProblem, k: int, seq: Sequence[int]) -> Metrics:
    """Time, energy and weighted arrival sum of vehicle k flying `seq`, in one pass."""
    tm, em = p.time[k], p.energy[k]
    prev = p.start(k)
    t = e = resp = 0
    for n in seq:
        t += tm[prev][n]
        e += em[prev][n]
        resp += p.weight(n) * t
        prev = n
    end = p.end(k)
    return t + tm[prev][end], e + em[prev][end], resp


def objective_key(p: RoutingProblem, metrics: Sequence[Metrics]) -> tuple[int, ...]:
    """What the objective compares (lower is better), served targets being equal."""
    total = sum(m[0] for m in metrics)
    if p.objective is Objective.MAKESPAN:
        return max((m[0] for m in metrics), default=0), total
    if p.objective is Objective.RESPONSE:
        return sum(m[2] for m in metrics), total
    return (total,)


class _State:
    def __init__(self, p: RoutingProblem, routes: Routes) -> None:
        self.p = p
        self.routes = [list(r) for r in routes]
        self.metrics = [route_metrics(p, k, r) for k, r in enumerate(self.routes)]
        self.key = objective_key(p, self.metrics)

    def try_routes(self, changes: dict[int, list[int]]) -> bool:
        """Apply `changes` (vehicle -> new route) if feasible and better; True if applied."""
        p = self.p
        metrics = list(self.metrics)
        for k, seq in changes.items():
            m = route_metrics(p, k, seq)
            if m[1] > p.vehicles[k].capacity_j:
                return False
            metrics[k] = m
        key = objective_key(p, metrics)
        if key >= self.key:
            return False
        for k, seq in changes.items():
            self.routes[k] = seq
        self.metrics, self.key = metrics, key
        return True


def improve(p: RoutingProblem, routes: Routes, deadline: float | None = None) -> Routes:
    """Routes no worse than `routes` (the same targets served), improved until no move helps or
    `deadline` (time.perf_counter()) passes."""
    if not p.vehicles:
        return routes
    s = _State(p, routes)
    improved = True
    while improved:
        improved = False
        for move in (_relocate, _swap, _two_opt, _or_opt, _cross):
            if deadline is not None and time.perf_counter() > deadline:
                return s.routes
            if move(s, deadline):
                improved = True
    return s.routes


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _relocate(s: _State, deadline: float | None) -> bool:
    """Move one target to another place, in its route or another's."""
    return _move_runs(s, deadline, (1,))


def _swap(s: _State, deadline: float | None) -> bool:
    """Exchange two targets (in one route or between two)."""
    found = False
    n_v = len(s.routes)
    for k in range(n_v):
        for k2 in range(k, n_v):
            for i in range(len(s.routes[k])):
                for j in range(i + 1 if k2 == k else 0, len(s.routes[k2])):
                    if _late(deadline):
                        return found
                    a, b = list(s.routes[k]), list(s.routes[k2]) if k2 != k else None
                    if b is None:
                        a[i], a[j] = a[j], a[i]
                        changed = s.try_routes({k: a})
                    else:
                        a[i], b[j] = b[j], a[i]
                        changed = s.try_routes({k: a, k2: b})
                    found = found or changed
    return found


def _two_opt(s: _State, deadline: float | None) -> bool:
    """Reverse a stretch of one route."""
    found = False
    for k in range(len(s.routes)):
        n = len(s.routes[k])
        for i in range(n - 1):
            for j in range(i + 2, n + 1):
                if _late(deadline):
                    return found
                r = s.routes[k]
                found = s.try_routes({k: r[:i] + r[i:j][::-1] + r[j:]}) or found
    return found


def _or_opt(s: _State, deadline: float | None) -> bool:
    """Move a run of 2 or 3 consecutive targets elsewhere (any route), either way round."""
    return _move_runs(s, deadline, (2, 3))


def _move_runs(s: _State, deadline: float | None, lengths: tuple[int, ...]) -> bool:
    """Move runs of consecutive targets of each length in `lengths` to the first place (any
    route, either way round) that scores better; relocate is a run of one."""
    found = False
    n_v = len(s.routes)
    for length in lengths:
        for k in range(n_v):
            i = 0
            while i + length <= len(s.routes[k]):
                if _late(deadline):
                    return found
                run = s.routes[k][i:i + length]
                without = s.routes[k][:i] + s.routes[k][i + length:]
                pieces = (run,) if length == 1 else (run, run[::-1])
                moved = False
                for k2 in range(n_v):
                    base = without if k2 == k else s.routes[k2]
                    for j in range(len(base) + 1):
                        if k2 == k and j == i:
                            continue
                        for piece in pieces:
                            new = base[:j] + piece + base[j:]
                            changes = {k2: new} if k2 == k else {k: without, k2: new}
                            if s.try_routes(changes):
                                moved = found = True
                                break
                        if moved:
                            break
                    if moved:
                        break
                if not moved:
                    i += 1
    return found


def _cross(s: _State, deadline: float | None) -> bool:
    """Two routes exchange their tails (2-opt*): fixes crossings between drones' routes."""
    found = False
    n_v = len(s.routes)
    for k in range(n_v):
        for k2 in range(k + 1, n_v):
            for i in range(len(s.routes[k]) + 1):
                for j in range(len(s.routes[k2]) + 1):
                    if _late(deadline):
                        return found
                    a, b = s.routes[k], s.routes[k2]
                    if i == len(a) and j == len(b):
                        continue
                    changed = s.try_routes({k: a[:i] + b[j:], k2: b[:j] + a[i:]})
                    found = found or changed
    return found
