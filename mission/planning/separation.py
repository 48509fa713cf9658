"""Own-fleet separation of a commanded path (pure): does the flight a command would start take
this drone within the separation minima of another of our drones?

Other drones are points (where a drone holds: in the air in GUIDED, BRAKE, LOITER, ...; or the
target of a goto it was sent to). A drone flying a mission (AUTO) or returning is not a point
and is left to the altitude layers the planner gives each drone, and to the live picture.
A leg (mission/planning/flight_path.py) is a horizontal segment flown somewhere inside an
altitude band: it conflicts with a point closer than `h_m` to the segment whose altitude is
within `v_m` of the band. A point the drone is already inside the minima of does not count:
moving away from it must stay possible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mission.geo import M_PER_DEG_LAT, m_per_deg_lon
from mission.planning.flight_path import Leg

__all__ = ["DEFAULT_H_M", "DEFAULT_V_M", "Conflict", "Leg", "Point", "first_conflict"]

DEFAULT_H_M = 30.0
DEFAULT_V_M = 15.0


@dataclass(frozen=True)
class Point:
    """Another drone where it is or will hold: `what` says which (for the refusal)."""

    drone_id: int
    lat: float
    lon: float
    alt_amsl_m: float
    what: str = "position"


@dataclass(frozen=True)
class Conflict:
    leg: Leg
    other: Point
    h_m: float
    v_m: float


def _segment_distance(p: Point, a: tuple[float, float], b: tuple[float, float]) -> float:
    kx = m_per_deg_lon(p.lat)
    ax, ay = (a[1] - p.lon) * kx, (a[0] - p.lat) * M_PER_DEG_LAT
    bx, by = (b[1] - p.lon) * kx, (b[0] - p.lat) * M_PER_DEG_LAT
    dx, dy = bx - ax, by - ay
    dd = dx * dx + dy * dy
    t = 0.0 if dd < 1e-9 else max(0.0, min(1.0, -(ax * dx + ay * dy) / dd))
    return math.hypot(ax + dx * t, ay + dy * t)


def _band_distance(alt: float, low: float, high: float) -> float:
    return 0.0 if low <= alt <= high else min(abs(alt - low), abs(alt - high))


def first_conflict(legs: Sequence[Leg], home_amsl_m: float, here: tuple[float, float, float],
                   others: Sequence[Point], h_m: float = DEFAULT_H_M,
                   v_m: float = DEFAULT_V_M) -> Conflict | None:
    """The first leg that comes within `h_m` and `v_m` of another drone. `here` is where this
    drone is (lat, lon, metres AMSL); legs' altitudes are metres above `home_amsl_m`."""
    for o in others:
        if (_segment_distance(o, here[:2], here[:2]) < h_m
                and abs(o.alt_amsl_m - here[2]) < v_m):
            continue  # already inside: leaving must stay possible
        for leg in legs:
            h = max(0.0, _segment_distance(o, leg.a, leg.b) - max(leg.a_radius_m,
                                                                  leg.b_radius_m))
            v = _band_distance(o.alt_amsl_m, home_amsl_m + leg.low_m, home_amsl_m + leg.high_m)
            if h < h_m and v < v_m:
                return Conflict(leg, o, h, v)
    return None
