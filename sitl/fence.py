"""Geofence geometry from FENCE-type mission items, checked the way AC_Fence checks it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sitl.geo import ne_between

NAV_FENCE_RETURN_POINT = 5000
NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
NAV_FENCE_CIRCLE_INCLUSION = 5003
NAV_FENCE_CIRCLE_EXCLUSION = 5004
FENCE_COMMANDS = {
    NAV_FENCE_RETURN_POINT, NAV_FENCE_POLYGON_VERTEX_INCLUSION, NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
    NAV_FENCE_CIRCLE_INCLUSION, NAV_FENCE_CIRCLE_EXCLUSION,
}

FENCE_TYPE_ALT_MAX, FENCE_TYPE_CIRCLE, FENCE_TYPE_POLYGON, FENCE_TYPE_ALT_MIN = 1, 2, 4, 8


@dataclass
class Circle:
    lat: float
    lon: float
    radius: float


@dataclass
class FenceGeometry:
    inclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    exclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    inclusion_circles: list[Circle] = field(default_factory=list)
    exclusion_circles: list[Circle] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.inclusion_polygons or self.exclusion_polygons
                    or self.inclusion_circles or self.exclusion_circles)

    def inside_polygons(self, lat: float, lon: float) -> bool:
        """True when the point satisfies every polygon/circle fence (inclusion and exclusion)."""
        for poly in self.inclusion_polygons:
            if not point_in_polygon(lat, lon, poly):
                return False
        for poly in self.exclusion_polygons:
            if point_in_polygon(lat, lon, poly):
                return False
        for c in self.inclusion_circles:
            n, e = ne_between(c.lat, c.lon, lat, lon)
            if (n * n + e * e) ** 0.5 > c.radius:
                return False
        for c in self.exclusion_circles:
            n, e = ne_between(c.lat, c.lon, lat, lon)
            if (n * n + e * e) ** 0.5 < c.radius:
                return False
        return True


def point_in_polygon(lat: float, lon: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        yi, xi = poly[i]
        yj, xj = poly[j]
        if (yi > lat) != (yj > lat):
            x_cross = (xj - xi) * (lat - yi) / (yj - yi) + xi
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


class FenceError(ValueError):
    pass


def parse_fence(items: list[tuple[int, float, float, float, float]]) -> FenceGeometry:
    """Build geometry from (command, param1, param2, lat, lon) items; raise FenceError if malformed.

    Polygon vertices come in runs: param1 of each vertex holds the run's vertex count, as MAVLink's
    mission-protocol fence definition and ArduPilot's AC_PolyFence_loader require.
    """
    geo = FenceGeometry()
    i = 0
    while i < len(items):
        cmd, p1, _p2, lat, lon = items[i]
        if cmd in (NAV_FENCE_POLYGON_VERTEX_INCLUSION, NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
            count = int(p1)
            if count < 3:
                raise FenceError(f"polygon at item {i} has {count} vertices (need 3 or more)")
            run = items[i:i + count]
            if len(run) < count or any(it[0] != cmd or int(it[1]) != count for it in run):
                raise FenceError(f"polygon at item {i} is not {count} consecutive vertices")
            poly = [(it[3], it[4]) for it in run]
            (geo.inclusion_polygons if cmd == NAV_FENCE_POLYGON_VERTEX_INCLUSION
             else geo.exclusion_polygons).append(poly)
            i += count
            continue
        if cmd in (NAV_FENCE_CIRCLE_INCLUSION, NAV_FENCE_CIRCLE_EXCLUSION):
            if p1 <= 0:
                raise FenceError(f"circle at item {i} has radius {p1}")
            (geo.inclusion_circles if cmd == NAV_FENCE_CIRCLE_INCLUSION
             else geo.exclusion_circles).append(Circle(lat, lon, p1))
        elif cmd != NAV_FENCE_RETURN_POINT:
            raise FenceError(f"item {i} command {cmd} is not a fence item")
        i += 1
    return geo
