"""Hotspots: clusters of nearby open reports, ranked by a priority score.

Clustering is single-link (DBSCAN with min_samples=1): two reports are linked when their
great-circle distance is at most `radius_m`, and a hotspot is a connected group of linked
reports. Only reports with `now - window_h <= reported_at` take part (reports up to the accepted
clock skew ahead of `now` count as "just now"). Neighbours are found through a grid of cells at
least `radius_m` wide, so the cost is about linear in the number of reports; the grid wraps at
the antimeridian.

Priority of a hotspot (documented formula; all terms are powers of two)::

    priority = sum over its reports i of  2 ** (severity_i - 1) * 0.5 ** (age_h_i / half_life_h)

- severity: each step of severity doubles a report's weight (a fresh severity-5 report weighs
  16, a fresh severity-1 report weighs 1);
- recency: a report's weight halves every `half_life_h` hours of age (default: a quarter of the
  window, so the oldest report in the window weighs 1/16 of a fresh one); one severity step is
  thus worth one half-life of age;
- number of reports: the weights add up, so three reports outrank one of the same severity and
  age.

Hotspots come out highest priority first (ties: most recent report first, then lowest id).
Single-link chaining means a dense line of reports can form one long hotspot; `extent_m` shows
how far its reports lie from its centre.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mission.geo import M_PER_DEG_LAT, haversine_m


@dataclass(frozen=True)
class Report:
    """The part of an incident that clustering needs."""

    id: int
    lat: float
    lon: float
    severity: int
    reported_at: datetime
    category: str = "other"


@dataclass
class Hotspot:
    incident_ids: list[int]
    count: int
    priority: float
    max_severity: int
    lat: float
    lon: float
    extent_m: float
    first_reported_at: datetime
    last_reported_at: datetime
    categories: dict[str, int] = field(default_factory=dict)
    rank: int = 0


def report_weight(severity: int, age_h: float, half_life_h: float) -> float:
    """One report's share of a hotspot's priority (see the module docstring)."""
    return float(2.0 ** (severity - 1) * 0.5 ** (max(age_h, 0.0) / half_life_h))


def find_hotspots(
    reports: Iterable[Report],
    *,
    radius_m: float,
    window_h: float,
    now: datetime,
    half_life_h: float | None = None,
    min_reports: int = 1,
    future_skew: timedelta = timedelta(minutes=5),
) -> list[Hotspot]:
    """Cluster `reports` (already restricted to open incidents) and rank the clusters."""
    if radius_m <= 0 or window_h <= 0:
        raise ValueError("radius_m and window_h must be positive")
    hl = half_life_h if half_life_h is not None else window_h / 4.0
    if hl <= 0:
        raise ValueError("half_life_h must be positive")
    start, end = now - timedelta(hours=window_h), now + future_skew
    pts = [r for r in reports if start <= r.reported_at <= end]
    groups = _single_link(pts, radius_m)
    spots = [_hotspot([pts[i] for i in g], now, hl) for g in groups if len(g) >= min_reports]
    spots.sort(key=lambda h: (-h.priority, -h.last_reported_at.timestamp(), h.incident_ids[0]))
    for i, h in enumerate(spots, 1):
        h.rank = i
    return spots


def _single_link(pts: Sequence[Report], radius_m: float) -> list[list[int]]:
    n = len(pts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n == 0:
        return []
    dlat = radius_m / M_PER_DEG_LAT
    max_abs_lat = max(abs(p.lat) for p in pts)
    cos_lat = math.cos(math.radians(min(max_abs_lat + dlat, 90.0)))
    # Cells at least radius_m wide everywhere in the set, so neighbours are within +-1 cell.
    dlon = 360.0 if cos_lat < 1e-6 else min(360.0, dlat / cos_lat)
    ncols = max(1, int(360.0 // dlon))
    col_w = 360.0 / ncols
    cells: dict[tuple[int, int], list[int]] = {}
    keys = []
    for i, p in enumerate(pts):
        key = (math.floor(p.lat / dlat), min(int((p.lon + 180.0) // col_w), ncols - 1))
        keys.append(key)
        cells.setdefault(key, []).append(i)
    for i, p in enumerate(pts):
        row, col = keys[i]
        for dr in (-1, 0, 1):
            for c in {(col - 1) % ncols, col, (col + 1) % ncols}:
                for j in cells.get((row + dr, c), ()):
                    if j <= i or find(i) == find(j):
                        continue
                    if haversine_m(p.lat, p.lon, pts[j].lat, pts[j].lon) <= radius_m:
                        parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _centre(pts: Sequence[Report]) -> tuple[float, float]:
    """Mean position on the sphere (correct across the antimeridian)."""
    x = y = z = 0.0
    for p in pts:
        la, lo = math.radians(p.lat), math.radians(p.lon)
        x += math.cos(la) * math.cos(lo)
        y += math.cos(la) * math.sin(lo)
        z += math.sin(la)
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    lon = math.degrees(math.atan2(y, x))
    return lat, lon


def _hotspot(pts: Sequence[Report], now: datetime, half_life_h: float) -> Hotspot:
    lat, lon = _centre(pts)
    priority = sum(
        report_weight(p.severity, (now - p.reported_at).total_seconds() / 3600.0, half_life_h)
        for p in pts
    )
    times = [p.reported_at for p in pts]
    return Hotspot(
        incident_ids=sorted(p.id for p in pts),
        count=len(pts),
        priority=round(priority, 4),
        max_severity=max(p.severity for p in pts),
        lat=round(lat, 7),
        lon=round(lon, 7),
        extent_m=round(max(haversine_m(lat, lon, p.lat, p.lon) for p in pts), 1),
        first_reported_at=min(times),
        last_reported_at=max(times),
        categories=dict(Counter(p.category for p in pts).most_common()),
    )
