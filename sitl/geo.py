"""Flat-earth geodesy good to centimetres over the few kilometres a patrol covers."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_378_137.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Move a WGS84 point by metres north/east."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def ne_between(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Metres north and east from point 1 to point 2."""
    north = math.radians(lat2 - lat1) * EARTH_RADIUS_M
    east = math.radians(lon2 - lon1) * EARTH_RADIUS_M * math.cos(math.radians((lat1 + lat2) / 2))
    return north, east


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    n, e = ne_between(lat1, lon1, lat2, lon2)
    return math.hypot(n, e)


def bearing_deg(north: float, east: float) -> float:
    """Compass bearing (0..360) of a north/east vector."""
    return math.degrees(math.atan2(east, north)) % 360.0
