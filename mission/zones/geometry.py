"""GeoJSON Polygon validation with messages that say what is wrong and how to fix it.

`validate_polygon(obj)` returns a clean `{"type": "Polygon", "coordinates": ...}` (floats, no
foreign members) or raises `InvalidInput` naming the field (`geometry`,
`geometry.coordinates[0]`, `geometry.coordinates[0][3]`, ...). Checks, in order: a Polygon
object; rings as lists of positions; every position in WGS84 range (a second value outside +-90
that would be a valid longitude is reported as swapped lon/lat); at least 4 positions per ring;
each ring closed; no antimeridian span; a non-degenerate area; and finally GEOS validity (shapely
`explain_validity`: self-intersection, hole outside the shell, nested holes, ...), with the
location of the problem. Holes are allowed.

`to_shape(geometry)` turns a validated geometry into a shapely Polygon for the planner.
"""

from __future__ import annotations

import math
import re
from typing import Any

from shapely.geometry import LinearRing, Polygon
from shapely.validation import explain_validity

from mission.zones.geo import InvalidInput, check_lon_lat

MAX_RINGS = 100
MAX_POSITIONS = 20_000

_REASON = re.compile(r"^(?P<reason>.*?)\s*\[(?P<x>\S+) (?P<y>\S+)\]$")

_REASONS = {
    "Self-intersection": "edges cross each other",
    "Ring Self-intersection": "a ring touches or crosses itself",
    "Hole lies outside shell": "a hole lies (partly) outside the exterior ring",
    "Nested holes": "a hole lies inside another hole",
    "Interior is disconnected": "the holes cut the polygon's interior into separate pieces",
    "Duplicate Rings": "two rings are identical",
    "Too few points": "a ring has fewer than 3 distinct corners",
    "Invalid Coordinate": "a position is not a valid coordinate",
}


def _ring_name(i: int) -> str:
    return "the exterior ring" if i == 0 else f"hole {i}"


def _fmt(pos: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in pos) + "]"


