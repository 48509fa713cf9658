"""The runtime (mission/runtime/): built from Settings, started and stopped in process with a
real database; stop bounded even when a step hangs; a failed start stops what it started; the
link worker loads no web framework; and the app over a runtime answers in process with the one
error mapping (mission/http_errors.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from inprocess import in_process
from inprocess import test_settings as in_process_settings
from mission.fleet.commands import RoutedCommands
from mission.runtime import links
from mission.runtime.service import Runtime
from mission.zones.models import ZoneCreate

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.nopg
def test_link_worker_loads_no_web_framework_and_no_app() -> None:
    """It tracks the legs of the drones it links (the tracker and what it writes with), but
    loads no web framework, no route, no API schema and no mission service or planner pool."""
    code = ("import json, sys, mission.linkworker; "
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('fastapi', 'starlette') or m == 'mission.app' "
            "or m.endswith('.routes') or m.startswith('mission.missions'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert json.loads(out) == [
        "mission.missions", "mission.missions.incident_flow", "mission.missions.lifecycle",
        "mission.missions.lifecycle_store", "mission.missions.models", "mission.missions.store",
        "mission.missions.tracker"], "the link worker imports the web side or mission service"


async def test_runtime_starts_serves_and_stops_within_bounds(
        tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = in_process_settings(tmp_path / "data", database_url)
    runtime = Runtime(settings)
    assert not runtime.lifecycle.complete and not runtime.link.started  # building does no I/O
    # collaborators are made once and shared, never built inside another service
    assert runtime.missions.zones is runtime.zones is runtime.safety.zones
    assert runtime.missions.incidents is runtime.incidents
    assert runtime.tracker is runtime.links.tracker is runtime.fleet.ownership
    assert runtime.commands.safety is runtime.safety
    assert isinstance(runtime.commands.routed, RoutedCommands)
    assert runtime.commands.routed.local.link is runtime.link
    await runtime.start()
    try:
        assert runtime.lifecycle.complete and runtime.link.started
        assert await runtime.auth.has_users()  # the first admin, from the settings
        # the suite's cheap password hashing (conftest) is never silent
        assert "NAZORAT_INSECURE_FAST_PASSWORD_HASHING=1" in caplog.text
        zone = await runtime.zones.create(ZoneCreate.model_validate({
            "name": "z", "kind": "no_fly", "geometry": {"type": "Polygon", "coordinates": [
                [[69.0, 41.0], [69.01, 41.0], [69.01, 41.01], [69.0, 41.0]]]}}))
        assert [s.id for s in await runtime.safety.zones.no_fly_shapes()] == [zone.id]
    finally:
        t0 = time.monotonic()
        await runtime.stop()
        took = time.monotonic() - t0
    assert not runtime.lifecycle.complete and not runtime.link.started
    assert took < 10.0, f"stop took {took:.1f} s with nothing in the air"
    with pytest.raises(RuntimeError, match="database not started"):
        _ = runtime.db.engine
    with pytest.raises(RuntimeError, match="starts once"):
        await runtime.start()


async def test_stop_goes_on_past_a_step_that_hangs(tmp_path: Path, database_url: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A fleet link that never finishes stopping (a drone that does not answer) holds the stop
    for its bound only, and the database after it is still closed."""
    monkeypatch.setattr(links, "LINK_STOP_S", 0.5)
    runtime = Runtime(in_process_settings(tmp_path / "data", database_url))
    await runtime.start()
    stopped = asyncio.Event()

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    monkeypatch.setattr(runtime.link, "stop", hangs)
    caplog.set_level(logging.WARNING, logger="mission.shutdown")
    t0 = time.monotonic()
    await runtime.stop()
    took = time.monotonic() - t0
    assert took < 5.0, f"stop took {took:.1f} s past a 0.5 s bound"
    assert stopped.is_set()  # cancelled at its bound, not left running
    assert "the fleet link did not stop within 0.5 s" in caplog.text
    with pytest.raises(RuntimeError, match="database not started"):
        _ = runtime.db.engine


