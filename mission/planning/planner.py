"""plan_patrol: from a request (fleet, targets, no-fly zones) to per-drone ArduCopter missions.

Pure computation: no database, no web framework, no vehicle I/O; the service persists and uploads
what it returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mission.planning import exact, greedy, local_search, routing
from mission.planning.altitude import layer_altitudes
from mission.planning.energy import pct_of_battery, usable_energy_j
from mission.planning.errors import InvalidRequestError, PlanningError, UnreachableTargetError
from mission.planning.geometry import XY, LocalFrame
from mission.planning.items import build_route
from mission.planning.model import (
    AreaTarget,
    DroneRoute,
    DroppedTarget,
    DropReason,
    LatLon,
    Lawnmower,
    Loiter,
    Orbit,
    Perimeter,
    Plan,
    PlanRequest,
    PointTarget,
    Priority,
    SolverChoice,
    Target,
)
from mission.planning.nofly import NoFlyRouter
from mission.planning.patterns import Station, build_station
from mission.planning.problem import Anchors, Legs, RoutingProblem, Vehicle, build_problem


@dataclass(frozen=True)
class _Setup:
    frame: LocalFrame
    layers: list[float]
    starts: list[XY]
    bases: list[XY]
    stations: list[Station]
    anchors: Anchors
    legs: Legs
    problem: RoutingProblem


def _setup(request: PlanRequest, warnings: list[str]) -> _Setup:
    _validate(request)
    layers = layer_altitudes(len(request.drones), request.altitude)
    frame = LocalFrame.around(_all_points(request))
    router = NoFlyRouter(
        [(z.id, frame.polygon(z.polygon, f"no-fly zone {z.id!r}")) for z in request.no_fly_zones],
        request.clearance_m,
    )
    starts = _drone_starts(request, frame, router)
    bases = [frame.xy(d.base) for d in request.drones]
    stations = [build_station(t, frame, router) for t in request.targets]
    anchors = Anchors(len(request.drones))
    points = Anchors.points(starts, bases, stations)
    legs = Legs(points, router.paths(points))
    _check_reachable(stations, legs, anchors)
    vehicles = _vehicles(request, layers, starts, bases, legs, anchors, warnings)
    ends = [anchors.start(v.layer) for v in vehicles] + [anchors.base(v.layer) for v in vehicles]
    problem = build_problem(
        vehicles, stations, legs,
        [anchors.entry(s) for s in range(len(stations))] + ends,
        [anchors.exit(s) for s in range(len(stations))] + ends,
        request.objective,
        [severity_weight(request, t) for t in request.targets],
    )
    problem = _limit_stranded(problem, request.battery_reserve_pct, warnings)
    return _Setup(frame, layers, starts, bases, stations, anchors, legs, problem)


def severity_weight(request: PlanRequest, target: Target) -> int:
    """The weight of `target`'s time to eyes on in the `response` objective."""
    return request.severity_weights[target.severity - 1]


def routing_problem(request: PlanRequest) -> RoutingProblem:
    """The integer routing problem plan_patrol solves: for diagnostics and solver tests."""
    return _setup(request, []).problem


def plan_patrol(request: PlanRequest) -> Plan:
    """Plan the patrol; raises a PlanningError subclass when the request cannot be planned."""
    started = time.perf_counter()  # the time limit counts from here: the matrices are in it
    warnings: list[str] = []
    s = _setup(request, warnings)
    problem, anchors, legs = s.problem, s.anchors, s.legs
    routes, solver = solve_problem(problem, request, warnings, started=started)
    by_layer = {v.layer: (v, routes[k]) for k, v in enumerate(problem.vehicles)}
    out: list[DroneRoute] = []
    for i, d in enumerate(request.drones):
        idle = Vehicle(d, i, s.layers[i], s.starts[i], s.bases[i], 0)
        v, seq = by_layer.get(i, (idle, []))
        transits: list[list[XY]] = []
        prev = anchors.start(i)
        for t in seq:
            transits.append(_path(legs, prev, anchors.entry(t)))
            prev = anchors.exit(t)
        transits.append(_path(legs, prev, anchors.base(i)))
        out.append(build_route(v, [s.stations[t] for t in seq], transits, s.frame))
    durations = [r.duration_s for r in out]
    weight = {t.id: severity_weight(request, t) for t in request.targets}
    response = sum(weight[v.target_id] * v.eta_s for r in out for v in r.visits)
    return Plan(
        tuple(out), _dropped(problem, routes, request.battery_reserve_pct), request.objective,
        solver, max(durations, default=0.0), sum(durations), tuple(warnings), response,
    )


