"""Committed changes reach the hub, rolled-back ones never (mission/db.py, mission/live/changes.py),
and the hub's domain channel keeps the latest per object within its bound (telemetry/hub.py).
On a temporary database (SQLite, or PostgreSQL in its lane); no service, no vehicle."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from sqlmodel import Session

import mission.audit.models  # noqa: F401  (registers the tables)
import mission.incidents.models  # noqa: F401
from mission.db import Change, Database
from mission.incidents.domain import IllegalTransition
from mission.incidents.models import (
    Incident,
    IncidentCreate,
    IncidentImport,
    IncidentUpdate,
    Status,
    utcnow,
)
from mission.incidents.service import IncidentService
from mission.live.changes import CONTACTS, VIEWER, ChangePublisher
from mission.missions import lifecycle_store
from mission.missions.models import LegStatus, MissionLeg, MissionStatus, PatrolMission
from telemetry.hub import TelemetryHub
from telemetry.state import DomainEvent
from telemetry.stream import changes_frame

pytestmark = pytest.mark.timeout(30)


def _report(contact: str = "+998 71 000") -> IncidentCreate:
    return IncidentCreate.model_validate({
        "lat": 41.3, "lon": 69.2, "category": "drug_activity", "severity": 3,
        "source": "citizen_map", "reporter_contact": contact})


async def test_only_committed_changes_are_published(db: Database) -> None:
    hub = TelemetryHub()
    publisher = ChangePublisher(db, hub)
    announced: list[set[Change]] = []
    db.on_commit(announced.append)
    incidents = IncidentService(db)
    with hub.subscribe(domain=True) as sub, hub.subscribe() as fleet_only:
        inc = await incidents.create(_report(), actor="ops")
        await publisher.flush()
        events, lost = sub.take_domain()
        assert lost == 0 and [(e.kind, e.key) for e in events] == [("incident", inc.id)]
        full, shown = (json.loads(events[0].views[a]) for a in (CONTACTS, VIEWER))
        assert full["reporter_contact"] == "+998 71 000" and full["status"] == "new"
        assert "reporter_contact" not in shown and shown["id"] == inc.id
        assert fleet_only.take_domain() == ([], 0), "a fleet-only subscriber gets none"

        # written and flushed, then rolled back: never announced, never published
        def change_then_fail(s: Session) -> None:
            row = s.get(Incident, inc.id)
            assert row is not None
            row.status, row.description = Status.TRIAGED.value, "never"
            s.add(row)
            s.flush()
            raise RuntimeError("the transaction fails after its flush")

        announced.clear()
        with pytest.raises(RuntimeError):
            await db.run(change_then_fail)
        with pytest.raises(IllegalTransition):  # refused by the status flow
            await incidents.update(inc.id, IncidentUpdate(status=Status.OBSERVED), actor="ops")
        await publisher.flush()
        assert announced == [] and sub.take_domain() == ([], 0)
        assert (await incidents.get(inc.id)).status == Status.NEW

        # a read-only transaction, or one that writes unwatched rows, announces nothing
        await db.run(lambda s: s.get(Incident, inc.id))
        assert announced == []

        await incidents.update(inc.id, IncidentUpdate(status=Status.TRIAGED), actor="ops")
        await publisher.flush()
        events, _ = sub.take_domain()
        assert [json.loads(e.views[VIEWER])["status"] for e in events] == ["triaged"]


async def test_a_mission_changes_with_its_legs_and_a_burst_is_read_once(db: Database) -> None:
    hub = TelemetryHub()
    publisher = ChangePublisher(db, hub, max_batch=3)
    with hub.subscribe(domain=True) as sub:
        def plan(s: Session) -> tuple[int, int]:
            m = PatrolMission(name="p", created_by="ops", status=MissionStatus.PLANNED.value)
            s.add(m)
            s.flush()
            assert m.id is not None
            leg = MissionLeg(mission_id=m.id, drone_id=2, status=LegStatus.PLANNED.value,
                             last_item_seq=4)
            s.add(leg)
            s.flush()
            assert leg.id is not None
            return m.id, leg.id

        mid, _ = await db.run(plan)
        await db.run(lambda s: lifecycle_store.begin_dispatch(s, mid, "ops"))
        await publisher.flush()  # two commits, one read: the newest state
        events, _ = sub.take_domain()
        assert len(events) == 1 and events[0].key == mid
        assert json.loads(events[0].views[VIEWER])["status"] == "dispatching"
        assert json.loads(events[0].views[VIEWER])["legs"][0]["drone_id"] == 2

        # more objects at once than the publisher reads one by one: clients fetch afresh
        incidents = IncidentService(db)
        rows = [IncidentImport.model_validate({**_report().model_dump(), "reported_at": utcnow()})
                for _ in range(4)]
        await incidents.import_items(rows, actor="import")
        await publisher.flush()
        assert sub.take_domain() == ([], 4)


def _event(kind: str, key: int, text: str) -> DomainEvent:
    return DomainEvent(kind, key, {"a": text}, 0.0)


def test_domain_channel_keeps_the_latest_per_object_within_its_bound() -> None:
    hub = TelemetryHub()
    with hub.subscribe(domain=True, max_domain=2) as sub, hub.subscribe() as other:
        hub.publish_domain(_event("incident", 1, '{"s":1}'))
        hub.publish_domain(_event("mission", 1, '{"s":"m"}'))
        hub.publish_domain(_event("incident", 1, '{"s":2}'))  # supersedes, not lost
        events, lost = sub.take_domain()
        assert lost == 0 and [(e.kind, e.views["a"]) for e in events] == [
            ("mission", '{"s":"m"}'), ("incident", '{"s":2}')]
        for key in (1, 2, 3):
            hub.publish_domain(_event("incident", key, "{}"))
        events, lost = sub.take_domain()
        assert lost == 1 and [e.key for e in events] == [2, 3]  # the oldest was pushed out
        assert other.take_domain() == ([], 0)
    frame = changes_frame([_event("incident", 5, '{"x":1}')], "a", 0, 1.0)
    assert frame is not None and json.loads(frame) == {
        "v": 3, "type": "changes", "t": 1.0, "dropped": 0,
        "changes": [{"kind": "incident", "id": 5, "data": {"x": 1}}]}
    assert changes_frame([_event("incident", 5, "{}")], "b", 0, 1.0) is None  # not for b
    assert hub.subscriber_count == 0


async def test_a_commit_is_announced_even_when_its_caller_was_cancelled(db: Database) -> None:
    hub = TelemetryHub()
    publisher = ChangePublisher(db, hub)
    started = threading.Event()

    def slow_create(s: Session) -> None:
        started.set()
        time.sleep(0.3)  # in the worker thread; the caller is cancelled meanwhile
        s.add(Incident(lat=41.3, lon=69.2, category="drug_activity", severity=2,
                       source="citizen_map", status="new", reported_at=utcnow(),
                       created_at=utcnow(), updated_at=utcnow()))

    announced: list[set[Change]] = []
    db.on_commit(announced.append)
    with hub.subscribe(domain=True) as sub:
        task = asyncio.create_task(db.run(slow_create))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task  # returns at once: the worker thread goes on and commits
        deadline = time.monotonic() + 5
        while not announced and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await publisher.flush()
        events, _ = sub.take_domain()
        assert [e.kind for e in events] == ["incident"]
