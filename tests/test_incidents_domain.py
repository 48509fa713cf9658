"""Incident rules without the service: status flow, times, hotspots, CSV/GeoJSON parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mission.geo import haversine_m
from mission.incidents import io
from mission.incidents.domain import (
    IllegalTransition,
    IncidentFinal,
    check_reported_at,
    check_transition,
    parse_time,
    plan_update,
)
from mission.incidents.hotspots import Report, find_hotspots, report_weight
from mission.incidents.models import (
    Category,
    Incident,
    IncidentPublic,
    IncidentUpdate,
    IncidentWithContact,
    Source,
    Status,
)
from mission.incidents.service import public
from mission.zones.geo import (
    BBox,
    InvalidInput,
    InvalidRows,
    check_lon_lat,
    parse_bbox,
)

pytestmark = pytest.mark.nopg  # no database, no service

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
S = Status


# -- status flow ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    (S.NEW, S.TRIAGED), (S.TRIAGED, S.ASSIGNED), (S.ASSIGNED, S.OBSERVED),
    (S.OBSERVED, S.CLOSED), (S.OBSERVED, S.FALSE_ALARM), (S.NEW, S.CLOSED),
    (S.NEW, S.FALSE_ALARM), (S.TRIAGED, S.CLOSED), (S.ASSIGNED, S.FALSE_ALARM),
])
def test_allowed_transitions(a: Status, b: Status) -> None:
    check_transition(a, b)


@pytest.mark.parametrize(("a", "b", "why"), [
    (S.NEW, S.OBSERVED, "from new the next status is triaged, closed or false_alarm"),
    (S.ASSIGNED, S.TRIAGED, "from assigned the next status is observed"),
    (S.CLOSED, S.TRIAGED, "closed is final"),
    (S.FALSE_ALARM, S.CLOSED, "false_alarm is final"),
    (S.CLOSED, S.CLOSED, "already closed"),
    (S.NEW, S.NEW, "already new"),
])
def test_illegal_transitions_name_both_statuses(a: Status, b: Status, why: str) -> None:
    with pytest.raises(IllegalTransition) as ei:
        check_transition(a, b)
    assert ei.value.message.startswith(f"cannot change status from {a.value} to {b.value}")
    assert why in ei.value.message
    assert (ei.value.from_status, ei.value.to_status) == (a, b)


def test_plan_update_rules() -> None:
    changes, target = plan_update(1, S.NEW, IncidentUpdate(severity=4, status=S.TRIAGED), NOW)
    assert changes == {"severity": 4} and target == S.TRIAGED
    # same status: no transition, no history row
    assert plan_update(1, S.TRIAGED, IncidentUpdate(status=S.TRIAGED), NOW) == ({}, None)
    with pytest.raises(IllegalTransition):
        plan_update(1, S.NEW, IncidentUpdate(status=S.ASSIGNED), NOW)
    with pytest.raises(IncidentFinal, match="incident 7 is false_alarm"):
        plan_update(7, S.FALSE_ALARM, IncidentUpdate(description="x"), NOW)
    with pytest.raises(InvalidInput) as ei:
        plan_update(1, S.NEW, IncidentUpdate.model_validate({"severity": None}), NOW)
    assert ei.value.field == "severity"
    # the contact may be erased
    changes, _ = plan_update(1, S.NEW, IncidentUpdate.model_validate(
        {"reporter_contact": None}), NOW)
    assert changes == {"reporter_contact": None}


# -- times -----------------------------------------------------------------------------------


def test_reported_at_skew_and_timezone() -> None:
    tashkent = datetime(2025, 6, 1, 17, 3, tzinfo=timezone(timedelta(hours=5)))
    assert check_reported_at(tashkent, NOW) == datetime(2025, 6, 1, 12, 3, tzinfo=UTC)
    with pytest.raises(InvalidInput) as ei:
        check_reported_at(NOW + timedelta(minutes=6), NOW)
    assert ei.value.field == "reported_at" and "6 min in the future" in ei.value.message
    with pytest.raises(InvalidInput, match="timezone"):
        check_reported_at(datetime(2025, 6, 1, 12), NOW)


def test_parse_time_forms() -> None:
    assert parse_time("1748779200", "from") == NOW
    assert parse_time("2025-06-01T12:00:00Z", "from") == NOW
    assert parse_time("2025-06-01T17:00:00+05:00", "from") == NOW
    assert parse_time("2025-06-01T12:00:00", "from") == NOW  # naive query time = UTC
    with pytest.raises(InvalidInput) as ei:
        parse_time("yesterday", "to")
    assert ei.value.field == "to"


# -- geography ------------------------------------------------------------------------------


def test_bbox_parsing_and_antimeridian() -> None:
    b = parse_bbox("69.1,41.2,69.4,41.4")
    assert b == BBox(69.1, 41.2, 69.4, 41.4)
    assert b.contains(lat=41.3, lon=69.2) and not b.contains(lat=41.3, lon=69.5)
    wrap = parse_bbox("179,-1,-179,1")
    assert wrap is not None and wrap.crosses_antimeridian
    assert wrap.contains(lat=0, lon=179.5) and wrap.contains(lat=0, lon=-179.5)
    assert not wrap.contains(lat=0, lon=0)
    for bad, words in [("1,2,3", "4 numbers"), ("a,b,c,d", "numbers"),
                       ("0,10,1,5", "south 10 is north of north 5"),
                       ("0,0,200,1", "longitude 200")]:
        with pytest.raises(InvalidInput) as ei:
            parse_bbox(bad)
        assert ei.value.field == "bbox" and words in ei.value.message


def test_swapped_lon_lat_hint() -> None:
    with pytest.raises(InvalidInput) as ei:
        check_lon_lat(41.3, 120.5, "p")
    assert ei.value.error == "swapped_coordinates" and "[120.5, 41.3]" in ei.value.message
    with pytest.raises(InvalidInput) as ei:
        check_lon_lat(100, 95, "p")  # neither order is possible: plain out of range
    assert ei.value.error == "out_of_range" and "latitude 95" in ei.value.message
    assert check_lon_lat(69.24, 41.31, "p") == (69.24, 41.31)


# -- hotspots ---------------------------------------------------------------------------------

BASE_LAT, BASE_LON = 41.30, 69.24
M_LAT = 1 / 111_195.0  # degrees latitude per metre


def rep(i: int, north_m: float, *, sev: int = 3, age_h: float = 0.0, lat: float = BASE_LAT,
        lon: float = BASE_LON) -> Report:
    return Report(id=i, lat=lat + north_m * M_LAT, lon=lon, severity=sev,
                  reported_at=NOW - timedelta(hours=age_h))


def test_single_link_chains_and_separates() -> None:
    # 1-2 and 2-3 are 150 m apart (linked), 1-3 is 300 m (linked only through 2);
    # 4 is 1 km away: its own hotspot.
    reports = [rep(1, 0), rep(2, 150), rep(3, 300), rep(4, 1300)]
    spots = find_hotspots(reports, radius_m=200, window_h=24, now=NOW)
    assert sorted(h.incident_ids for h in spots) == [[1, 2, 3], [4]]
    big = next(h for h in spots if h.count == 3)
    assert big.lat == pytest.approx(BASE_LAT + 150 * M_LAT, abs=1e-6)
    assert big.extent_m == pytest.approx(150, abs=1)
    # a shorter radius breaks the chain
    spots = find_hotspots(reports, radius_m=140, window_h=24, now=NOW)
    assert len(spots) == 4


def test_hotspot_window_min_reports_and_antimeridian() -> None:
    reports = [rep(1, 0, age_h=1), rep(2, 50, age_h=30), rep(3, 2000, age_h=2)]
    spots = find_hotspots(reports, radius_m=200, window_h=24, now=NOW)
    assert [h.incident_ids for h in spots] == [[1], [3]]  # 2 is older than the window
    assert find_hotspots(reports, radius_m=200, window_h=48, now=NOW, min_reports=2)[0] \
        .incident_ids == [1, 2]
    east = Report(10, 0.0, 179.9995, 3, NOW)
    west = Report(11, 0.0, -179.9995, 3, NOW)  # 111 m apart across the antimeridian
    spots = find_hotspots([east, west], radius_m=150, window_h=1, now=NOW)
    assert [h.incident_ids for h in spots] == [[10, 11]]
    assert abs(spots[0].lon) == pytest.approx(180, abs=1e-3)


def test_priority_formula_and_ordering() -> None:
    assert report_weight(5, 0, 6) == 16
    assert report_weight(1, 0, 6) == 1
    assert report_weight(3, 6, 6) == pytest.approx(2)  # one half-life halves the weight
    assert report_weight(4, 6, 6) == pytest.approx(report_weight(3, 0, 6))
    far = 5000.0
    reports = [
        # A: three fresh severity-2 reports -> 3 * 2 = 6
        rep(1, 0, sev=2), rep(2, 20, sev=2), rep(3, 40, sev=2),
        # B: one fresh severity-5 report -> 16
        rep(4, far, sev=5),
        # C: one severity-5 report 12 h old (two half-lives of 6 h) -> 4
        rep(5, 2 * far, sev=5, age_h=12),
        # D: the same as A but 6 h old -> 3
        rep(6, 3 * far, sev=2, age_h=6), rep(7, 3 * far + 20, sev=2, age_h=6),
        rep(8, 3 * far + 40, sev=2, age_h=6),
    ]
    spots = find_hotspots(reports, radius_m=100, window_h=24, now=NOW)
    assert [h.incident_ids for h in spots] == [[4], [1, 2, 3], [5], [6, 7, 8]]
    assert [h.priority for h in spots] == [16, 6, 4, 3]
    assert [h.rank for h in spots] == [1, 2, 3, 4]
    # an explicit half-life changes the recency weighting: 24 h -> C = 16 * 0.5**0.5
    spots = find_hotspots(reports, radius_m=100, window_h=24, now=NOW, half_life_h=24)
    c = next(h for h in spots if h.incident_ids == [5])
    assert c.priority == pytest.approx(16 * 0.5 ** 0.5, abs=1e-3)


def test_many_reports_cluster_quickly() -> None:
    import random
    import time

    rng = random.Random(7)
    reports = [Report(i, BASE_LAT + rng.uniform(-0.2, 0.2), BASE_LON + rng.uniform(-0.2, 0.2),
                      rng.randint(1, 5), NOW - timedelta(hours=rng.uniform(0, 23)))
               for i in range(5000)]
    t0 = time.monotonic()
    spots = find_hotspots(reports, radius_m=150, window_h=24, now=NOW)
    assert time.monotonic() - t0 < 5
    assert sum(h.count for h in spots) == 5000
    # cross-check a sample of the grid against brute force: every member of a multi-report
    # hotspot has a neighbour within the radius in the same hotspot
    for h in [h for h in spots if h.count > 1][:50]:
        members = [reports[i] for i in h.incident_ids]
        for a in members:
            assert any(haversine_m(a.lat, a.lon, b.lat, b.lon) <= 150
                       for b in members if b is not a)


# -- bulk formats -----------------------------------------------------------------------------


def _incident(**kw: Any) -> IncidentWithContact:
    base: dict[str, Any] = dict(
        id=1, lat=41.3, lon=69.24, category=Category.THEFT, severity=3,
        source=Source.TELEGRAM, status=Status.NEW, reported_at=NOW, description="",
        reporter_contact=None, created_at=NOW, updated_at=NOW, closed_at=None,
    )
    base.update(kw)
    return IncidentWithContact(**base)


@pytest.mark.parametrize("text", [
    "=HYPERLINK(\"http://x\")", "+998 90 123", "-5 degrees", "@home", "'quoted",
    "''", "'", "plain, with \"quotes\"\nand a newline", "Тошкент, Чилонзор", " lead space",
])
def test_csv_round_trip_keeps_text_and_defuses_formulas(text: str) -> None:
    csv_text = io.to_csv([_incident(description=text, reporter_contact=text)])
    data_line = csv_text.split("\r\n", 1)[1]
    assert not data_line.split(",")[8].lstrip('"').startswith(("=", "+", "-", "@"))
    (item,) = io.parse_csv(csv_text.encode(), NOW)
    assert item.description == text
    assert item.reporter_contact == (text if text.strip() else None)


def test_csv_row_errors_name_row_line_and_field() -> None:
    csv_text = (
        "lat,lon,category,severity,source,reported_at,description\n"
        "41.3,69.2,theft,3,telegram,2025-06-01T10:00:00Z,ok\n"
        "41.3,69.2,theft,9,telegram,2025-06-01T10:00:00Z,bad severity\n"
        "\"multi\nline\",69.2,arson,3,telegram,2025-06-01T10:00:00,three errors\n"
        "41.3,69.2,theft,3,telegram,2030-01-01T00:00:00Z,future\n"
        "41.3,69.2\n"
    )
    with pytest.raises(InvalidRows) as ei:
        io.parse_csv(csv_text.encode(), NOW)
    errs = {(e["row"], e["field"]) for e in ei.value.errors}
    assert errs == {(2, "severity"), (3, "lat"), (3, "category"), (3, "reported_at"),
                    (4, "reported_at"), (5, "(row)")}
    lines = {e["row"]: e["line"] for e in ei.value.errors}
    assert lines[2] == 3 and lines[3] == 5 and lines[5] == 7  # row 3 spans lines 4-5
    assert str(ei.value) == "4 of 5 rows invalid; nothing imported"
    future = next(e for e in ei.value.errors if e["row"] == 4)
    assert "in the future" in future["message"]


@pytest.mark.parametrize(("header", "field", "words"), [
    ("lat,lon,category,severity,source,reported_at,colour", "colour", "unknown column"),
    ("lat,lon,category,severity,source", "reported_at", "missing"),
    ("lat,lat,lon,category,severity,source,reported_at", "lat", "twice"),
])
def test_csv_header_errors(header: str, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as ei:
        io.parse_csv((header + "\n").encode(), NOW)
    assert ei.value.field == field and words in ei.value.message


def test_geojson_feature_errors() -> None:
    def feat(coords: Any, **props: Any) -> dict[str, Any]:
        p = {"category": "theft", "severity": 2, "source": "camera",
             "reported_at": "2025-06-01T10:00:00Z", **props}
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coords},
                "properties": p}

    doc = {"type": "FeatureCollection", "features": [
        feat([69.2, 41.3]),
        feat([41.3, 169.2]),
        feat([69.2, 41.3], severity=0),
        feat([69.2, 41.3], colour="red"),
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": []},
         "properties": {}},
    ]}
    with pytest.raises(InvalidRows) as ei:
        io.parse_geojson(doc, NOW)
    by_row = {e["row"]: e for e in ei.value.errors}
    assert sorted(by_row) == [2, 3, 4, 5]
    assert by_row[2]["field"] == "geometry.coordinates" and "swapped" in by_row[2]["message"]
    assert by_row[3]["field"] == "severity"
    assert by_row[4]["field"] == "colour"
    assert by_row[5]["field"] == "geometry" and "Point" in by_row[5]["message"]
    with pytest.raises(InvalidInput) as ei2:
        io.parse_geojson({"type": "Feature"}, NOW)
    assert ei2.value.field == "type"


def test_response_model_can_omit_contact() -> None:
    row = Incident(id=3, lat=1.0, lon=2.0, category="theft", severity=2, source="camera",
                   status="new", reported_at=NOW, reporter_contact="+998 90 000",
                   created_at=NOW, updated_at=NOW)
    full = public(row)
    assert isinstance(full, IncidentWithContact) and full.reporter_contact == "+998 90 000"
    restricted = public(row, include_contact=False)
    assert type(restricted) is IncidentPublic
    assert "reporter_contact" not in restricted.model_dump()