def _drone_starts(request: PlanRequest, frame: LocalFrame, router: NoFlyRouter) -> list[XY]:
    starts: list[XY] = []
    for d in request.drones:
        for what, p in (("position", d.position or d.base), ("base", d.base)):
            zone = router.zone_at(frame.xy(p))
            if zone is not None:
                raise InvalidRequestError(
                    f"drone {d.id!r}: its {what} lies inside no-fly zone {zone!r}"
                )
        starts.append(frame.xy(d.position or d.base))
    return starts


def _check_reachable(stations: Sequence[Station], legs: Legs, anchors: Anchors) -> None:
    for s, st in enumerate(stations):
        if not any(legs.path(anchors.start(i), anchors.entry(s)) is not None
                   and legs.path(anchors.exit(s), anchors.base(i)) is not None
                   for i in range(anchors.n_drones)):
            raise UnreachableTargetError(
                st.target.id, "it is enclosed by no-fly zones: no drone can fly there and back"
            )


def _vehicles(request: PlanRequest, layers: Sequence[float], starts: Sequence[XY],
              bases: Sequence[XY], legs: Legs, anchors: Anchors,
              warnings: list[str]) -> list[Vehicle]:
    """The drones that can be tasked: charge above the reserve."""
    reserve = request.battery_reserve_pct
    vehicles: list[Vehicle] = []
    for i, d in enumerate(request.drones):
        if d.airborne and legs.path(anchors.start(i), anchors.base(i)) is None:
            raise InvalidRequestError(
                f"drone {d.id!r}: no flyable way home around the no-fly zones"
            )
        usable = usable_energy_j(d, reserve)
        if usable <= 0:
            warnings.append(f"drone {d.id!r} has {d.battery_pct:g}% battery, not above the "
                            f"{reserve:g}% reserve: not tasked"
                            + (", return it now" if d.airborne else ""))
            continue
        vehicles.append(Vehicle(d, i, layers[i], starts[i], bases[i], int(usable)))
    return vehicles


def _limit_stranded(problem: RoutingProblem, reserve: float, warnings: list[str]) -> RoutingProblem:
    """An airborne drone that cannot get home with the reserve gets only its way home."""
    vehicles = list(problem.vehicles)
    for k, v in enumerate(vehicles):
        way_home = problem.route_energy(k, [])
        if v.drone.airborne and way_home > v.capacity_j:
            warnings.append(f"drone {v.drone.id!r} cannot reach its base with the {reserve:g}% "
                            f"reserve left: not tasked, return it now")
            vehicles[k] = replace(v, capacity_j=way_home)
    return replace(problem, vehicles=tuple(vehicles))


def _path(legs: Legs, a: int, b: int) -> list[XY]:
    path = legs.path(a, b)
    if path is None:  # routes only use arcs with finite cost, so this is a planner bug
        raise PlanningError("internal error: a planned leg has no flyable path")
    return path


# Problems up to this size are solved by greedy insertion and local search alone: in the
# planner benchmark (benchmarks/bench_plan.py) OR-Tools did not improve on them, and they are the
# everyday incident response, where a plan must come back at once.
SMALL_TARGETS = 20
SMALL_DRONES = 5
# share of the time limit the local search may use before OR-Tools gets the rest
LOCAL_SEARCH_SHARE = 0.25
# local search on a small problem: it converges in 10-40 ms; the cap keeps a busy machine's
# answer prompt (an incident waits for it)
SMALL_LOCAL_SEARCH_S = 0.06


