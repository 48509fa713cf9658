"""Zones through the real service (one `nazorat serve` subprocess for the module)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import RunningService, module_service  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "zones-service",
                              {"NAZORAT_UI_DIR": str(tmp_path_factory.getbasetemp() / "no-ui")})


@pytest.fixture
def c(svc: RunningService) -> Iterator[httpx.Client]:
    with svc.client() as client:
        yield client


def square(lon: float, lat: float, d: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def red(name: str, geometry: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": "red", "risk_level": 3, "geometry": geometry, **kw}


def test_zone_crud_filters_and_patch(c: httpx.Client) -> None:
    hole = [[69.243, 41.303], [69.246, 41.303], [69.246, 41.306], [69.243, 41.303]]
    r = c.post("/api/zones", json=red("Chorsu bazaar", polygon(square(69.24, 41.30), hole),
                                      risk_level=5, min_alt_m=30, max_alt_m=80))
    assert r.status_code == 201, r.text
    z = r.json()
    assert z["geometry"]["coordinates"][1] == hole
    assert z["bbox"] == pytest.approx([69.24, 41.30, 69.25, 41.31])
    nf = c.post("/api/zones", json={"name": "Airport", "kind": "no_fly", "max_alt_m": 500,
                                    "geometry": polygon(square(69.27, 41.25, 0.03))})
    assert nf.status_code == 201, nf.text
    far = c.post("/api/zones", json=red("Samarkand", polygon(square(66.95, 39.65)),
                                        active=False)).json()
    assert c.get(f"/api/zones/{z['id']}").json() == z

    def ids(**params: Any) -> list[int]:
        r = c.get("/api/zones", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()]

    all_ids = [z["id"], nf.json()["id"], far["id"]]
    assert [i for i in ids() if i in all_ids] == all_ids
    assert nf.json()["id"] in ids(kind="no_fly") and z["id"] not in ids(kind="no_fly")
    assert far["id"] in ids(active=False) and far["id"] not in ids(active=True)
    assert ids(bbox="69.2,41.2,69.3,41.35") == [z["id"], nf.json()["id"]]
    assert ids(bbox="69.245,41.305,69.246,41.306") == [z["id"]]
    assert ids(bbox="66.9,39.6,67.0,39.7") == [far["id"]]

    r = c.patch(f"/api/zones/{z['id']}", json={"risk_level": 2, "active": False})
    assert r.status_code == 200 and (r.json()["risk_level"], r.json()["active"]) == (2, False)
    assert datetime.fromisoformat(r.json()["updated_at"]) > \
        datetime.fromisoformat(z["updated_at"])
    r = c.patch(f"/api/zones/{z['id']}", json={"geometry": polygon(square(69.24, 41.30)[:-1])})
    assert r.status_code == 422 and "not closed" in r.json()["detail"]["message"]
    r = c.patch(f"/api/zones/{z['id']}", json={"kind": "no_fly"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "risk_level"
    r = c.patch(f"/api/zones/{z['id']}", json={"kind": "no_fly", "risk_level": None,
                                               "geometry": polygon(square(69.5, 41.5))})
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "no_fly"
    assert r.json()["bbox"] == pytest.approx([69.5, 41.5, 69.51, 41.51])
    assert c.get(f"/api/zones/{z['id']}").json()["min_alt_m"] == 30

    r = c.post("/api/zones", json=red("x", polygon(square(1, 1)), min_alt_m=100, max_alt_m=50))
    assert r.status_code == 422 and r.json()["detail"]["field"] == "min_alt_m"
    r = c.post("/api/zones", json={"name": "x", "kind": "red", "geometry":
                                   polygon(square(1, 1))})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "risk_level"
    r = c.post("/api/zones", json=red("x", polygon(square(1, 1)), kind="amber"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]

    assert c.delete(f"/api/zones/{far['id']}").status_code == 204
    assert c.get(f"/api/zones/{far['id']}").status_code == 404
    assert c.delete(f"/api/zones/{far['id']}").status_code == 404
    assert c.patch("/api/zones/999999", json={"active": True}).status_code == 404


BOW_TIE = [[69.24, 41.30], [69.25, 41.31], [69.25, 41.30], [69.24, 41.31], [69.24, 41.30]]


@pytest.mark.parametrize(("geometry", "error", "words"), [
    (polygon(square(69.24, 41.30)[:-1]), "unclosed_ring", ["not closed"]),
    (polygon(BOW_TIE), "invalid_polygon", ["crosses itself", "self-intersecting",
                                           "Self-intersection"]),
    (polygon([[lat, lon] for lon, lat in square(120.24, 41.30)]), "swapped_coordinates",
     ["swapped", "[longitude, latitude]", "latitude 120.24 is outside -90..90"]),
    (polygon(square(180.5, 10)), "out_of_range", ["longitude 180.5 is outside -180..180"]),
    (polygon([[0, 0], [1, 0], [0, 0]]), "too_few_positions", ["at least 4"]),
    ({"type": "LineString", "coordinates": square(1, 1)}, "not_a_polygon", ["'LineString'"]),
])
def test_invalid_geometry_is_refused_with_a_reason(
    c: httpx.Client, geometry: dict[str, Any], error: str, words: list[str]
) -> None:
    before = len(c.get("/api/zones").json())
    r = c.post("/api/zones", json=red("bad", geometry))
    assert r.status_code == 422, r.text
    d = r.json()["detail"]
    assert d["error"] == error and d["field"].startswith("geometry"), d
    for w in words:
        assert w in d["message"], d["message"]
    assert len(c.get("/api/zones").json()) == before


def test_geojson_export_import_round_trip_and_bad_feature(c: httpx.Client) -> None:
    hole = [[60.003, 50.003], [60.006, 50.003], [60.006, 50.006], [60.003, 50.003]]
    made = [
        c.post("/api/zones", json=red("A", polygon(square(60, 50), hole), risk_level=4,
                                      description="market")).json(),
        c.post("/api/zones", json={"name": "B", "kind": "no_fly", "min_alt_m": 0,
                                   "max_alt_m": 120, "active": False,
                                   "geometry": polygon(square(60.1, 50))}).json(),
    ]
    r = c.get("/api/zones/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    mine = [f for f in doc["features"] if f["id"] in {m["id"] for m in made}]
    assert len(mine) == 2 and mine[0]["geometry"] == made[0]["geometry"]
    imp = c.post("/api/zones/import", json={"type": "FeatureCollection", "features": mine})
    assert imp.status_code == 201, imp.text
    copies = [c.get(f"/api/zones/{i}").json() for i in imp.json()["ids"]]
    skip = ("id", "created_at", "updated_at")
    assert [{k: v for k, v in x.items() if k not in skip} for x in copies] == \
        [{k: v for k, v in m.items() if k not in skip} for m in made]

    count = len(c.get("/api/zones").json())
    bad = {"type": "FeatureCollection", "features": [
        mine[0],
        {**mine[1], "geometry": polygon(BOW_TIE)},
        {**mine[0], "properties": {**mine[0]["properties"], "risk_level": 9}},
    ]}
    r = c.post("/api/zones/import", json=bad)
    assert r.status_code == 422
    d = r.json()["detail"]
    assert d["error"] == "invalid_import" and "nothing imported" in d["message"]
    got = {(e["row"], e["field"]) for e in d["errors"]}
    assert got == {(2, "geometry.coordinates"), (3, "risk_level")}
    assert "crosses itself" in d["errors"][0]["message"]
    assert len(c.get("/api/zones").json()) == count
    r = c.post("/api/zones/import", json={"type": "Feature"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "type"
