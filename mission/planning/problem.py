"""The routing problem both solvers see: integer time and energy matrices over target nodes and
per-drone start/end nodes, with every arc already detoured around no-fly zones.

Node numbering: targets 0..T-1, then start of vehicle k at T+k, its end (base) at T+V+k. An arc
i->j costs the on-station work at i plus the flight from i's exit to j's entry; leaving the start
adds the climb, arriving at the end adds the descent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mission.planning.energy import Cost, land_end, rtl_end, takeoff, transit
from mission.planning.geometry import XY, dist
from mission.planning.model import Airframe, Drone, Objective
from mission.planning.patterns import Station

INFEASIBLE = 10**9  # arc value that no battery can pay
TIME_UNITS_PER_S = 10  # matrices hold deciseconds


@dataclass(frozen=True)
class Vehicle:
    drone: Drone
    layer: int
    altitude_m: float
    start: XY
    end: XY
    capacity_j: int


@dataclass(frozen=True)
class Anchors:
    """Index of each anchor point in the Legs table: per drone its start and base, per station
    its entry and exit."""

    n_drones: int

    def start(self, i: int) -> int:
        return 2 * i

    def base(self, i: int) -> int:
        return 2 * i + 1

    def entry(self, s: int) -> int:
        return 2 * self.n_drones + 2 * s

    def exit(self, s: int) -> int:
        return 2 * self.n_drones + 2 * s + 1

    @staticmethod
    def points(starts: Sequence[XY], bases: Sequence[XY], stations: Sequence[Station]) -> list[XY]:
        out: list[XY] = []
        for s, b in zip(starts, bases, strict=True):
            out += [s, b]
        for st in stations:
            out += [st.entry, st.exit]
        return out


class Legs:
    """All-pairs detoured paths between the anchor points (starts, bases, station ends)."""

    def __init__(self, points: Sequence[XY], paths: list[list[list[XY] | None]]) -> None:
        self.points = list(points)
        self._paths = paths

    def path(self, a: int, b: int) -> list[XY] | None:
        return self._paths[a][b]


@dataclass(frozen=True)
class RoutingProblem:
    vehicles: tuple[Vehicle, ...]
    stations: tuple[Station, ...]
    priorities: tuple[int, ...]
    time: tuple[tuple[tuple[int, ...], ...], ...]  # [vehicle][from][to], deciseconds
    energy: tuple[tuple[tuple[int, ...], ...], ...]  # [vehicle][from][to], joules
    objective: Objective
    weights: tuple[int, ...] = ()  # per target: weight of its arrival time (`response`)

    @property
    def n_targets(self) -> int:
        return len(self.stations)

    @property
    def n_vehicles(self) -> int:
        return len(self.vehicles)

    def start(self, k: int) -> int:
        return self.n_targets + k

    def end(self, k: int) -> int:
        return self.n_targets + self.n_vehicles + k

    def _sum(self, m: tuple[tuple[int, ...], ...], k: int, seq: Sequence[int]) -> int:
        nodes = [self.start(k), *seq, self.end(k)]
        return sum(m[nodes[i]][nodes[i + 1]] for i in range(len(nodes) - 1))

    def route_time(self, k: int, seq: Sequence[int]) -> int:
        return self._sum(self.time[k], k, seq)

    def route_energy(self, k: int, seq: Sequence[int]) -> int:
        return self._sum(self.energy[k], k, seq)

    def weight(self, t: int) -> int:
        return self.weights[t] if self.weights else 1

    def arrivals(self, k: int, seq: Sequence[int]) -> list[int]:
        """When vehicle k arrives at each target of `seq` (matrix units from its start)."""
        m = self.time[k]
        out: list[int] = []
        at, prev = 0, self.start(k)
        for t in seq:
            at += m[prev][t]
            out.append(at)
            prev = t
        return out

    def route_response(self, k: int, seq: Sequence[int]) -> int:
        """The `response` objective of one route: its targets' weighted arrival times."""
        return sum(self.weight(t) * a for t, a in zip(seq, self.arrivals(k, seq), strict=True))

    def objective_value(self, routes: Sequence[Sequence[int]]) -> int:
        """The objective being minimised (matrix units; weighted for `response`), without the
        dropped targets: for comparing solvers on the same problem."""
        times = [self.route_time(k, r) for k, r in enumerate(routes)]
        if self.objective is Objective.MAKESPAN:
            return max(times, default=0)
        if self.objective is Objective.RESPONSE:
            return sum(self.route_response(k, r) for k, r in enumerate(routes))
        return sum(times)

    def feasible(self, k: int, seq: Sequence[int]) -> bool:
        return self.route_energy(k, seq) <= self.vehicles[k].capacity_j

    def score(self, routes: Sequence[Sequence[int]]) -> tuple[int, ...]:
        """Lexicographic quality: dropped targets by priority (high first), then the objective."""
        served = {t for r in routes for t in r}
        levels = sorted(set(self.priorities), reverse=True)
        drops = tuple(
            sum(1 for t, p in enumerate(self.priorities) if p == lv and t not in served)
            for lv in levels
        )
        times = [self.route_time(k, r) for k, r in enumerate(routes)]
        total = sum(times)
        if self.objective is Objective.MAKESPAN:
            return (*drops, max(times, default=0), total)
        if self.objective is Objective.RESPONSE:
            resp = sum(self.route_response(k, r) for k, r in enumerate(routes))
            return (*drops, resp, total)
        return (*drops, total)