async def test_a_failed_start_stops_what_it_started(tmp_path: Path, database_url: str) -> None:
    runtime = Runtime(in_process_settings(tmp_path / "data", database_url,
                                          admin_password="short"))
    with pytest.raises(RuntimeError, match="NAZORAT_ADMIN_PASSWORD needs at least"):
        await runtime.start()
    assert not runtime.lifecycle.complete
    with pytest.raises(RuntimeError, match="database not started"):
        _ = runtime.db.engine  # opened before the admin step, closed again


async def test_app_over_a_runtime_in_process(tmp_path: Path, database_url: str) -> None:
    """Routes reach the runtime's services, and domain errors come back through the one
    mapping with the bodies the API has always had."""
    async with in_process(tmp_path, database_url) as svc:
        await svc.sign_in("commander")
        async with svc.http() as admin, svc.http("commander") as commander, \
                svc.http(role="none", username="nobody") as anonymous:
            await _answers(svc.runtime, admin, commander, anonymous)


async def _answers(runtime: Runtime, admin: httpx.AsyncClient, commander: httpx.AsyncClient,
                   anonymous: httpx.AsyncClient) -> None:
    r = await admin.post("/api/incidents", json={"lat": 41.3, "lon": 69.2,
                                                 "category": "theft", "severity": 3,
                                                 "source": "other"})
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    assert (await runtime.incidents.get(incident)).severity == 3
    r = await admin.get("/api/incidents/999999")
    assert (r.status_code, r.json()) == (404, {"detail": {
        "error": "not_found", "message": "no incident 999999"}})
    r = await admin.post(f"/api/incidents/{incident}/close", json={"resolution": "triaged"})
    assert (r.status_code, r.json()["detail"]["field"]) == (422, "resolution")
    r = await admin.patch(f"/api/incidents/{incident}", json={"status": "observed"})
    assert r.status_code == 409 and r.json()["detail"]["error"] == "illegal_transition"
    r = await admin.get("/api/incidents?bbox=1,2,3")
    assert (r.status_code, r.json()["detail"]["field"]) == (422, "bbox")
    r = await admin.get("/api/zones/424242")
    assert (r.status_code, r.json()) == (404, {"detail": {
        "error": "not_found", "message": "no zone 424242"}})
    r = await admin.get("/api/missions/424242")
    assert r.status_code == 404 and r.json()["detail"]["error"] == "not_found"
    r = await admin.post("/api/drones/7/commands/arm")
    assert (r.status_code, r.json()) == (404, {"detail": {
        "error": "not_found", "message": "no drone 7"}})
    r = await admin.post("/api/users", json={"username": "admin", "password": "x" * 16,
                                             "role": "operator"})
    assert r.status_code == 409 and r.json()["detail"]["error"]
    r = await commander.post("/api/incidents", json={"lat": 41.3, "lon": 69.2,
                                                     "category": "theft", "severity": 3,
                                                     "source": "other"})
    assert r.status_code == 403 and r.json()["detail"]["error"] == "forbidden"
    assert (await anonymous.get("/api/incidents")).status_code == 401


async def test_an_app_whose_lifespan_runs_again_gets_a_new_runtime(tmp_path: Path,
                                                                   database_url: str) -> None:
    """A runtime starts once; the app's own lifespan, run a second time (a second test client,
    a server restarted in process), builds a fresh one on the same settings and database."""
    from mission.app import create_app

    app = create_app(in_process_settings(tmp_path / "data", database_url))
    first = app.state.runtime
    async with app.router.lifespan_context(app):
        assert first.lifecycle.complete
    assert not first.lifecycle.complete
    async with app.router.lifespan_context(app):
        second = app.state.runtime
        assert second is not first and second.lifecycle.complete
        assert app.state.lifecycle is second.lifecycle
        assert second.metrics is first.metrics  # the request metrics keep counting
        assert await second.auth.has_users()  # the same database
