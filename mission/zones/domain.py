"""Zone rules without HTTP or database: validation of a whole zone, PATCH merging, GeoJSON
FeatureCollection import/export, and the shapes the planner consumes.

Import takes a FeatureCollection of Polygon Features whose properties are the zone's fields
(`name`, `kind`, `risk_level`, `min_alt_m`, `max_alt_m`, `active`, `description`; `id`,
`created_at`, `updated_at` and `bbox` from an export are ignored). Every feature is validated
first; any error fails the whole import with one entry per problem (`row` = 1-based feature
number, `field`, `message`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from shapely.geometry import Polygon

from mission.zones.geo import InvalidInput, InvalidRows, feature_list, field_errors
from mission.zones.geometry import to_shape, validate_polygon
from mission.zones.models import ZoneCreate, ZoneKind, ZonePublic, ZoneUpdate

MAX_IMPORT_FEATURES = 5_000
_EXPORT_ONLY = ("id", "created_at", "updated_at", "bbox")


def check_zone(z: ZoneCreate) -> ZoneCreate:
    """The zone with its geometry cleaned, or InvalidInput naming the field."""
    geometry = validate_polygon(z.geometry, "geometry")
    if z.kind == ZoneKind.RED and z.risk_level is None:
        raise InvalidInput("risk_level", "a red zone needs a risk_level from 1 to 5",
                           error="invalid_zone")
    if z.kind == ZoneKind.NO_FLY and z.risk_level is not None:
        raise InvalidInput("risk_level", "only red zones have a risk level; send null for a "
                                         "no_fly zone", error="invalid_zone")
    if z.min_alt_m is not None and z.max_alt_m is not None and z.min_alt_m >= z.max_alt_m:
        raise InvalidInput("min_alt_m", f"min_alt_m ({z.min_alt_m:g}) must be below max_alt_m "
                                        f"({z.max_alt_m:g})", error="invalid_zone")
    return z.model_copy(update={"geometry": geometry})


def merge_update(current: ZoneCreate, patch: ZoneUpdate) -> ZoneCreate:
    """Apply a PATCH to the current zone and validate the result as a whole."""
    data = current.model_dump()
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if value is None and name in ("name", "kind", "geometry", "active", "description"):
            raise InvalidInput(name, "may not be null", error="invalid_zone")
        data[name] = value
    try:
        merged = ZoneCreate.model_validate(data)
    except ValidationError as e:  # pragma: no cover - the patch model has the same limits
        fe = field_errors(e)[0]
        raise InvalidInput(fe["field"], fe["message"], error="invalid_zone") from None
    return check_zone(merged)


def to_feature(z: ZonePublic) -> dict[str, Any]:
    props = z.model_dump(mode="json", exclude={"geometry"})
    return {"type": "Feature", "id": z.id, "geometry": z.geometry, "properties": props}


def to_feature_collection(zones: Iterable[ZonePublic]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [to_feature(z) for z in zones]}


def parse_feature_collection(data: bytes | Any) -> list[ZoneCreate]:
    """Validated zones from a FeatureCollection; InvalidInput (document) / InvalidRows."""
    features = feature_list(data, MAX_IMPORT_FEATURES)
    errors: list[dict[str, Any]] = []
    zones: list[ZoneCreate] = []
    for row, feat in enumerate(features, 1):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            errors.append({"row": row, "field": "type", "message": "expected a GeoJSON Feature"})
            continue
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            errors.append({"row": row, "field": "properties",
                           "message": "properties must be an object"})
            continue
        raw = {k: v for k, v in props.items() if k not in _EXPORT_ONLY}
        if "geometry" in raw:
            errors.append({"row": row, "field": "properties.geometry",
                           "message": "the geometry is the Feature's 'geometry' member"})
            continue
        raw["geometry"] = feat.get("geometry")
        try:
            zones.append(check_zone(ZoneCreate.model_validate(raw)))
        except ValidationError as e:
            errors.extend({"row": row, **fe} for fe in field_errors(e))
        except InvalidInput as e:
            errors.append({"row": row, "field": e.field, "message": e.message})
    if errors:
        raise InvalidRows(errors, len(features))
    return zones


@dataclass(frozen=True)
class ZoneShape:
    """A zone as the planner uses it: a shapely Polygon in (lon, lat) degrees plus limits."""

    id: int
    name: str
    kind: ZoneKind
    risk_level: int | None
    polygon: Polygon
    min_alt_m: float | None
    max_alt_m: float | None

    def applies_at(self, alt_m: float) -> bool:
        """Whether the zone's altitude band includes `alt_m` (no limits: every altitude)."""
        lo = self.min_alt_m if self.min_alt_m is not None else float("-inf")
        hi = self.max_alt_m if self.max_alt_m is not None else float("inf")
        return lo <= alt_m <= hi


def zone_shape(z: ZonePublic) -> ZoneShape:
    return ZoneShape(id=z.id, name=z.name, kind=z.kind, risk_level=z.risk_level,
                     polygon=to_shape(z.geometry), min_alt_m=z.min_alt_m, max_alt_m=z.max_alt_m)
