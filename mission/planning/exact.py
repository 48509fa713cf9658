"""Exact check of the top priority level: the most top-priority targets the fleet can serve.

Local search (OR-Tools or the greedy repair) can stall with a top-priority target dropped when
serving it needs several coordinated moves. For up to MAX_EXACT top-priority targets this module
finds, by Held-Karp per drone and a subset split across drones, an assignment serving as many as
any plan can; the planner then fits the lower priorities around it.
"""

from __future__ import annotations

from mission.planning.problem import RoutingProblem

MAX_EXACT = 9


def _cheapest_orders(p: RoutingProblem, k: int, nodes: list[int]) -> dict[int, list[int]]:
    """For every subset (bit mask over `nodes`) vehicle k can fly within its battery, the order
    using the least energy."""
    n = len(nodes)
    e = p.energy[k]
    start, end = p.start(k), p.end(k)
    cap = p.vehicles[k].capacity_j
    inf = float("inf")
    best: dict[tuple[int, int], tuple[float, int]] = {}  # (mask, last) -> (energy, previous last)
    for j in range(n):
        first = float(e[start][nodes[j]])
        if first <= cap:
            best[1 << j, j] = (first, -1)
    for mask in range(1, 1 << n):
        for j in range(n):
            cur = best.get((mask, j))
            if cur is None:
                continue
            for m in range(n):
                if mask & (1 << m):
                    continue
                c: float = cur[0] + e[nodes[j]][nodes[m]]
                key = (mask | (1 << m), m)
                if c <= cap and c < best.get(key, (inf, -1))[0]:
                    best[key] = (c, j)
    orders: dict[int, list[int]] = {0: []}
    closing: dict[int, tuple[float, int]] = {}
    for (mask, j), (c, _) in best.items():
        total = c + e[nodes[j]][end]
        if total <= cap and total < closing.get(mask, (inf, -1))[0]:
            closing[mask] = (total, j)
    for mask, (_, j) in closing.items():
        order: list[int] = []
        m, last = mask, j
        while last >= 0:
            order.append(nodes[last])
            prev = best[m, last][1]
            m, last = m & ~(1 << last), prev
        orders[mask] = order[::-1]
    return orders


def best_top_level(p: RoutingProblem) -> list[list[int]] | None:
    """Routes serving the most targets of the top priority (and nothing else), or None when
    there are too many of them to search exhaustively."""
    if not p.priorities or not p.vehicles:
        return None
    top = max(p.priorities)
    nodes = [t for t, pr in enumerate(p.priorities) if pr == top]
    if len(nodes) > MAX_EXACT:
        return None
    per_vehicle = [_cheapest_orders(p, k, nodes) for k in range(p.n_vehicles)]
    # reach[used] = masks per vehicle so far; keep one way to reach each union.
    reach: dict[int, list[int]] = {0: []}
    for orders in per_vehicle:
        nxt: dict[int, list[int]] = {}
        for used, masks in reach.items():
            for sub in orders:
                if sub & used == 0 and (used | sub) not in nxt:
                    nxt[used | sub] = [*masks, sub]
        reach = nxt
    used = max(reach, key=lambda m: bin(m).count("1"))
    return [list(per_vehicle[k][mask]) for k, mask in enumerate(reach[used])]
