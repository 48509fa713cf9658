"""The one mission safety check: every path that puts items on a vehicle (raw upload, planned
or imported dispatch, re-task, quick dispatch, set_mission_current, goto) asks this module.

Order: the allow-list and finite numbers (mission.planning.vehicle_items, flight_path
.static_problems), then the flight expanded as ArduCopter flies it from where the vehicle is
(flight_path.expand), then every leg against the legal ceiling and against every active no-fly
zone whose altitude band overlaps the band the leg crosses. The first refusal in flight order is
returned, naming the item index, the check and the zone.

A leg is judged as the region it may sweep: the convex hull of its two ends, each widened by its
uncertainty (a loiter circle). A zone's floor at or below 0 m counts as "from the ground": the
ground is not level with home everywhere, and a vehicle below home must not slip under it.
Pure: shapely and the zone shapes, no FastAPI, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shapely import affinity
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from mission.geo import M_PER_DEG_LAT
from mission.planning.flight_path import (
    DEFAULT_RTL_ALT_M,
    Item,
    Leg,
    PathProblem,
    Start,
    expand,
    static_problems,
)
from mission.zones.domain import ZoneShape

_QUAD = 8  # segments per quarter circle; the polygon is widened to contain the true circle
_WIDEN = 1.0 / math.cos(math.pi / (4 * _QUAD))


@dataclass(frozen=True)
class Refusal:
    """Why a mission (or a goto) must not be flown. `index` is the item (-1: not an item)."""

    index: int
    check: str
    message: str
    zone_id: int | None = None


def _disc(lat: float, lon: float, radius_m: float) -> BaseGeometry:
    if radius_m < 0.001:  # a smaller buffer degenerates to an empty polygon (found by hypothesis)
        return Point(lon, lat)
    dlat = radius_m / M_PER_DEG_LAT * _WIDEN
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return affinity.scale(Point(lon, lat).buffer(1.0, quad_segs=_QUAD), dlon, dlat)


def swept(leg: Leg) -> BaseGeometry:
    """The ground the vehicle may be over on this leg (lon, lat degrees)."""
    a = _disc(*leg.a, leg.a_radius_m)
    b = _disc(*leg.b, leg.b_radius_m)
    if a.equals(b):
        return a
    if isinstance(a, Point) and isinstance(b, Point):
        return MultiPoint([a, b]).convex_hull
    return unary_union([a, b]).convex_hull


def _band(z: ZoneShape) -> tuple[float, float]:
    lo = -math.inf if z.min_alt_m is None or z.min_alt_m <= 0 else z.min_alt_m
    hi = math.inf if z.max_alt_m is None else z.max_alt_m
    return lo, hi


def _band_text(z: ZoneShape) -> str:
    if z.min_alt_m is None and z.max_alt_m is None:
        return "all altitudes"
    lo = "ground" if z.min_alt_m is None else f"{z.min_alt_m:g} m"
    hi = "no ceiling" if z.max_alt_m is None else f"{z.max_alt_m:g} m"
    return f"{lo} to {hi}"


def _outline(z: ZoneShape) -> Polygon:
    return Polygon(z.polygon.exterior)  # a hole is closed too: reaching it crosses the zone


def check_legs(legs: Sequence[Leg], zones: Sequence[ZoneShape],
               max_altitude_m: float) -> Refusal | None:
    """The first leg (in flight order) above the ceiling or into a zone at its altitudes."""
    outlines = [(z, _band(z), _outline(z)) for z in zones]
    seen: set[tuple[object, ...]] = set()
    for leg in legs:
        key = (leg.a, leg.b, leg.low_m, leg.high_m, leg.a_radius_m, leg.b_radius_m)
        if key in seen:  # unrolled loops repeat legs
            continue
        seen.add(key)
        if leg.high_m > max_altitude_m:
            return Refusal(leg.index, "altitude", f"{leg.what}: altitude {leg.high_m:g} m is "
                                                  f"above the legal maximum of "
                                                  f"{max_altitude_m:g} m "
                                                  "(NAZORAT_MAX_ALTITUDE_M)")
        region: BaseGeometry | None = None
        for z, (lo, hi), outline in outlines:
            if leg.high_m < lo or leg.low_m > hi:
                continue
            region = region if region is not None else swept(leg)
            if outline.intersects(region):
                return Refusal(leg.index, "no_fly", f"{leg.what}: the leg at "
                                                    f"{_alts(leg)} enters the no-fly zone "
                                                    f"'{z.name}' (zone {z.id}, "
                                                    f"{_band_text(z)}); no role can override "
                                                    "a no-fly zone", z.id)
    return None


def _alts(leg: Leg) -> str:
    if abs(leg.high_m - leg.low_m) < 0.05:
        return f"{leg.low_m:g} m"
    return f"{leg.low_m:g}-{leg.high_m:g} m"


def check_mission(items: Sequence[Item], start: Start, zones: Sequence[ZoneShape], *,
                  max_altitude_m: float, first: int = 0,
                  rtl_alt_m: float = DEFAULT_RTL_ALT_M,
                  terrain: bool = False) -> Refusal | None:
    """None when the vehicle may fly items[first:] from `start`; else the first refusal."""
    try:
        problem = static_problems(items, terrain=terrain)
        if problem is not None:
            raise problem
        legs = expand(items, start, first=first, rtl_alt_m=rtl_alt_m)
    except PathProblem as p:
        return Refusal(p.index, p.check, p.message)
    return check_legs(legs, zones, max_altitude_m)