def build_problem(
    vehicles: Sequence[Vehicle],
    stations: Sequence[Station],
    legs: Legs,
    node_in: Sequence[int],
    node_out: Sequence[int],
    objective: Objective,
    weights: Sequence[int] = (),
) -> RoutingProblem:
    """Matrices for every vehicle; node_in/node_out give each node's entry and exit anchor;
    `weights` per station (the `response` objective; default 1 each)."""
    n_t, n_v = len(stations), len(vehicles)
    n = n_t + 2 * n_v
    time: list[tuple[tuple[int, ...], ...]] = []
    energy: list[tuple[tuple[int, ...], ...]] = []
    # Drones of one airframe fly the target-to-target arcs alike: compute those once.
    blocks: dict[Airframe, tuple[list[list[int]], list[list[int]], list[Cost]]] = {}
    for k, v in enumerate(vehicles):
        a = v.drone.airframe
        if a not in blocks:
            blocks[a] = _target_block(a, stations, legs, node_in, node_out)
        t_block, e_block, service = blocks[a]
        up = Cost() if v.drone.airborne else takeoff(a, v.altitude_m)
        # as items.py ends the route: RTL home, or NAV_LAND at a base elsewhere
        returns = v.drone.airborne or dist(v.start, v.end) < 1.0
        down = rtl_end(a, v.altitude_m) if returns else land_end(a, v.altitude_m)
        start, end = n_t + k, n_t + n_v + k

        def arc(i: int, j: int, extra: Cost, a: Airframe = a) -> tuple[int, int]:
            path = legs.path(node_out[i], node_in[j])
            if path is None:
                return INFEASIBLE, INFEASIBLE
            return _units(transit(a, path) + extra)

        zeros = [0] * (2 * n_v)
        t_rows: list[tuple[int, ...]] = []
        e_rows: list[tuple[int, ...]] = []
        for i in range(n_t):  # target rows: the block, and the way home
            tail_t, tail_e = list(zeros), list(zeros)
            tail_t[end - n_t], tail_e[end - n_t] = arc(i, end, service[i] + down)
            t_rows.append(tuple(t_block[i] + tail_t))
            e_rows.append(tuple(e_block[i] + tail_e))
        for i in range(n_t, n):
            t_row, e_row = [0] * n, [0] * n
            if i == start:
                for j in [*range(n_t), end]:
                    if _used(i, j, n_t, start, end, v.drone.airborne):
                        t_row[j], e_row[j] = arc(i, j, up + (down if j == end else Cost()))
            t_rows.append(tuple(t_row))
            e_rows.append(tuple(e_row))
        time.append(tuple(t_rows))
        energy.append(tuple(e_rows))
    return RoutingProblem(
        tuple(vehicles), tuple(stations), tuple(int(s.target.priority) for s in stations),
        tuple(time), tuple(energy), objective, tuple(weights) or (1,) * n_t,
    )


def _units(c: Cost) -> tuple[int, int]:
    """Matrix values: deciseconds, and joules never under-counting the battery."""
    return round(c.time_s * TIME_UNITS_PER_S), math.ceil(c.energy_j)


def _target_block(a: Airframe, stations: Sequence[Station], legs: Legs, node_in: Sequence[int],
                  node_out: Sequence[int]) -> tuple[list[list[int]], list[list[int]], list[Cost]]:
    """Time and energy of every target-to-target arc (the work at the first included), and
    each station's own cost, for airframe `a`."""
    n_t = len(stations)
    service = [st.cost(a) for st in stations]
    t_block: list[list[int]] = []
    e_block: list[list[int]] = []
    for i in range(n_t):
        t_row, e_row = [0] * n_t, [0] * n_t
        for j in range(n_t):
            if i == j:
                continue
            path = legs.path(node_out[i], node_in[j])
            if path is None:
                t_row[j] = e_row[j] = INFEASIBLE
            else:
                t_row[j], e_row[j] = _units(transit(a, path) + service[i])
        t_block.append(t_row)
        e_block.append(e_row)
    return t_block, e_block, service


def _used(i: int, j: int, n_t: int, start: int, end: int, airborne: bool) -> bool:
    """Whether vehicle (start, end) can fly arc i->j at a cost; other arcs are left at zero."""
    own = (start, end)
    if (i >= n_t and i not in own) or (j >= n_t and j not in own) or i == end or j == start:
        return False
    # A grounded drone with nothing to do stays where it is; an airborne one must still go home.
    return not (i == start and j == end and not airborne)
