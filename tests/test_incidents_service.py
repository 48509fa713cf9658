"""The incident service as the planner/missions layer calls it (no HTTP), on a
temporary database (SQLite, or PostgreSQL in its lane)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

import mission.incidents.models  # noqa: F401  (registers the tables)
from mission.db import Database
from mission.incidents.domain import IllegalTransition
from mission.incidents.models import IncidentCreate, Status
from mission.incidents.service import IncidentService
from mission.zones.geo import BBox

pytestmark = pytest.mark.timeout(30)


def report(lat: float, lon: float, severity: int = 3, age_h: float = 0.5) -> IncidentCreate:
    return IncidentCreate.model_validate({
        "lat": lat, "lon": lon, "category": "drug_activity", "severity": severity,
        "source": "camera", "reported_at": datetime.now(UTC) - timedelta(hours=age_h),
    })


async def test_planner_calls(db: Database) -> None:
    svc = IncidentService(db)
    a = await svc.create(report(41.3000, 69.2400), actor="desk")
    b = await svc.create(report(41.3005, 69.2400, severity=5, age_h=0.4), actor="desk")
    far = await svc.create(report(42.0, 70.0), actor="desk")
    closed = await svc.create(report(41.3001, 69.2401), actor="desk")
    await svc.set_status(closed.id, Status.CLOSED, actor="desk")

    spots = await svc.hotspots(radius_m=100, window_h=6)
    assert [h.incident_ids for h in spots] == [[a.id, b.id], [far.id]]
    assert spots[0].priority > spots[1].priority

    box = BBox(69.0, 41.0, 69.5, 41.5)
    assert [i.id for i in await svc.open_incidents(bbox=box)] == [b.id, a.id]  # newest first

    got = await svc.set_status(a.id, Status.TRIAGED, actor="planner", note="mission 4")
    assert got.status == Status.TRIAGED
    with pytest.raises(IllegalTransition, match="from triaged to observed"):
        await svc.set_status(a.id, Status.OBSERVED, actor="planner")
    hist = await svc.history(a.id)
    assert [(h.to_status, h.actor, h.note) for h in hist] == \
        [(Status.NEW, "desk", ""), (Status.TRIAGED, "planner", "mission 4")]


def _execute(sql: str, session: Session) -> None:
    session.execute(text(sql))


async def test_status_history_is_append_only_in_the_database(db: Database) -> None:
    svc = IncidentService(db)
    inc = await svc.create(report(41.3, 69.24), actor="desk")
    for sql in ("UPDATE incident_status_change SET actor = 'someone else'",
                "DELETE FROM incident_status_change"):
        with pytest.raises(DatabaseError, match="append-only"):
            await db.run(partial(_execute, sql))
    assert [h.actor for h in await svc.history(inc.id)] == ["desk"]
