"""Plain geography shared by incidents and zones: WGS84 range checks (with the swapped lon/lat
hint), bounding boxes, and the field-naming validation error (distances: mission/geo.py).

Nothing here imports FastAPI or the database; routes map `InvalidInput` to
`422 {"detail": {"error": ..., "field": ..., "message": ...}}`.

Conventions: GeoJSON order everywhere a position is a list (`[lon, lat]`, RFC 7946); keyword
arguments (`lat=`, `lon=`) everywhere else, so the two can never be confused silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mission import jsonsafe


class InvalidInput(ValueError):
    """One field is wrong; `field` is a dotted path (`geometry.coordinates[0][3]`), `message`
    says what is wrong in words an operator can act on."""

    def __init__(self, field: str, message: str, *, error: str = "invalid_value") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.error = error

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "field": self.field, "message": self.message}


class InvalidRows(ValueError):
    """A bulk import failed validation; `errors` holds one entry per problem, each with the
    1-based `row` (CSV data row / GeoJSON feature), the `field` and the `message`. Nothing was
    stored."""

    def __init__(self, errors: list[dict[str, Any]], total: int) -> None:
        rows = len({e["row"] for e in errors})
        super().__init__(f"{rows} of {total} rows invalid; nothing imported")
        self.errors = errors
        self.total = total


def feature_list(data: bytes | Any, max_features: int, hint: str = "") -> list[Any]:
    """The `features` of a GeoJSON FeatureCollection given as bytes or parsed JSON, or
    InvalidInput naming what is wrong with the document itself (rows are checked by the caller)."""
    if isinstance(data, bytes | bytearray):
        try:
            doc = jsonsafe.loads(data)
        except ValueError as e:
            raise InvalidInput("(body)", f"body is not JSON: {e}", error="invalid_json") from None
    else:
        doc = data
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidInput("type", f"expected a GeoJSON FeatureCollection, got {got!r}",
                           error="invalid_geojson")
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidInput("features", "a FeatureCollection needs a 'features' list",
                           error="invalid_geojson")
    if len(features) > max_features:
        raise InvalidInput("features", f"more than {max_features} features{hint}",
                           error="too_large")
    return features


def field_errors(e: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as `{"field", "message"}` pairs (the convention of mission.fleet)."""
    out = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "(body)")
        out.append({"field": field, "message": err.get("msg", "invalid")})
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def check_lon_lat(lon: Any, lat: Any, field: str) -> tuple[float, float]:
    """Validate one GeoJSON-ordered position `[lon, lat]`; returns it as floats.

    Swapped order is reported as such when the *second* value (which GeoJSON reads as the
    latitude) is outside +-90 but inside +-180 while the first value would be a valid latitude:
    that position only makes sense as [lat, lon]. A swap where both values are within +-90
    (Tashkent is 41.3 N 69.2 E) is undetectable from the numbers alone."""
    x, y = _number(lon), _number(lat)
    if x is None or y is None:
        raise InvalidInput(field, f"position must be two numbers [lon, lat], got {[lon, lat]!r}",
                           error="invalid_coordinates")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput(field, f"position {[lon, lat]!r} is not finite",
                           error="invalid_coordinates")
    if abs(y) > 90 and abs(y) <= 180 and abs(x) <= 90:
        raise InvalidInput(
            field,
            f"latitude {y:g} is outside -90..90: longitude and latitude look swapped. GeoJSON "
            f"positions are [longitude, latitude]; did you mean [{y:g}, {x:g}]?",
            error="swapped_coordinates",
        )
    if abs(x) > 180:
        raise InvalidInput(field, f"longitude {x:g} is outside -180..180",
                           error="out_of_range")
    if abs(y) > 90:
        raise InvalidInput(field, f"latitude {y:g} is outside -90..90", error="out_of_range")
    return x, y


@dataclass(frozen=True)
class BBox:
    """West, south, east, north in degrees (RFC 7946 5.2 order). `west > east` means the box
    crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def contains(self, *, lat: float, lon: float) -> bool:
        if not self.south <= lat <= self.north:
            return False
        if self.crosses_antimeridian:
            return lon >= self.west or lon <= self.east
        return self.west <= lon <= self.east

    def intersects(self, other: BBox) -> bool:
        """Whether two boxes overlap (other must not cross the antimeridian)."""
        if other.north < self.south or other.south > self.north:
            return False
        if self.crosses_antimeridian:
            return other.east >= self.west or other.west <= self.east
        return not (other.east < self.west or other.west > self.east)


def parse_bbox(value: str | None, field: str = "bbox") -> BBox | None:
    """`"west,south,east,north"` (lon,lat,lon,lat, as in GeoJSON and OGC APIs) or None."""
    if value is None or value.strip() == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidInput(field, f"expected 4 numbers west,south,east,north (lon,lat,lon,lat), "
                                  f"got {len(parts)} values", error="invalid_parameter")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(field, f"expected numbers west,south,east,north, got {value!r}",
                           error="invalid_parameter") from None
    check_lon_lat(w, s, field)
    check_lon_lat(e, n, field)
    if s > n:
        raise InvalidInput(field, f"south {s:g} is north of north {n:g}; the order is "
                                  "west,south,east,north", error="invalid_parameter")
    return BBox(w, s, e, n)
