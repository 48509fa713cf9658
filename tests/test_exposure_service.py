"""Exposure findings of issue 10 that need the running service: nested or huge JSON bodies
answered 500, and the database file and data directory were readable by every local account.
One real service (subprocess, no drones) for the module; its data directory is one the service
creates itself (with the umask most machines have, 022).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import RunningService, module_service  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SHALLOW_DEEP = 200  # parses in Python, deeper than anything Nazorat accepts
RECURSION_DEEP = 100_000  # beyond Python's json recursion: RecursionError, once a 500

# every kind of body route: imports (streamed by the route), JSON models, raw JSON, public
ROUTES = [
    "/api/zones/import", "/api/incidents/import",
    "/api/missions/import?drone_id=1&format=plan", "/api/missions/import?drone_id=1&format=geojson",
    "/api/incidents", "/api/zones", "/api/drones/1/commands/upload_mission",
    "/api/missions/plan", "/api/users", "/api/auth/login", "/api/intake/report",
]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[RunningService]:
    fresh = tmp_path_factory.mktemp("exposure-parent") / "data" / "nazorat"
    old = os.umask(0o022)
    try:
        yield from module_service(tmp_path_factory, request, "exposure-service",
                                  {"NAZORAT_DATA_DIR": str(fresh)})
    finally:
        os.umask(old)


def nested(depth: int) -> bytes:
    return b'{"type": "FeatureCollection", "features": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [SHALLOW_DEEP, RECURSION_DEEP])
def test_nested_json_answered_500(svc: RunningService, depth: int) -> None:
    body = nested(depth)
    with svc.client() as c:
        for route in ROUTES:
            for ctype in ("application/json", "application/geo+json"):
                r = c.post(route, content=body, headers={"Content-Type": ctype})
                assert 400 <= r.status_code < 500, (route, ctype, r.status_code, r.text[:300])
        # the import routes parse themselves: the same answer, naming the problem
        for route in ("/api/zones/import", "/api/incidents/import"):
            r = c.post(route, content=body, headers={"Content-Type": "application/geo+json"})
            assert "nested" in r.text, (route, r.text)
        assert c.get("/api/health").status_code == 200


def test_huge_json_answered_4xx(svc: RunningService) -> None:
    with svc.client() as c:
        big = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        r = c.post("/api/incidents", content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413, r.text
        huge = b'{"type": "FeatureCollection", "features": [' + b" " * (21 * 1024 * 1024) + b"]}"
        r = c.post("/api/zones/import", content=huge,
                   headers={"Content-Type": "application/geo+json"})
        assert r.status_code == 413, r.text
        # a number too long for Python to read (int_max_str_digits): refused, not a 500
        digits = b'{"type": "FeatureCollection", "features": [' + b"7" * 5000 + b"]}"
        for route in ROUTES:
            r = c.post(route, content=digits, headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (route, r.status_code, r.text[:300])


def test_database_file_created_0644(svc: RunningService) -> None:
    data = Path(svc.env["NAZORAT_DATA_DIR"])
    db = data / "nazorat.db"
    assert db.is_file()
    with svc.client() as c:  # a write, so the -wal file exists
        assert c.post("/api/users", json={"username": "perm-check", "password": "long enough pw",
                                          "role": "commander"}).status_code == 201
    for f in [db, *data.glob("nazorat.db-*")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    for d in (data, data.parent):  # both created by the service
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
