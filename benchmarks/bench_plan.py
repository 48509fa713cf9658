"""How fast and how good the patrol planner is: targets x drones x objective.

For each size (targets 20/100/200, with --large also 500/1000; drones 1/5/20) and objective
(response, total_time, makespan) one random instance is planned the way the service plans it
(plan_patrol's solver strategy with its default 2 s budget: greedy insertion and local search,
then OR-Tools started from that answer when the problem is not small). Its objective value is
compared with two baselines from the same run on the same routing problem:

- a long-budget reference: OR-Tools alone (guided local search, no early stop) for
  --reference-s seconds (default 60; e.g. --reference-s 5 for a quick run);
- nearest neighbour: the drone that is free soonest flies to the nearest target it can still
  serve and get home from, until none is left.

The instance: targets uniform in a 3 x 3 km square, 20 s loiter each, severities 1..5 at random;
drones at three bases 1 km apart, with a battery that never binds (so every solver serves
every target and the objective values compare directly; `served` says so). Then
p50/p95 of the whole plan_patrol call over --runs instances of 20 targets x 5 drones (target:
under 100 ms p95 on 2 cores). Times are wall seconds on this machine; the matrices' construction
is in `build`, the solver in `solve`.

Issue 12 asked for this table; run it with `make bench` or alone:
    .venv/bin/python benchmarks/bench_plan.py [--reference-s 60] [--large] [--runs 30]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from mission.planning import (
    Airframe,
    AltitudePolicy,
    Drone,
    LatLon,
    Loiter,
    Objective,
    PlanRequest,
    PointTarget,
    plan_patrol,
)
from mission.planning import routing as ortools_routing
from mission.planning.planner import routing_problem, solve_problem
from mission.planning.problem import RoutingProblem

CENTRE = LatLon(41.311081, 69.240562)
# Endurance that never binds, even for one drone and 1000 targets: every solver serves every
# target, so the objective values compare directly (the battery logic has its own tests).
BATTERY_WH = 200_000.0
_R = 6_378_137.0


def at(north_m: float, east_m: float) -> LatLon:
    return LatLon(CENTRE.lat + math.degrees(north_m / _R),
                  CENTRE.lon + math.degrees(east_m / (_R * math.cos(math.radians(CENTRE.lat)))))


def instance(n_targets: int, n_drones: int, objective: Objective, seed: int,
             time_limit_s: float = 2.0) -> PlanRequest:
    rng = random.Random(seed * 1000 + n_targets * 7 + n_drones)
    targets = tuple(
        PointTarget(f"t{j}", at(rng.uniform(-1500, 1500), rng.uniform(-1500, 1500)),
                    pattern=Loiter(20.0), severity=rng.randint(1, 5))
        for j in range(n_targets))
    frame = Airframe(battery_capacity_wh=BATTERY_WH)
    drones = tuple(Drone(f"d{k}", at(0.0, 1000.0 * (k % 3 - 1)), 95.0, airframe=frame)
                   for k in range(n_drones))
    # 20 drones need 20 altitude layers below the 120 m ceiling
    return PlanRequest(drones, targets, objective=objective, time_limit_s=time_limit_s,
                       altitude=AltitudePolicy(30.0, 4.0))


def nearest_neighbour(p: RoutingProblem) -> list[list[int]]:
    routes: list[list[int]] = [[] for _ in p.vehicles]
    clock = [0] * p.n_vehicles
    used_e = [0] * p.n_vehicles
    here = [p.start(k) for k in range(p.n_vehicles)]
    left = set(range(p.n_targets))
    active = set(range(p.n_vehicles))
    while left and active:
        k = min(active, key=lambda v: clock[v])
        tm, em, end = p.time[k], p.energy[k], p.end(k)
        cap = p.vehicles[k].capacity_j
        options = [t for t in left if used_e[k] + em[here[k]][t] + em[t][end] <= cap]
        if not options:
            active.remove(k)
            continue
        t = min(options, key=lambda x: tm[here[k]][x])
        clock[k] += tm[here[k]][t]
        used_e[k] += em[here[k]][t]
        routes[k].append(t)
        here[k] = t
        left.remove(t)
    return routes


def served(routes: list[list[int]]) -> int:
    return sum(len(r) for r in routes)


def row(n_t: int, n_v: int, objective: Objective, reference_s: float, seed: int) -> str:
    request = instance(n_t, n_v, objective, seed)
    began = time.perf_counter()
    p = routing_problem(request)
    build = time.perf_counter() - began
    t0 = time.perf_counter()
    # the time limit counts from the start of the plan, as plan_patrol counts it
    ours, solver = solve_problem(p, request, [], started=began)
    solve = time.perf_counter() - t0
    ref = ortools_routing.solve_ortools(p, reference_s, stop_when_flat=False) or [[]]
    nn = nearest_neighbour(p)
    v_ours, v_ref, v_nn = (p.objective_value(r) for r in (ours, ref, nn))
    return (f"{n_t:7d} {n_v:6d} {objective.value:10s} {build:6.2f} {solve:6.2f} "
            f"{solver.value:7s} {v_ours:13d} {served(ours):4d}/{served(ref):4d}/{served(nn):4d} "
            f"{v_ours / max(v_ref, 1):8.3f} {v_ours / max(v_nn, 1):7.3f}")


def small_latency(runs: int) -> tuple[float, float]:
    times = []
    for seed in range(runs):
        request = instance(20, 5, Objective.RESPONSE, seed)
        t0 = time.perf_counter()
        plan_patrol(request)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(0.95 * len(times)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference-s", type=float, default=60.0,
                    help="OR-Tools budget of the reference solution (default 60)")
    ap.add_argument("--large", action="store_true", help="also 500 and 1000 targets")
    ap.add_argument("--targets", default="", help="comma-separated target counts to run")
    ap.add_argument("--drones", default="1,5,20", help="comma-separated drone counts")
    ap.add_argument("--runs", type=int, default=30, help="instances for the 20 x 5 latency")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sizes = [int(x) for x in args.targets.split(",")] if args.targets else (
        [20, 100, 200] + ([500, 1000] if args.large else []))
    drones = [int(x) for x in args.drones.split(",")]
    p50, p95 = small_latency(args.runs)
    print(f"plan_patrol, 20 targets x 5 drones, response, {args.runs} instances: "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target: p95 < 100 ms)")
    print(f"reference: OR-Tools alone for {args.reference_s:g} s; ratios are objective values "
          "(lower is better; < 1 beats the baseline)")
    print(f"{'targets':>7s} {'drones':>6s} {'objective':10s} {'build':>6s} {'solve':>6s} "
          f"{'solver':7s} {'objective':>13s} {'served ours/ref/nn':>14s} {'vs ref':>8s} "
          f"{'vs nn':>7s}")
    for n_t in sizes:
        for n_v in drones:
            for objective in (Objective.RESPONSE, Objective.TOTAL_TIME, Objective.MAKESPAN):
                print(row(n_t, n_v, objective, args.reference_s, args.seed), flush=True)


if __name__ == "__main__":
    main()
