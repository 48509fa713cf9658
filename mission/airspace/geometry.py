"""Pure geometry of two aircraft: separation now and at the closest point of approach (CPA).

Both move in straight lines at their present velocity (the usual first-order prediction of
traffic advisories), in a local flat frame around the drone: over the few kilometres an
advisory concerns, the flat-Earth error is centimetres. Horizontal and vertical separation are
kept apart, as separation minima are: 1 km and 150 m is not "1 km away".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from mission.geo import M_PER_DEG_LAT, m_per_deg_lon


@dataclass(frozen=True, slots=True)
class Mover:
    """A position (WGS84, metres AMSL) and a velocity: ground speed (m/s) along a course
    (degrees from north) and a vertical rate (m/s, up positive)."""

    lat: float
    lon: float
    alt_m: float
    course_deg: float = 0.0
    speed_mps: float = 0.0
    vertical_mps: float = 0.0

    def velocity(self) -> tuple[float, float, float]:
        c = math.radians(self.course_deg)
        return (self.speed_mps * math.sin(c), self.speed_mps * math.cos(c), self.vertical_mps)


@dataclass(frozen=True, slots=True)
class Encounter:
    """Separation of an intruder from a drone: now, and at the CPA within the horizon.

    `t_cpa_s` is when the (3-D) distance is least, from 0 (now, or diverging) to the horizon;
    `closing` is whether they are getting closer."""

    h_now_m: float
    v_now_m: float
    t_cpa_s: float
    h_cpa_m: float
    v_cpa_m: float
    closing: bool


def encounter(own: Mover, other: Mover, horizon_s: float = 60.0) -> Encounter:
    """The encounter of `other` with `own` over the next `horizon_s` seconds."""
    kx = m_per_deg_lon(own.lat)
    dx = (other.lon - own.lon) * kx
    dy = (other.lat - own.lat) * M_PER_DEG_LAT
    dz = other.alt_m - own.alt_m
    ox, oy, oz = own.velocity()
    tx, ty, tz = other.velocity()
    vx, vy, vz = tx - ox, ty - oy, tz - oz
    vv = vx * vx + vy * vy + vz * vz
    dot = dx * vx + dy * vy + dz * vz
    t = 0.0 if vv < 1e-9 else min(max(-dot / vv, 0.0), horizon_s)
    cx, cy, cz = dx + vx * t, dy + vy * t, dz + vz * t
    return Encounter(
        h_now_m=math.hypot(dx, dy), v_now_m=abs(dz), t_cpa_s=t,
        h_cpa_m=math.hypot(cx, cy), v_cpa_m=abs(cz), closing=dot < 0,
    )


class Level(IntEnum):
    CLEAR = 0
    ADVISORY = 1
    ALERT = 2


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Advisory: inside `advisory_h_m` and `advisory_v_m` now, or the CPA within `horizon_s`
    inside the alert volume (a collision course). Alert: inside `alert_h_m` and `alert_v_m`
    now."""

    advisory_h_m: float = 2000.0
    advisory_v_m: float = 300.0
    alert_h_m: float = 1000.0
    alert_v_m: float = 150.0
    horizon_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("advisory_h_m", "advisory_v_m", "alert_h_m", "alert_v_m", "horizon_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be above 0")
        if self.alert_h_m > self.advisory_h_m or self.alert_v_m > self.advisory_v_m:
            raise ValueError("alert_h_m/alert_v_m: the alert volume must lie inside the "
                             "advisory volume")


def level(e: Encounter, th: Thresholds) -> Level:
    if e.h_now_m < th.alert_h_m and e.v_now_m < th.alert_v_m:
        return Level.ALERT
    if e.h_now_m < th.advisory_h_m and e.v_now_m < th.advisory_v_m:
        return Level.ADVISORY
    if e.t_cpa_s > 0 and e.h_cpa_m < th.alert_h_m and e.v_cpa_m < th.alert_v_m:
        return Level.ADVISORY
    return Level.CLEAR
