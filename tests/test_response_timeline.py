"""The response timeline of an incident (dispatched, airborne, on scene) and the response
report, in process with a fake fleet (tests/inprocess.py); the percentiles on known data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from inprocess import InProcess, in_process
from mission.incidents.models import Incident
from mission.reports.domain import Timeline, percentile, report
from test_missions_inprocess import _incident, _plan

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url) as s:
        await s.sign_in("operator", "op-42")
        yield s


async def _response(c: httpx.AsyncClient, inc: int) -> dict[str, Any]:
    r = await c.get(f"/api/incidents/{inc}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["response"]
    return body


async def test_dispatch_takeoff_and_observation_fill_the_timeline(svc: InProcess) -> None:
    svc.fleet.add(1)
    async with svc.http("operator", "op-42") as c:
        inc = await _incident(c, 200, 0, 5)
        assert await _response(c, inc) == {"dispatched_at": None, "airborne_at": None,
                                           "on_scene_at": None, "drone_id": None,
                                           "mission_id": None}
        plan = await _plan(c, drones=[1], incidents=[inc])
        r = await c.post(f"/api/missions/{plan['id']}/dispatch")
        assert r.status_code == 200, r.text
        got = await _response(c, inc)
        assert got["dispatched_at"] and got["airborne_at"] and got["on_scene_at"] is None
        assert got["drone_id"] == 1 and got["mission_id"] == plan["id"]
        assert got["dispatched_at"] <= got["airborne_at"]
        # a second mission including it does not take its timeline
        svc.fleet.add(2)
        other = await _plan(c, drones=[2], incidents=[inc])
        assert (await c.post(f"/api/missions/{other['id']}/dispatch")).status_code == 200
        assert (await _response(c, inc))["mission_id"] == plan["id"]
        svc.fleet.fly_to_end(1)

        async def on_scene() -> dict[str, Any] | None:
            body = await _response(c, inc)
            return body if body["on_scene_at"] else None

        done = await svc.until(on_scene, what="on scene")
        assert done["airborne_at"] <= done["on_scene_at"] and done["drone_id"] == 1
        rep = (await c.get("/api/reports/response")).json()
        assert rep["overall"]["report_to_on_scene"]["count"] == 1
        assert rep["by_severity"]["5"]["dispatch_to_airborne"]["count"] == 1
        assert rep["by_severity"]["3"]["report_to_dispatch"]["count"] == 0


async def test_a_failed_dispatch_releases_the_claim_but_keeps_dispatched_at(
    svc: InProcess,
) -> None:
    svc.fleet.add(3)
    svc.fleet.add(4)
    svc.fleet.refuse(3, "start_mission", "PreArm: Compass not calibrated")
    async with svc.http("operator", "op-42") as c:
        inc = await _incident(c, 150, 50, 4)
        first = await _plan(c, drones=[3], incidents=[inc])
        await c.post(f"/api/missions/{first['id']}/dispatch")
        failed = await _response(c, inc)
        assert failed["dispatched_at"] and failed["mission_id"] is None
        assert failed["airborne_at"] is None
        again = await _plan(c, drones=[4], incidents=[inc])
        assert (await c.post(f"/api/missions/{again['id']}/dispatch")).status_code == 200
        got = await _response(c, inc)
        assert got["dispatched_at"] == failed["dispatched_at"]
        assert got["mission_id"] == again["id"] and got["drone_id"] == 4 and got["airborne_at"]


async def test_report_bounds_are_checked_and_filter_by_reported_at(svc: InProcess) -> None:
    await svc.sign_in("commander", "cmd-1")
    async with svc.http("commander", "cmd-1") as c:
        r = await c.get("/api/reports/response", params={"from": "yesterday"})
        assert r.status_code == 422 and r.json()["detail"]["field"] == "from", r.text
        r = await c.get("/api/reports/response", params={"from": "2026-01-02",
                                                         "to": "2026-01-01"})
        assert r.status_code == 422 and r.json()["detail"]["field"] == "to", r.text
    base = datetime(2026, 3, 1, tzinfo=UTC)

    def seed(s: Session) -> None:
        for i, sev in enumerate((5, 5, 3)):
            t0 = base + timedelta(hours=i)
            s.add(Incident(lat=41.0, lon=69.0, category="theft", severity=sev,
                           source="operator", reported_at=t0,
                           response_dispatched_at=t0 + timedelta(seconds=10 * (i + 1)),
                           response_airborne_at=t0 + timedelta(seconds=10 * (i + 1) + 5),
                           response_on_scene_at=t0 + timedelta(seconds=100 * (i + 1))))

    await svc.runtime.db.run(seed)
    async with svc.http() as c:
        rep = (await c.get("/api/reports/response", params={
            "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T01:30:00Z"})).json()
        assert rep["incidents"] == 2
        assert rep["overall"]["report_to_dispatch"] == {"count": 2, "p50_s": 15.0,
                                                        "p95_s": 19.5}
        assert rep["overall"]["dispatch_to_airborne"]["p50_s"] == 5.0
        assert rep["by_severity"]["5"]["report_to_on_scene"]["count"] == 2
        assert rep["by_severity"]["3"]["report_to_on_scene"]["count"] == 0
        assert rep["by_severity"]["3"]["report_to_on_scene"]["p50_s"] is None


def test_percentiles_on_known_data() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([10, 0, 5], 100) == 10
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [Timeline(4, t0, t0 + timedelta(seconds=s), None, None) for s in (1, 2, 3, 4, 5)]
    lines.append(Timeline(2, t0, None, None, None))
    out: Any = report(lines)
    assert out["overall"]["report_to_dispatch"] == {"count": 5, "p50_s": 3.0, "p95_s": 4.8}
    assert out["overall"]["dispatch_to_airborne"] == {"count": 0, "p50_s": None, "p95_s": None}
    assert out["by_severity"]["4"]["report_to_dispatch"]["count"] == 5
    assert out["by_severity"]["2"]["report_to_dispatch"]["count"] == 0
