"""Zone geometry validation and zone rules without the service."""

from __future__ import annotations

from typing import Any

import pytest

from mission.zones.domain import (
    check_zone,
    merge_update,
    parse_feature_collection,
    to_feature_collection,
    zone_shape,
)
from mission.zones.geo import InvalidInput, InvalidRows
from mission.zones.geometry import validate_polygon
from mission.zones.models import ZoneCreate, ZoneKind, ZonePublic, ZoneUpdate

pytestmark = pytest.mark.nopg  # no database, no service

# A block in Tashkent, [lon, lat]
SQUARE = [[69.24, 41.30], [69.25, 41.30], [69.25, 41.31], [69.24, 41.31], [69.24, 41.30]]
HOLE = [[69.244, 41.304], [69.246, 41.304], [69.246, 41.306], [69.244, 41.304]]


def poly(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def error_of(geom: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as ei:
        validate_polygon(geom)
    return ei.value


def test_valid_polygons_with_and_without_holes() -> None:
    clean = validate_polygon({**poly(SQUARE, HOLE), "bbox": [0, 0, 1, 1], "crs": "x"})
    assert clean == poly(SQUARE, HOLE)  # foreign members dropped
    assert validate_polygon(poly([[x, y, 100] for x, y in SQUARE]))["coordinates"][0][0] == \
        [69.24, 41.30, 100.0]


@pytest.mark.parametrize(("geom", "error", "field", "words"), [
    (poly(SQUARE[:-1]), "unclosed_ring", "geometry.coordinates[0]",
     ["not closed", "starts at [69.24, 41.3] and ends at [69.24, 41.31]"]),
    (poly(SQUARE, [*HOLE[:-1], [69.244, 41.306]]), "unclosed_ring", "geometry.coordinates[1]",
     ["hole 1 is not closed"]),
    (poly([[0, 0], [1, 1], [0, 0]]), "too_few_positions", "geometry.coordinates[0]",
     ["3 positions", "at least 4"]),
    (poly([[69.24, 41.30], [69.25, 41.31], [69.25, 41.30], [69.24, 41.31], [69.24, 41.30]]),
     "invalid_polygon", "geometry.coordinates",
     ["crosses itself", "self-intersecting", "bow-tie", "lon 69.245, lat 41.305",
      "Self-intersection"]),
    (poly([[41.30, 169.24], [41.31, 169.24], [41.31, 169.25], [41.30, 169.24]]),
     "swapped_coordinates", "geometry.coordinates[0][0]",
     ["latitude 169.24 is outside -90..90", "swapped", "[longitude, latitude]",
      "[169.24, 41.3]"]),
    (poly([[190, 10], [191, 10], [191, 11], [190, 10]]), "out_of_range",
     "geometry.coordinates[0][0]", ["longitude 190 is outside -180..180"]),
    (poly([[100, 95], [100, 96], [101, 96], [100, 95]]), "out_of_range",
     "geometry.coordinates[0][0]", ["latitude 95 is outside -90..90"]),
    (poly([[0, 0], [1, 1], [2, 2], [0, 0]]), "degenerate_polygon", "geometry.coordinates[0]",
     ["encloses no area"]),
    (poly(SQUARE, [[69.30, 41.30], [69.31, 41.30], [69.31, 41.31], [69.30, 41.30]]),
     "invalid_polygon", "geometry.coordinates", ["hole lies (partly) outside"]),
    ({"type": "Point", "coordinates": [69.2, 41.3]}, "not_a_polygon", "geometry",
     ["type 'Polygon'", "'Point'"]),
    ({"type": "MultiPolygon", "coordinates": [[SQUARE]]}, "not_a_polygon", "geometry",
     ["one zone per polygon"]),
    ({"type": "Feature", "geometry": poly(SQUARE)}, "not_a_polygon", "geometry",
     ["'geometry' member"]),
    ({"type": "Polygon", "coordinates": SQUARE}, "invalid_polygon", "geometry.coordinates",
     ["list of rings"]),
    (poly([[179, 0], [-179, 0], [-179, 1], [179, 0]]), "invalid_polygon",
     "geometry.coordinates", ["antimeridian"]),
    ({"type": "Polygon", "coordinates": [[[0, 0], ["1", 0], [1, 1], [0, 0]]]},
     "invalid_coordinates",
     "geometry.coordinates[0][1]", ["two numbers"]),
])
def test_geometry_errors_say_what_is_wrong(
    geom: Any, error: str, field: str, words: list[str]
) -> None:
    e = error_of(geom)
    assert (e.error, e.field) == (error, field), e.message
    for w in words:
        assert w in e.message, e.message


def zone(**kw: Any) -> ZoneCreate:
    base: dict[str, Any] = {"name": "Chilonzor market", "kind": "red", "risk_level": 4,
                            "geometry": poly(SQUARE)}
    base.update(kw)
    return ZoneCreate.model_validate(base)


def test_zone_rules() -> None:
    assert check_zone(zone()).risk_level == 4
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"risk_level": None}, "risk_level", "red zone needs a risk_level"),
        ({"kind": "no_fly"}, "risk_level", "only red zones"),
        ({"min_alt_m": 120, "max_alt_m": 60}, "min_alt_m", "must be below max_alt_m"),
        ({"geometry": poly(SQUARE[:-1])}, "geometry.coordinates[0]", "not closed"),
    ]
    for kw, field, words in cases:
        with pytest.raises(InvalidInput) as ei:
            check_zone(zone(**kw))
        assert ei.value.field == field and words in ei.value.message


