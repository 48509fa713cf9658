"""The response-time report, pure: stage durations of incidents and their percentiles.

A stage counts an incident only when both of its ends are known (an incident dispatched but
not yet airborne counts in report -> dispatch only), so each stage's `count` says how many
incidents its percentiles are over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

STAGES: tuple[tuple[str, str, str], ...] = (
    ("report_to_dispatch", "reported_at", "dispatched_at"),
    ("dispatch_to_airborne", "dispatched_at", "airborne_at"),
    ("airborne_to_on_scene", "airborne_at", "on_scene_at"),
    ("report_to_on_scene", "reported_at", "on_scene_at"),
)


@dataclass(frozen=True)
class Timeline:
    """One incident's times (None: not reached)."""

    severity: int
    reported_at: datetime
    dispatched_at: datetime | None
    airborne_at: datetime | None
    on_scene_at: datetime | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def stage_stats(timelines: Sequence[Timeline]) -> dict[str, dict[str, float | int | None]]:
    """{stage: {"count", "p50_s", "p95_s"}} over `timelines`."""
    out: dict[str, dict[str, float | int | None]] = {}
    for name, start, end in STAGES:
        secs = []
        for t in timelines:
            a, b = getattr(t, start), getattr(t, end)
            if a is not None and b is not None:
                secs.append(max(0.0, (b - a).total_seconds()))
        p50, p95 = percentile(secs, 50), percentile(secs, 95)
        out[name] = {"count": len(secs),
                     "p50_s": None if p50 is None else round(p50, 3),
                     "p95_s": None if p95 is None else round(p95, 3)}
    return out


def report(timelines: Sequence[Timeline]) -> dict[str, object]:
    """Overall and per severity (1..5, every severity present, even with no incidents)."""
    return {
        "incidents": len(timelines),
        "overall": stage_stats(timelines),
        "by_severity": {str(sev): stage_stats([t for t in timelines if t.severity == sev])
                        for sev in range(5, 0, -1)},
    }
