"""Shared helpers for the planner tests (no tests here): positions in metres around a fixed base
and leg checks done independently of the planner, in lon/lat with shapely."""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry import LineString, Point, Polygon

from mission.geo import EARTH_RADIUS_M
from mission.planning import DroneRoute, LatLon, NoFlyZone, Plan

BASE = LatLon(41.311081, 69.240562)
FAST_S = 0.3  # OR-Tools time limit in tests
_R = EARTH_RADIUS_M  # the service's one radius (mission/geo.py); the formulas here are our own


def at(north_m: float, east_m: float, origin: LatLon = BASE) -> LatLon:
    lat = origin.lat + math.degrees(north_m / _R)
    lon = origin.lon + math.degrees(east_m / (_R * math.cos(math.radians(origin.lat))))
    return LatLon(lat, lon)


def metres(a: LatLon, b: LatLon) -> float:
    n = math.radians(b.lat - a.lat) * _R
    e = math.radians(b.lon - a.lon) * _R * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(n, e)


def rect(n0: float, e0: float, n1: float, e1: float) -> tuple[LatLon, ...]:
    return (at(n0, e0), at(n0, e1), at(n1, e1), at(n1, e0))


def lonlat_polygon(vertices: Sequence[LatLon]) -> Polygon:
    return Polygon([(p.lon, p.lat) for p in vertices])


def legs(route: DroneRoute) -> list[LineString]:
    return [LineString([(a.lon, a.lat), (b.lon, b.lat)])
            for a, b in zip(route.path, route.path[1:], strict=False) if a != b]


def assert_clear_of(plan: Plan, zones: Sequence[NoFlyZone]) -> None:
    """No leg of any route crosses or touches a zone; no waypoint lies in one."""
    for z in zones:
        poly = lonlat_polygon(z.polygon)
        for r in plan.routes:
            for leg in legs(r):
                assert not poly.intersects(leg), f"{r.drone_id}: leg {leg.wkt} crosses {z.id}"
            for it in r.items:
                if it.lat or it.lon:
                    assert not poly.intersects(Point(it.lon, it.lat)), (r.drone_id, it.seq, z.id)


def served(plan: Plan) -> list[str]:
    return [v.target_id for r in plan.routes for v in r.visits]
