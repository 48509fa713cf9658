"""Distances on the Earth for the whole service, with one Earth radius.

Before this module the planner's local frame used the WGS84 equatorial radius (6,378,137 m),
the flown-route estimate 6,371,000 m and the zone and hotspot code the IUGG mean radius: the
same two points were three different distances apart, up to 0.1 % (11 m over a 10 km route),
enough for a battery reserve or an import radius to be judged one way in one place and the
other way in another. Everything in `mission` now uses the mean radius below; the difference
from what ArduPilot itself computes (6,378,100 m in its location scaling) is the 0.1 % a
spherical model costs anyway, below what a battery estimate can tell.

Pure math: the planner (mission/planning, no I/O) imports it too. The simulator (`sitl/geo.py`)
keeps its own radius on purpose: it is a separate program that mirrors ArduPilot's arithmetic.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180.0  # metres per degree of latitude


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres: exact (for the sphere) from 1 m to the other side of
    the world, where an equirectangular formula is not."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def m_per_deg_lon(lat: float) -> float:
    """Metres per degree of longitude at latitude `lat` (degrees)."""
    return M_PER_DEG_LAT * math.cos(math.radians(lat))
