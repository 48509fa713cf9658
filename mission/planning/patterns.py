"""What a drone flies on station: a single point (with loiter or orbit), a lawnmower sweep of a
red zone, or its perimeter, already routed around no-fly zones."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from mission.planning.energy import Cost, hover, orbit, transit
from mission.planning.errors import InvalidRequestError, UnreachableTargetError
from mission.planning.geometry import XY, LocalFrame, dist, path_length
from mission.planning.model import (
    Airframe,
    AreaTarget,
    Lawnmower,
    Loiter,
    Orbit,
    Perimeter,
    PointTarget,
    Target,
)
from mission.planning.nofly import NoFlyRouter

_MIN_PIECE_M = 0.5


@dataclass(frozen=True)
class Station:
    """Waypoints flown in order at cruise speed (entry first, exit last), then `hold` if any."""

    target: Target
    waypoints: tuple[XY, ...]
    hold: Loiter | Orbit | None = None

    @property
    def entry(self) -> XY:
        return self.waypoints[0]

    @property
    def exit(self) -> XY:
        return self.waypoints[-1]

    def cost(self, a: Airframe) -> Cost:
        c = transit(a, self.waypoints)
        if isinstance(self.hold, Loiter):
            c = c + hover(a, self.hold.seconds)
        elif isinstance(self.hold, Orbit):
            c = c + orbit(a, self.hold.radius_m, self.hold.turns)
        return c

    @property
    def distance_m(self) -> float:
        d = path_length(self.waypoints)
        if isinstance(self.hold, Orbit):
            d += self.hold.radius_m + 2 * math.pi * self.hold.radius_m * self.hold.turns
        return d


def build_station(target: Target, frame: LocalFrame, router: NoFlyRouter) -> Station:
    if isinstance(target, PointTarget):
        return _point_station(target, frame, router)
    area = frame.polygon(target.polygon, f"target {target.id!r}")
    if isinstance(target.pattern, Lawnmower):
        return _lawnmower_station(target, target.pattern, area, router)
    return _perimeter_station(target, target.pattern, area, router)


def _point_station(t: PointTarget, frame: LocalFrame, router: NoFlyRouter) -> Station:
    p = frame.xy(t.position)
    zone = router.zone_at(p)
    if zone is not None:
        raise UnreachableTargetError(t.id, f"it lies inside no-fly zone {zone!r}")
    pat = t.pattern
    if isinstance(pat, Loiter) and pat.seconds < 0:
        raise InvalidRequestError(f"target {t.id!r}: loiter time must not be negative")
    if isinstance(pat, Orbit):
        if pat.radius_m <= 0 or pat.turns <= 0:
            raise InvalidRequestError(f"target {t.id!r}: orbit radius and turns must be positive")
        crossed = router.zones_crossed(Point(p).buffer(pat.radius_m, quad_segs=16))
        if crossed:
            raise UnreachableTargetError(
                t.id, f"its {pat.radius_m:g} m orbit crosses no-fly zone {crossed[0]!r}"
            )
    return Station(t, (p,), pat)


def _rotate(p: XY, degrees: float, origin: XY) -> XY:
    """Counter-clockwise rotation about origin."""
    a = math.radians(degrees)
    x, y = p[0] - origin[0], p[1] - origin[1]
    c, s = math.cos(a), math.sin(a)
    return (origin[0] + x * c - y * s, origin[1] + x * s + y * c)


def _rotate_geom(g: BaseGeometry, degrees: float, origin: XY) -> BaseGeometry:
    return affinity.rotate(g, degrees, origin=origin)


def _polygons(g: BaseGeometry) -> list[Polygon]:
    if isinstance(g, Polygon):
        return [] if g.is_empty else [g]
    if isinstance(g, MultiPolygon):
        return list(g.geoms)
    return [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon) and not p.is_empty]


def _lines(g: BaseGeometry) -> list[LineString]:
    if isinstance(g, LineString):
        parts = [g]
    elif isinstance(g, MultiLineString):
        parts = list(g.geoms)
    else:
        parts = [p for p in getattr(g, "geoms", []) if isinstance(p, LineString)]
    return [p for p in parts if p.length >= _MIN_PIECE_M]


def sweep_pieces(
    area: Polygon, keep_out: BaseGeometry | None, pat: Lawnmower
) -> list[tuple[XY, XY]]:
    """Boustrophedon sweep legs, in flight order, covering `area` outside `keep_out`.

    Each sweep runs along the heading through the middle of a band `spacing` wide and spans the
    full extent of the band's part of the area, so every point of the area is within spacing/2 of
    a sweep, except where a sweep had to be cut short by the keep-out region.
    """
    origin = (area.centroid.x, area.centroid.y)
    # Rotating counter-clockwise by the compass heading turns the sweep direction to +y.
    allowed = area if keep_out is None else area.difference(keep_out)
    rot = _rotate_geom(allowed, pat.heading_deg, origin)
    rot_keep = None if keep_out is None else _rotate_geom(keep_out, pat.heading_deg, origin)
    if rot.is_empty:
        return []
    minx, miny, maxx, maxy = rot.bounds
    s = pat.spacing_m
    n = max(1, math.ceil((maxx - minx) / s - 1e-9))
    x0 = minx + ((maxx - minx) - (n - 1) * s) / 2
    legs: list[tuple[XY, XY]] = []
    for k in range(n):
        x = x0 + k * s
        band = box(x - s / 2, miny - 1, x + s / 2, maxy + 1).intersection(rot)
        pieces: list[tuple[XY, XY]] = []
        for comp in _polygons(band):
            lo, hi = comp.bounds[1], comp.bounds[3]
            if hi - lo < _MIN_PIECE_M:
                continue  # a sliver the neighbouring sweeps already pass within spacing/2 of
            seg: BaseGeometry = LineString([(x, lo), (x, hi)])
            if rot_keep is not None:
                seg = seg.difference(rot_keep)
            for line in _lines(seg):
                (ax, ay), (bx, by) = line.coords[0], line.coords[-1]
                pieces.append(((ax, min(ay, by)), (bx, max(ay, by))))
        pieces.sort(key=lambda pc: pc[0][1])
        if k % 2:
            pieces = [(b, a) for a, b in reversed(pieces)]
        legs.extend(pieces)
    back = -pat.heading_deg
    return [(_rotate(a, back, origin), _rotate(b, back, origin)) for a, b in legs]


def _join(t: Target, points: list[XY], router: NoFlyRouter) -> tuple[XY, ...]:
    """Connect consecutive points with detours where a straight leg would cross a zone."""
    out: list[XY] = [points[0]]
    for p in points[1:]:
        if dist(out[-1], p) < 1e-6:
            continue
        leg = router.path(out[-1], p)
        if leg is None:
            raise UnreachableTargetError(t.id, "part of it is enclosed by no-fly zones")
        out.extend(leg[1:])
    return tuple(out)


def _lawnmower_station(
    t: AreaTarget, pat: Lawnmower, area: Polygon, router: NoFlyRouter
) -> Station:
    if pat.spacing_m <= 0:
        raise InvalidRequestError(f"target {t.id!r}: lawnmower spacing must be positive")
    legs = sweep_pieces(area, router.keep_out, pat)
    if not legs:
        raise UnreachableTargetError(t.id, "the whole zone lies inside no-fly zones")
    points = [p for leg in legs for p in leg]
    return Station(t, _join(t, points, router))


def _perimeter_station(
    t: AreaTarget, pat: Perimeter, area: Polygon, router: NoFlyRouter
) -> Station:
    if pat.laps < 1 or pat.inset_m < 0:
        raise InvalidRequestError(f"target {t.id!r}: perimeter needs laps >= 1 and inset >= 0")
    ring_poly = area.buffer(-pat.inset_m) if pat.inset_m > 0 else area
    if not isinstance(ring_poly, Polygon) or ring_poly.is_empty:
        raise InvalidRequestError(
            f"target {t.id!r}: a {pat.inset_m:g} m inset leaves no single outline"
        )
    ring: list[XY] = [(float(x), float(y)) for x, y in ring_poly.exterior.coords]
    lap = ring[:-1]
    points = lap * pat.laps + [ring[0]]
    keep = router.keep_out
    points = [p for p in points if keep is None or not keep.intersects(Point(p))]
    if not points:
        raise UnreachableTargetError(t.id, "its whole outline lies inside no-fly zones")
    return Station(t, _join(t, points, router))