def validate_polygon(obj: Any, field: str = "geometry") -> dict[str, Any]:
    """Validate a GeoJSON Polygon geometry; returns its clean form or raises InvalidInput."""
    if isinstance(obj, list):
        raise InvalidInput(field, 'expected a GeoJSON geometry object {"type": "Polygon", '
                                  '"coordinates": [...]}, got a bare list', error="not_a_polygon")
    if not isinstance(obj, dict):
        raise InvalidInput(field, f"expected a GeoJSON Polygon object, got {type(obj).__name__}",
                           error="not_a_polygon")
    kind = obj.get("type")
    if kind == "Feature":
        raise InvalidInput(field, "expected a Polygon geometry, got a Feature: send the "
                                  "Feature's 'geometry' member", error="not_a_polygon")
    if kind == "MultiPolygon":
        raise InvalidInput(field, "expected a Polygon, got a MultiPolygon: create one zone per "
                                  "polygon", error="not_a_polygon")
    if kind != "Polygon":
        raise InvalidInput(field, f"expected a GeoJSON geometry of type 'Polygon', got "
                                  f"{'no type' if kind is None else repr(kind)}",
                           error="not_a_polygon")
    coords = obj.get("coordinates")
    cfield = f"{field}.coordinates"
    if not isinstance(coords, list) or not coords:
        raise InvalidInput(cfield, "a Polygon's coordinates are a non-empty list of linear "
                                   "rings: the exterior ring first, then any holes",
                           error="invalid_polygon")
    if all(isinstance(c, list) and c and not isinstance(c[0], list) for c in coords):
        raise InvalidInput(cfield, "coordinates look like a single ring of positions; a "
                                   "Polygon's coordinates are a list of rings: wrap it as "
                                   "[[[lon, lat], ...]]", error="invalid_polygon")
    if len(coords) > MAX_RINGS:
        raise InvalidInput(cfield, f"{len(coords)} rings; at most {MAX_RINGS} (1 exterior + "
                                   "holes)", error="too_large")
    if sum(len(r) if isinstance(r, list) else 0 for r in coords) > MAX_POSITIONS:
        raise InvalidInput(cfield, f"more than {MAX_POSITIONS} positions; simplify the polygon",
                           error="too_large")

    rings: list[list[list[float]]] = []
    for i, ring in enumerate(coords):
        rfield = f"{cfield}[{i}]"
        if not isinstance(ring, list):
            raise InvalidInput(rfield, f"{_ring_name(i)} must be a list of [lon, lat] positions",
                               error="invalid_polygon")
        clean: list[list[float]] = []
        for j, pos in enumerate(ring):
            pfield = f"{rfield}[{j}]"
            if not isinstance(pos, list) or len(pos) not in (2, 3):
                raise InvalidInput(pfield, f"position {j} of {_ring_name(i)} must be [lon, lat] "
                                           f"or [lon, lat, alt], got {pos!r}",
                                   error="invalid_coordinates")
            try:
                lon, lat = check_lon_lat(pos[0], pos[1], pfield)
            except InvalidInput as e:
                raise InvalidInput(pfield, f"position {j} of {_ring_name(i)}: {e.message}",
                                   error=e.error) from None
            p = [lon, lat]
            if len(pos) == 3:
                alt = pos[2]
                if isinstance(alt, bool) or not isinstance(alt, int | float) \
                        or not math.isfinite(alt):
                    raise InvalidInput(pfield, f"position {j} of {_ring_name(i)}: altitude "
                                               f"{alt!r} is not a number",
                                       error="invalid_coordinates")
                p.append(float(alt))
            clean.append(p)
        closed = len(clean) >= 2 and clean[0] == clean[-1]
        if len(clean) < 4:
            raise InvalidInput(rfield, f"{_ring_name(i)} has {len(clean)} position"
                                       f"{'' if len(clean) == 1 else 's'}"
                                       f"{'' if closed else ' and is not closed'}; a ring "
                                       "needs at least 4 (three corners plus the first "
                                       "repeated at the end)", error="too_few_positions")
        if not closed:
            raise InvalidInput(rfield, f"{_ring_name(i)} is not closed: it starts at "
                                       f"{_fmt(clean[0])} and ends at {_fmt(clean[-1])}; a "
                                       "GeoJSON ring must repeat its first position as its "
                                       "last", error="unclosed_ring")
        rings.append(clean)

    lons = [p[0] for p in rings[0]]
    if max(lons) - min(lons) > 180:
        raise InvalidInput(cfield, "the exterior ring spans more than 180 degrees of longitude; "
                                   "a polygon crossing the antimeridian must be split into two "
                                   "(RFC 7946 3.1.9)", error="invalid_polygon")

    shell = [(p[0], p[1]) for p in rings[0]]
    holes = [[(p[0], p[1]) for p in r] for r in rings[1:]]
    poly = Polygon(shell, holes)
    for i, ring in enumerate([shell, *holes]):
        if Polygon(ring).convex_hull.area == 0:
            raise InvalidInput(f"{cfield}[{i}]", f"{_ring_name(i)} encloses no area: its "
                                                 "corners lie on one line or one point",
                               error="degenerate_polygon")
    if not poly.is_valid:
        raise InvalidInput(cfield, _invalid_message(poly, shell, holes),
                           error="invalid_polygon")
    return {"type": "Polygon", "coordinates": rings}


def _invalid_message(
    poly: Polygon, shell: list[tuple[float, float]], holes: list[list[tuple[float, float]]]
) -> str:
    raw = explain_validity(poly)
    m = _REASON.match(raw)
    reason, where = raw, ""
    if m:
        reason = m.group("reason")
        where = f" at lon {float(m.group('x')):g}, lat {float(m.group('y')):g}"
    crossing = [i for i, r in enumerate([shell, *holes]) if not LinearRing(r).is_simple]
    if reason in ("Self-intersection", "Ring Self-intersection") and crossing:
        i = crossing[0]
        text = (f"{_ring_name(i)} crosses itself{where} (self-intersecting, like a bow-tie: "
                "its corners are probably out of order)")
    elif reason == "Self-intersection" and holes:
        text = f"a hole touches or crosses the exterior ring or another hole{where}"
    else:
        text = f"{_REASONS.get(reason, reason)}{where}"
    return f"invalid polygon: {text} [shapely explain_validity: {raw}]"


def to_shape(geometry: dict[str, Any]) -> Polygon:
    """A validated GeoJSON Polygon as a shapely Polygon in (lon, lat) degrees."""
    rings = geometry["coordinates"]
    return Polygon([(p[0], p[1]) for p in rings[0]],
                   [[(p[0], p[1]) for p in r] for r in rings[1:]])


def bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a validated polygon's exterior ring."""
    ring = geometry["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)
