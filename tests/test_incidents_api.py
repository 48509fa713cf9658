"""Incidents and hotspots through the real service (one `nazorat serve` subprocess for the
module, no drones). Each test works in its own small area so that tests sharing the database
do not see each other's incidents."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import RunningService, module_service  # noqa: E402

pytestmark = pytest.mark.timeout(60)



def as_user(svc: RunningService, name: str) -> dict[str, str]:
    """Headers that sign a request in as operator `name` (who the history records)."""
    return svc.auth_headers("operator", name)


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "incidents-service",
                              {"NAZORAT_UI_DIR": str(tmp_path_factory.getbasetemp() / "no-ui")})


@pytest.fixture
def c(svc: RunningService) -> Iterator[httpx.Client]:
    with svc.client() as client:
        yield client


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat()


def incident(lat: float, lon: float, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"lat": lat, "lon": lon, "category": "theft", "severity": 3,
                            "source": "citizen_map"}
    body.update(kw)
    return body


def create(c: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None
           ) -> dict[str, Any]:
    r = c.post("/api/incidents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def bbox_around(lat: float, lon: float, d: float = 0.05) -> str:
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def test_create_and_validation_errors_name_the_field(c: httpx.Client) -> None:
    t = now() - timedelta(minutes=10)
    inc = create(c, incident(41.30, 69.24, reported_at=iso(t), description="two men, a van",
                             reporter_contact="+998 90 123 45 67", source="telegram"))
    assert inc["status"] == "new" and inc["reporter_contact"] == "+998 90 123 45 67"
    assert datetime.fromisoformat(inc["reported_at"]) == t
    got = c.get(f"/api/incidents/{inc['id']}")
    assert got.status_code == 200 and got.json() == inc
    assert c.get("/api/incidents/999999").status_code == 404
    # reported_at defaults to now
    d = create(c, incident(41.30, 69.24))
    assert abs(datetime.fromisoformat(d["reported_at"]) - now()) < timedelta(seconds=30)

    schema_cases = [
        (incident(91, 69.24), "lat"),
        (incident(41.3, -180.5), "lon"),
        (incident(41.3, 69.24, category="arson"), "category"),
        (incident(41.3, 69.24, severity=0), "severity"),
        (incident(41.3, 69.24, severity=6), "severity"),
        (incident(41.3, 69.24, source="twitter"), "source"),
        (incident(41.3, 69.24, reported_at="2025-01-01T10:00:00"), "reported_at"),
        (incident(41.3, 69.24, description="x" * 4001), "description"),
        (incident(41.3, 69.24, reporter_contact="x" * 257), "reporter_contact"),
        (incident(41.3, 69.24, status="closed"), "status"),  # not settable on create
        ({"lon": 69.24, "category": "theft", "severity": 3, "source": "camera"}, "lat"),
    ]
    for body, field in schema_cases:
        r = c.post("/api/incidents", json=body)
        assert r.status_code == 422, (field, r.text)
        locs = [e["loc"][-1] for e in r.json()["detail"]]
        assert locs == [field], (field, r.text)
    future = iso(now() + timedelta(hours=2))
    r = c.post("/api/incidents", json=incident(41.3, 69.24, reported_at=future))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["field"] == "reported_at" and "in the future" in detail["message"]
    # within the skew is fine
    create(c, incident(41.3, 69.24, reported_at=iso(now() + timedelta(minutes=2))))


def test_filters_status_category_time_and_bbox(c: httpx.Client) -> None:
    lat, lon = 40.10, 65.10
    t0 = now() - timedelta(hours=10)
    a = create(c, incident(lat, lon, reported_at=iso(t0), category="theft"))
    b = create(c, incident(lat + 0.01, lon + 0.01, reported_at=iso(t0 + timedelta(hours=2)),
                           category="traffic"))
    cc = create(c, incident(lat + 0.02, lon - 0.01, reported_at=iso(t0 + timedelta(hours=4)),
                            category="theft"))
    outside = create(c, incident(lat + 0.2, lon, reported_at=iso(t0 + timedelta(hours=1))))
    assert c.patch(f"/api/incidents/{b['id']}", json={"status": "triaged"}).status_code == 200
    box = bbox_around(lat + 0.01, lon, 0.03)

    def ids(**params: Any) -> list[int]:
        r = c.get("/api/incidents", params={"bbox": box, **params})
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()]

    assert ids() == [cc["id"], b["id"], a["id"]]  # newest report first; `outside` excluded
    big = bbox_around(lat + 0.1, lon, 0.2)
    assert outside["id"] in [i["id"] for i in c.get("/api/incidents",
                                                    params={"bbox": big}).json()]
    assert ids(category="theft") == [cc["id"], a["id"]]
    assert ids(status="triaged") == [b["id"]]
    assert ids(status=["new", "triaged"], category=["traffic", "theft"]) == \
        [cc["id"], b["id"], a["id"]]
    assert ids(**{"from": iso(t0 + timedelta(hours=1))}) == [cc["id"], b["id"]]
    assert ids(**{"to": iso(t0 + timedelta(hours=3))}) == [b["id"], a["id"]]
    assert ids(**{"from": str((t0 + timedelta(hours=1)).timestamp()),
                  "to": iso(t0 + timedelta(hours=3))}) == [b["id"]]
    assert ids(limit=1, offset=1) == [b["id"]]
    # a box that misses by a little
    r = c.get("/api/incidents", params={"bbox": f"{lon + 0.015},{lat - 0.01},{lon + 0.05},"
                                                f"{lat + 0.05}"})
    assert [i["id"] for i in r.json()] == []

    for params, field in [({"bbox": "1,2,3"}, "bbox"), ({"bbox": "65,41,66,40"}, "bbox"),
                          ({"from": "last tuesday"}, "from"),
                          ({"from": iso(t0), "to": iso(t0 - timedelta(hours=1))}, "from")]:
        r = c.get("/api/incidents", params=params)
        assert r.status_code == 422 and r.json()["detail"]["field"] == field, r.text
    r = c.get("/api/incidents", params={"status": "open"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["query", "status"]


def test_bbox_across_the_antimeridian(c: httpx.Client) -> None:
    east = create(c, incident(-17.0, 179.8))
    west = create(c, incident(-17.0, -179.8))
    create(c, incident(-17.0, 0.0))
    r = c.get("/api/incidents", params={"bbox": "179.5,-17.5,-179.5,-16.5"})
    assert sorted(i["id"] for i in r.json()) == sorted([east["id"], west["id"]])


def test_status_flow_illegal_transitions_and_history(
    c: httpx.Client, svc: RunningService
) -> None:
    OP = as_user(svc, "op-7")
    inc = create(c, incident(39.65, 66.96), headers=as_user(svc, "desk-1"))
    iid = inc["id"]
    r = c.patch(f"/api/incidents/{iid}", json={"status": "observed"}, headers=OP)
    assert r.status_code == 409
    d = r.json()["detail"]
    assert d["error"] == "illegal_transition" and (d["from"], d["to"]) == ("new", "observed")
    assert "from new to observed" in d["message"] and d["field"] == "status"

    steps = [("triaged", "op-1", "checked"), ("assigned", "op-2", "drone 3"),
             ("observed", "pilot-3", "two people at the gate")]
    for status, actor, note in steps:
        r = c.patch(f"/api/incidents/{iid}", json={"status": status, "note": note},
                    headers=as_user(svc, actor))
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    # backwards is refused and nothing changes
    r = c.patch(f"/api/incidents/{iid}", json={"status": "triaged", "severity": 5})
    assert r.status_code == 409 and "from observed to triaged" in r.json()["detail"]["message"]
    assert c.get(f"/api/incidents/{iid}").json()["severity"] == 3
    # same status + an edit: no history row, edit kept
    r = c.patch(f"/api/incidents/{iid}", json={"status": "observed", "severity": 4})
    assert r.status_code == 200 and r.json()["severity"] == 4
    r = c.post(f"/api/incidents/{iid}/close", json={"note": "dispersed"}, headers=OP)
    assert r.status_code == 200
    closed = r.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None

    r = c.post(f"/api/incidents/{iid}/close", json={"resolution": "false_alarm"})
    assert r.status_code == 409 and "from closed to false_alarm" in r.json()["detail"]["message"]
    r = c.patch(f"/api/incidents/{iid}", json={"description": "later edit"})
    assert r.status_code == 409 and r.json()["detail"]["error"] == "incident_closed"

    hist = c.get(f"/api/incidents/{iid}/history").json()
    assert [(h["from_status"], h["to_status"], h["actor"], h["note"]) for h in hist] == [
        (None, "new", "desk-1", ""),
        ("new", "triaged", "op-1", "checked"),
        ("triaged", "assigned", "op-2", "drone 3"),
        ("assigned", "observed", "pilot-3", "two people at the gate"),
        ("observed", "closed", "op-7", "dispersed"),
    ]
    times = [datetime.fromisoformat(h["at"]) for h in hist]
    assert times == sorted(times) and times[-1] == datetime.fromisoformat(closed["closed_at"])
    assert c.get("/api/incidents/999999/history").status_code == 404

    # closing early as a false alarm, by the default client's user (the admin)
    other = create(c, incident(39.65, 66.96))
    r = c.post(f"/api/incidents/{other['id']}/close", json={"resolution": "false_alarm"})
    assert r.status_code == 200 and r.json()["status"] == "false_alarm"
    last = c.get(f"/api/incidents/{other['id']}/history").json()[-1]
    assert (last["from_status"], last["to_status"], last["actor"]) == \
        ("new", "false_alarm", svc.admin_user)
    r = c.post(f"/api/incidents/{other['id']}/close", json={"resolution": "triaged"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "resolution"


TRICKY = ["=HYPERLINK(\"http://evil\")", "comma, \"quotes\"\nand a newline", "Тошкент 🚓",
          "-3 on the ring road", ""]


def _portable(i: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in i.items() if k not in ("id", "created_at", "updated_at",
                                                    "closed_at")}


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_export_import_round_trip(c: httpx.Client, svc: RunningService, fmt: str) -> None:
    OP = as_user(svc, "op-7")
    lat, lon = (38.50, 68.70) if fmt == "geojson" else (38.60, 68.80)
    t = now() - timedelta(hours=3)
    made = []
    for k, text in enumerate(TRICKY):
        made.append(create(c, incident(
            lat + k * 0.001, lon + 0.0001234567, reported_at=iso(t + timedelta(seconds=k)),
            description=text, reporter_contact=None if k % 2 else f"+998 9{k}",
            category=["theft", "traffic", "drug_activity", "other", "disturbance"][k],
            severity=k + 1, source=["camera", "telegram", "operator", "other",
                                    "citizen_map"][k])))
    c.patch(f"/api/incidents/{made[1]['id']}", json={"status": "triaged"})
    c.post(f"/api/incidents/{made[2]['id']}/close", json={"resolution": "false_alarm"})
    made = [c.get(f"/api/incidents/{m['id']}").json() for m in made]
    box = bbox_around(lat, lon)
    r = c.get("/api/incidents/export", params={"format": fmt, "bbox": box})
    assert r.status_code == 200
    if fmt == "csv":
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [int(x["id"]) for x in rows] == [m["id"] for m in made]
        assert rows[0]["description"].startswith("'=")  # defused for spreadsheets
        body, ctype = r.content, "text/csv"
    else:
        assert r.headers["content-type"].startswith("application/geo+json")
        doc = r.json()
        assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(made)
        f0 = doc["features"][0]
        assert f0["geometry"] == {"type": "Point", "coordinates": [made[0]["lon"],
                                                                   made[0]["lat"]]}
        body, ctype = r.content, "application/geo+json"
    imp = c.post("/api/incidents/import", content=body, headers={"content-type": ctype, **OP})
    assert imp.status_code == 201, imp.text
    assert imp.json()["imported"] == len(made)
    new_ids = imp.json()["ids"]
    copies = [c.get(f"/api/incidents/{i}").json() for i in new_ids]
    assert [_portable(x) for x in copies] == [_portable(m) for m in made]
    hist = c.get(f"/api/incidents/{new_ids[2]}/history").json()
    assert [(h["from_status"], h["to_status"], h["actor"], h["note"]) for h in hist] == \
        [(None, "false_alarm", "op-7", "imported")]


def test_bad_import_rows_are_reported_and_nothing_is_imported(c: httpx.Client) -> None:
    lat, lon = 37.20, 67.30
    box = bbox_around(lat, lon)
    t = iso(now() - timedelta(hours=1))
    csv_text = (
        "lat,lon,category,severity,source,reported_at,description\n"
        f"{lat},{lon},theft,3,telegram,{t},fine\n"
        f"{lat},{lon},theft,7,telegram,{t},bad severity\n"
        f"{lat},{lon},theft,3,telegram,{t},fine too\n"
        f"{lat},{lon},shoplifting,3,telegram,2025-01-01 10:00,two bad fields\n"
    )
    r = c.post("/api/incidents/import", params={"format": "csv"}, content=csv_text)
    assert r.status_code == 422, r.text
    d = r.json()["detail"]
    assert d["error"] == "invalid_import" and "nothing imported" in d["message"]
    assert {(e["row"], e["field"]) for e in d["errors"]} == \
        {(2, "severity"), (4, "category"), (4, "reported_at")}
    assert c.get("/api/incidents", params={"bbox": box}).json() == []

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"category": "theft", "severity": 2, "source": "camera",
                        "reported_at": t}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lat, 167.3]},
         "properties": {"category": "theft", "severity": 2, "source": "camera",
                        "reported_at": t}},
    ]}
    r = c.post("/api/incidents/import", json=doc)
    assert r.status_code == 422
    (err,) = r.json()["detail"]["errors"]
    assert err["row"] == 2 and err["field"] == "geometry.coordinates"
    assert "swapped" in err["message"]
    assert c.get("/api/incidents", params={"bbox": box}).json() == []

    r = c.post("/api/incidents/import", content=b"lat,lon\n1,2\n",
               headers={"content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "format"
    r = c.post("/api/incidents/import", params={"format": "csv"},
               content=b"lat,lon,category,severity,source,reported_at,colour\n")
    assert r.status_code == 422 and r.json()["detail"]["field"] == "colour"
    r = c.post("/api/incidents/import", content=b"{not json",
               headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]["error"] == "invalid_json"
    # and a good file goes in
    good = "\n".join(csv_text.splitlines()[:2]) + "\n"
    r = c.post("/api/incidents/import", params={"format": "csv"}, content=good)
    assert r.status_code == 201 and r.json()["imported"] == 1
    assert len(c.get("/api/incidents", params={"bbox": box}).json()) == 1


def test_hotspots_cluster_and_rank(c: httpx.Client) -> None:
    lat, lon = 36.00, 64.00
    m = 1 / 111_195.0
    t = now()

    def at(north_m: float, sev: int, age_h: float, **kw: Any) -> int:
        body = incident(lat + north_m * m, lon, severity=sev,
                        reported_at=iso(t - timedelta(hours=age_h)), **kw)
        return int(create(c, body)["id"])

    a = [at(0, 2, 0.1), at(100, 2, 0.1), at(200, 2, 0.1)]   # chain, priority ~6
    b = [at(5000, 5, 0.1)]                                   # single severe, ~16
    old = at(5100, 5, 30)                                    # outside a 24 h window
    closed = at(10000, 5, 0.1)                               # not open: ignored
    c.post(f"/api/incidents/{closed}/close")
    d = [at(15000, 1, 0.1, category="traffic"), at(15050, 1, 0.1, category="traffic")]
    box = bbox_around(lat + 0.07, lon, 0.1)

    r = c.get("/api/hotspots", params={"radius_m": 120, "window_h": 24, "bbox": box})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["half_life_h"] == 6 and body["radius_m"] == 120
    spots = body["hotspots"]
    assert [s["incident_ids"] for s in spots] == [b, a, d]
    assert [s["rank"] for s in spots] == [1, 2, 3]
    assert spots[0]["priority"] == pytest.approx(16 * 0.5 ** (0.1 / 6), rel=0.01)
    assert spots[1]["priority"] == pytest.approx(6 * 0.5 ** (0.1 / 6), rel=0.01)
    assert spots[1]["count"] == 3 and spots[1]["max_severity"] == 2
    assert spots[1]["lat"] == pytest.approx(lat + 100 * m, abs=2e-6)
    assert spots[1]["extent_m"] == pytest.approx(100, abs=1)
    assert spots[2]["categories"] == {"traffic": 2}
    assert old not in [i for s in spots for i in s["incident_ids"]]

    # a wider window brings the old report in, a smaller radius splits the chain
    r = c.get("/api/hotspots", params={"radius_m": 120, "window_h": 48, "bbox": box})
    assert [b[0], old] in [s["incident_ids"] for s in r.json()["hotspots"]]
    r = c.get("/api/hotspots", params={"radius_m": 95, "bbox": box, "min_reports": 2})
    assert [s["incident_ids"] for s in r.json()["hotspots"]] == [d]
    r = c.get("/api/hotspots", params={"radius_m": 120, "bbox": box, "category": "traffic"})
    assert [s["incident_ids"] for s in r.json()["hotspots"]] == [d]
    for params in ({"radius_m": 0}, {"window_h": -1}, {"radius_m": 60_000}):
        assert c.get("/api/hotspots", params=params).status_code == 422