def is_small(problem: RoutingProblem) -> bool:
    return problem.n_targets <= SMALL_TARGETS and problem.n_vehicles <= SMALL_DRONES


def solve_problem(problem: RoutingProblem, request: PlanRequest, warnings: list[str],
                  started: float | None = None) -> tuple[list[list[int]], SolverChoice]:
    """Greedy insertion and local search first; then OR-Tools, started from that answer, when
    asked for or when the problem is not small (it pays only there), within the time limit and
    stopping once it stops improving. The better answer wins (scored like the repair does).
    `started`: when the plan began (perf_counter), so that building the problem counts."""
    start = time.perf_counter() if started is None else started
    budget = request.time_limit_s
    if request.solver is SolverChoice.GREEDY or not problem.vehicles:
        return _greedy(problem, None, start + budget), SolverChoice.GREEDY
    ortools_wanted = request.solver is SolverChoice.ORTOOLS or not is_small(problem)
    share = budget * LOCAL_SEARCH_SHARE
    best = _greedy(problem, start + (share if ortools_wanted else min(share,
                                                                      SMALL_LOCAL_SEARCH_S)),
                   start + share)
    if not ortools_wanted:
        return best, SolverChoice.GREEDY
    # OR-Tools' own setup and the repair after it take a little too: leave them 5 %
    remaining = max(budget * 0.95 - (time.perf_counter() - start), 0.05)
    found: list[list[int]] | None = None
    try:
        found = routing.solve_ortools(problem, remaining, initial=best)
    except ImportError:
        if request.solver is SolverChoice.ORTOOLS:
            raise PlanningError("OR-Tools is not installed (pip install ortools)") from None
        warnings.append("OR-Tools is not installed: planned by greedy insertion")
    else:
        if found is None and request.solver is SolverChoice.ORTOOLS:
            raise PlanningError("OR-Tools found no solution within the time limit")
        if found is None:
            warnings.append("OR-Tools found no solution within the time limit: "
                            "planned by greedy insertion")
    if found is None:
        return best, SolverChoice.GREEDY
    routes = _top_level_exact(problem, greedy.repair(problem, found, start + budget))
    if request.solver is SolverChoice.AUTO and problem.score(best) <= problem.score(routes):
        return best, SolverChoice.GREEDY
    return routes, SolverChoice.ORTOOLS


def _greedy(problem: RoutingProblem, deadline: float | None,
            repair_deadline: float | None) -> list[list[int]]:
    """Greedy insertion with the priority repair (its trades until `repair_deadline`), then
    local search (until `deadline`)."""
    routes = _top_level_exact(problem, greedy.solve_greedy(problem, repair_deadline))
    return local_search.improve(problem, routes, deadline)


def _top_level_exact(problem: RoutingProblem, routes: list[list[int]]) -> list[list[int]]:
    """Swap in the exact top-priority assignment when the search left one of them out."""
    served = {t for r in routes for t in r}
    top = max(problem.priorities, default=0)
    if all(t in served for t, pr in enumerate(problem.priorities) if pr == top):
        return routes
    best = exact.best_top_level(problem)
    if best is None or sum(map(len, best)) <= sum(
            1 for t in served if problem.priorities[t] == top):
        return routes
    return greedy.repair(problem, best)


