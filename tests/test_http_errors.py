"""The one exception-to-HTTP mapping (mission/http_errors.py): statuses and bodies per domain
exception, on a bare app that raises them (the API tests pin the same bodies end to end), and
no route catching a mapped exception to answer it its own way."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mission import http_errors
from mission.auth.service import Refused
from mission.missions.service import DroneBusy, InterlockRefused, MissionConflict
from mission.safety import SafetyRefused
from mission.video.webrtc import SessionNotFound
from mission.zones.geo import InvalidInput
from telemetry.errors import (
    CommandRejected,
    CommandTimeout,
    DuplicateSysid,
    LinkDown,
    UnknownVehicle,
)
from telemetry.video.hub import NoVideo

pytestmark = pytest.mark.nopg  # no database, no service

REPO = Path(__file__).resolve().parents[1]


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    http_errors.install(app)

    @app.post("/api/drones/{drone_id}/commands/{name}")
    async def command(drone_id: int, name: str) -> None:
        raise exc

    return app


async def answer(exc: Exception) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_raising(exc))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.post("/api/drones/7/commands/arm")


async def test_each_exception_gets_its_status_and_body() -> None:
    r = await answer(InvalidInput("lat", "latitude 91 is outside -90..90", error="out_of_range"))
    assert (r.status_code, r.json()) == (422, {"detail": {
        "error": "out_of_range", "field": "lat", "message": "latitude 91 is outside -90..90"}})
    problems = [{"drone_id": 2, "check": "battery", "message": "low"}]
    r = await answer(InterlockRefused(5, problems))
    assert r.status_code == 409 and r.json()["detail"]["error"] == "interlock"
    assert r.json()["detail"]["interlocks"] == problems  # the subclass's own answer
    r = await answer(MissionConflict("drone 2 is busy", "drone_ids"))
    assert (r.status_code, r.json()) == (409, {"detail": {
        "error": "mission_conflict", "field": "drone_ids", "message": "drone 2 is busy"}})
    r = await answer(DroneBusy(2, 9))
    assert (r.status_code, r.json()) == (409, {"detail": {
        "error": "drone_busy", "field": "legs", "message": "drone 2 is busy: it is on mission 9",
        "drone_id": 2, "mission_id": 9}})
    r = await answer(Refused(429, "too_many_attempts", "wait", retry_after=2.2))
    assert (r.status_code, r.headers["retry-after"]) == (429, "3")
    r = await answer(DuplicateSysid("system id 1 is drone 3", field="url"))
    assert (r.status_code, r.json()["detail"]["error"]) == (409, "DuplicateSysid")
    r = await answer(UnknownVehicle("no vehicle 7 on the link"))
    assert (r.status_code, r.json()) == (404, {"detail": {
        "error": "not_found", "message": "no drone 7"}})  # the drone the path names
    r = await answer(NoVideo("drone 7 has no video source"))
    assert (r.status_code, r.json()) == (404, {"detail": {
        "error": "no_video", "message": "drone 7 has no video source"}})
    r = await answer(SessionNotFound("no video session x"))
    assert (r.status_code, r.json()["detail"]["error"]) == (404, "not_found")


async def test_refused_commands_carry_the_links_error_at_the_top_level() -> None:
    r = await answer(SafetyRefused("goto", "no_fly", "inside zone 4", zone_id=4))
    assert r.status_code == 409
    assert r.json() == {"error": "interlock", "command": "goto", "outcome": "refused",
                        "check": "no_fly", "message": "inside zone 4",
                        "reason": "inside zone 4", "zone_id": 4}
    for exc, status in [(CommandRejected("arm", "denied", statustext="PreArm: GPS"), 409),
                        (LinkDown("arm", "link lost"), 503),
                        (CommandTimeout("arm", "no answer"), 504)]:
        r = await answer(exc)
        assert r.status_code == status, exc
        assert r.json()["error"] == exc.outcome.value and r.json()["command"] == "arm"
    assert (await answer(CommandRejected("arm", "x", statustext="PreArm: GPS"))).json()[
        "reason"] == "PreArm: GPS"


def test_routes_do_not_answer_mapped_exceptions_themselves() -> None:
    """A route may catch a mapped exception only to record it and re-raise (`raise`): the
    answer is http_errors.py's, so two routes cannot answer one error two ways."""
    mapped = {cls.__name__ for cls in http_errors.HANDLERS}
    found = []
    for path in sorted((REPO / "mission").rglob("routes.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ExceptHandler) or node.type is None:
                continue
            names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            if not names & mapped:
                continue
            reraises = isinstance(node.body[-1], ast.Raise) and node.body[-1].exc is None
            if not reraises:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {sorted(names & mapped)}")
    assert not found, found