def test_merge_update_validates_the_result() -> None:
    z = zone()
    with pytest.raises(InvalidInput, match="only red zones"):
        merge_update(z, ZoneUpdate(kind=ZoneKind.NO_FLY))
    nf = merge_update(z, ZoneUpdate.model_validate({"kind": "no_fly", "risk_level": None}))
    assert nf.kind == ZoneKind.NO_FLY and nf.risk_level is None
    with pytest.raises(InvalidInput) as ei:
        merge_update(z, ZoneUpdate.model_validate({"name": None}))
    assert ei.value.field == "name"


def test_feature_collection_round_trip_and_errors() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 1, 1, tzinfo=UTC)
    pub = ZonePublic(id=5, name="no drones", kind=ZoneKind.NO_FLY, risk_level=None,
                     geometry=poly(SQUARE, HOLE), min_alt_m=None, max_alt_m=150, active=False,
                     description="stadium", bbox=[69.24, 41.30, 69.25, 41.31],
                     created_at=now, updated_at=now)
    (back,) = parse_feature_collection(to_feature_collection([pub]))
    assert back.model_dump() == {
        "name": "no drones", "kind": ZoneKind.NO_FLY, "risk_level": None,
        "geometry": poly(SQUARE, HOLE), "min_alt_m": None, "max_alt_m": 150, "active": False,
        "description": "stadium",
    }
    shape = zone_shape(pub)
    assert shape.polygon.area > 0 and len(shape.polygon.interiors) == 1
    assert shape.applies_at(100) and not shape.applies_at(200)

    good = {"type": "Feature", "geometry": poly(SQUARE),
            "properties": {"name": "a", "kind": "red", "risk_level": 2}}
    doc = {"type": "FeatureCollection", "features": [
        good,
        {**good, "geometry": poly(SQUARE[:-1])},
        {**good, "properties": {"name": "b", "kind": "purple"}},
        "nope",
    ]}
    with pytest.raises(InvalidRows) as ei:
        parse_feature_collection(doc)
    got = {(e["row"], e["field"]) for e in ei.value.errors}
    assert got == {(2, "geometry.coordinates[0]"), (3, "kind"), (4, "type")}
    assert str(ei.value) == "3 of 4 rows invalid; nothing imported"