def _dropped(problem: RoutingProblem, routes: Sequence[Sequence[int]],
             reserve: float) -> tuple[DroppedTarget, ...]:
    served = {t for r in routes for t in r}
    out: list[DroppedTarget] = []
    for t, st in enumerate(problem.stations):
        if t in served:
            continue
        tid, prio = st.target.id, Priority(st.target.priority)
        if not any(v.capacity_j > 0 for v in problem.vehicles):
            out.append(DroppedTarget(tid, prio, DropReason.NO_DRONE,
                                     f"no drone has battery above the {reserve:g}% reserve"))
            continue
        options = []
        for k, v in enumerate(problem.vehicles):
            need = pct_of_battery(v.drone.airframe, problem.route_energy(k, [t]))
            options.append((not problem.feasible(k, [t]), need, v))
        infeasible, need, v = min(options, key=lambda o: (o[0], o[1]))
        if not infeasible:
            out.append(DroppedTarget(tid, prio, DropReason.BATTERY, (
                f"drone {v.drone.id!r} could fly it alone ({need:.0f}% battery) but the charge "
                f"above the {reserve:g}% reserve is spent on targets of equal or higher priority")))
        else:
            out.append(DroppedTarget(tid, prio, DropReason.OUT_OF_RANGE, (
                f"a round trip needs {need:.0f}% battery on the best-placed drone "
                f"{v.drone.id!r}, which has only {v.drone.battery_pct - reserve:.0f}% above the "
                f"{reserve:g}% reserve")))
    return tuple(out)


def _all_points(r: PlanRequest) -> list[LatLon]:
    pts: list[LatLon] = []
    for d in r.drones:
        pts += [d.base] + ([d.position] if d.position else [])
    for t in r.targets:
        pts += [t.position] if isinstance(t, PointTarget) else list(t.polygon)
    for z in r.no_fly_zones:
        pts += list(z.polygon)
    return pts


def _validate(r: PlanRequest) -> None:
    if not r.drones:
        raise InvalidRequestError("no drones to plan for")
    for what, ids in (("drone", [d.id for d in r.drones]), ("target", [t.id for t in r.targets]),
                      ("no-fly zone", [z.id for z in r.no_fly_zones])):
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise InvalidRequestError(f"duplicate {what} id {sorted(dup)[0]!r}")
    for d in r.drones:
        if not 0 <= d.battery_pct <= 100:
            raise InvalidRequestError(f"drone {d.id!r}: battery {d.battery_pct:g}% is not 0..100")
        a = d.airframe
        if min(a.cruise_speed_mps, a.climb_speed_mps, a.descent_speed_mps, a.battery_capacity_wh,
               a.cruise_power_w, a.hover_power_w, a.climb_power_w, a.max_orbit_rate_dps,
               a.accel_mps2, a.jerk_mps3, a.accel_z_mps2, a.land_speed_mps) <= 0:
            raise InvalidRequestError(f"drone {d.id!r}: airframe speeds, accelerations and "
                                      "powers must be positive")
        if min(a.land_alt_low_m, a.rtl_alt_m, a.rtl_loiter_s, a.spool_up_s, a.touchdown_s) < 0:
            raise InvalidRequestError(f"drone {d.id!r}: airframe altitudes and times must not "
                                      "be negative")
    if not 0 <= r.battery_reserve_pct < 100:
        raise InvalidRequestError(f"battery reserve {r.battery_reserve_pct:g}% is not 0..100")
    if len(r.severity_weights) != 5 or any(
            not isinstance(w, int) or w < 0 for w in r.severity_weights):
        raise InvalidRequestError("severity weights must be 5 non-negative integers "
                                  "(severity 1 to 5)")
    if r.time_limit_s <= 0 or r.clearance_m < 0:
        raise InvalidRequestError("time limit must be positive and clearance not negative")
    for t in r.targets:
        if not isinstance(t.severity, int) or not 1 <= t.severity <= 5:
            raise InvalidRequestError(f"target {t.id!r}: severity {t.severity!r} is not 1..5")
        ok = (isinstance(t.pattern, Lawnmower | Perimeter) if isinstance(t, AreaTarget)
              else t.pattern is None or isinstance(t.pattern, Loiter | Orbit))
        if not ok:
            raise InvalidRequestError(f"target {t.id!r}: pattern {t.pattern!r} does not fit it")
