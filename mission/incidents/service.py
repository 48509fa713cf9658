"""Incidents in the database: create, query, update with the status flow, bulk import/export,
and hotspots. Every database call runs in a worker thread through `Database.run`, and each
operation is one transaction (an import stores all its rows or none).

For the planner/missions layer (`incidents`: the runtime's one IncidentService,
mission/runtime/service.py, passed to whoever needs it):

- `await incidents.hotspots(radius_m=..., window_h=...)` -> ranked `Hotspot`s
  (targets: centre `lat`/`lon`, `extent_m`, `incident_ids`, `priority`);
- `await incidents.open_incidents(bbox=...)` -> open incidents, newest first;
- `await incidents.set_status(incident_id, Status.ASSIGNED, actor=..., note=...)`
  when a mission takes an incident (the status flow is enforced).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from mission.clock import utcnow
from mission.db import Database
from mission.incidents.domain import (
    FINAL_STATUSES,
    MAX_FUTURE_SKEW,
    OPEN_STATUSES,
    IncidentFilter,
    check_reported_at,
    check_transition,
    plan_update,
)
from mission.incidents.hotspots import Hotspot, Report, find_hotspots
from mission.incidents.models import (
    Incident,
    IncidentCreate,
    IncidentImport,
    IncidentPublic,
    IncidentStatusChange,
    IncidentUpdate,
    IncidentWithContact,
    Status,
    StatusChangePublic,
)
from mission.zones.geo import BBox

MAX_EXPORT = 100_000


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident {incident_id}")
        self.incident_id = incident_id


def public(row: Incident, *, include_contact: bool = True) -> IncidentPublic:
    """The API shape of a row; without the reporter's contact unless `include_contact`."""
    if include_contact:
        return IncidentWithContact.model_validate(row)
    return IncidentPublic.model_validate(row)


def _with_contact(row: Incident) -> IncidentWithContact:
    return IncidentWithContact.model_validate(row)


def _bbox_clause(bbox: BBox) -> Any:
    lat = and_(col(Incident.lat) >= bbox.south, col(Incident.lat) <= bbox.north)
    if bbox.crosses_antimeridian:
        return and_(lat, or_(col(Incident.lon) >= bbox.west, col(Incident.lon) <= bbox.east))
    return and_(lat, col(Incident.lon) >= bbox.west, col(Incident.lon) <= bbox.east)


def _query(f: IncidentFilter) -> Any:
    stmt = select(Incident)
    if f.statuses:
        stmt = stmt.where(col(Incident.status).in_([s.value for s in f.statuses]))
    if f.categories:
        stmt = stmt.where(col(Incident.category).in_(list(f.categories)))
    if f.reported_from is not None:
        stmt = stmt.where(col(Incident.reported_at) >= f.reported_from)
    if f.reported_to is not None:
        stmt = stmt.where(col(Incident.reported_at) <= f.reported_to)
    if f.bbox is not None:
        stmt = stmt.where(_bbox_clause(f.bbox))
    return stmt


def _load(s: Session, incident_id: int, *, for_update: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = s.exec(stmt).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return row


def _insert(s: Session, items: Sequence[IncidentImport | IncidentCreate], actor: str,
            note: str, now: datetime) -> list[Incident]:
    rows = []
    for item in items:
        status = item.status if isinstance(item, IncidentImport) else Status.NEW
        row = Incident(
            lat=item.lat, lon=item.lon, category=item.category.value, severity=item.severity,
            source=item.source.value, status=status.value,
            reported_at=item.reported_at or now, description=item.description,
            reporter_contact=item.reporter_contact, created_at=now, updated_at=now,
            closed_at=now if status in FINAL_STATUSES else None,
        )
        s.add(row)
        rows.append(row)
    s.flush()
    for row in rows:
        assert row.id is not None
        s.add(IncidentStatusChange(incident_id=row.id, from_status=None, to_status=row.status,
                                   actor=actor, at=now, note=note))
    s.flush()
    return rows


class IncidentService:
    def __init__(self, db: Database) -> None:
        self.db = db
        # told of every incident `create` stored (the runtime sets it to the auto-dispatch
        # engine's `notify`); called on the event loop after the commit, must not block
        self.on_created: Callable[[IncidentWithContact], None] | None = None

    async def create(self, data: IncidentCreate, *, actor: str) -> IncidentWithContact:
        """Store a new incident (status new) and its first history row. InvalidInput when
        `reported_at` lies in the future beyond the accepted skew."""
        now = utcnow()
        reported = now if data.reported_at is None else check_reported_at(data.reported_at, now)
        data = data.model_copy(update={"reported_at": reported})
        rows = await self.db.run(lambda s: _insert(s, [data], actor, "", now))
        created = _with_contact(rows[0])
        if self.on_created is not None:
            self.on_created(created)
        return created

    async def get(self, incident_id: int) -> IncidentWithContact:
        row = await self.db.run(lambda s: s.get(Incident, incident_id))
        if row is None:
            raise IncidentNotFound(incident_id)
        return _with_contact(row)

    async def list_incidents(
        self, f: IncidentFilter, *, limit: int = 500, offset: int = 0
    ) -> list[IncidentWithContact]:
        """Matching incidents, most recently reported first."""
        def q(s: Session) -> list[Incident]:
            stmt = _query(f).order_by(col(Incident.reported_at).desc(), col(Incident.id).desc())
            return list(s.exec(stmt.offset(offset).limit(limit)))

        return [_with_contact(r) for r in await self.db.run(q)]

    async def open_incidents(self, bbox: BBox | None = None) -> list[IncidentWithContact]:
        """Incidents not yet closed or false alarms, optionally inside `bbox`."""
        return await self.list_incidents(IncidentFilter(statuses=OPEN_STATUSES, bbox=bbox),
                               limit=MAX_EXPORT)

    async def export_rows(self, f: IncidentFilter) -> list[IncidentWithContact]:
        """Matching incidents in id order (for export)."""
        def q(s: Session) -> list[Incident]:
            return list(s.exec(_query(f).order_by(col(Incident.id)).limit(MAX_EXPORT)))

        return [_with_contact(r) for r in await self.db.run(q)]

    async def update(
        self, incident_id: int, patch: IncidentUpdate, *, actor: str
    ) -> IncidentWithContact:
        """Apply a PATCH in one transaction. Raises IncidentNotFound, IncidentFinal,
        InvalidInput or IllegalTransition (nothing is changed then)."""
        now = utcnow()

        def tx(s: Session) -> Incident:
            row = _load(s, incident_id, for_update=True)
            changes, target = plan_update(incident_id, Status(row.status), patch, now)
            for name, value in changes.items():
                setattr(row, name, value.value if isinstance(value, Enum) else value)
            if target is not None:
                record_status(s, row, target, actor, patch.note, now)
            if changes or target is not None:
                row.updated_at = now
            s.add(row)
            s.flush()
            s.refresh(row)
            return row

        return _with_contact(await self.db.run(tx))

    async def set_status(
        self, incident_id: int, target: Status, *, actor: str, note: str = ""
    ) -> IncidentWithContact:
        """Move an incident along the status flow (IllegalTransition otherwise)."""
        now = utcnow()

        def tx(s: Session) -> Incident:
            row = _load(s, incident_id, for_update=True)
            check_transition(Status(row.status), target)
            record_status(s, row, target, actor, note, now)
            row.updated_at = now
            s.add(row)
            s.flush()
            s.refresh(row)
            return row

        return _with_contact(await self.db.run(tx))

    async def history(self, incident_id: int) -> list[StatusChangePublic]:
        def q(s: Session) -> list[IncidentStatusChange]:
            if s.get(Incident, incident_id) is None:
                raise IncidentNotFound(incident_id)
            return list(s.exec(
                select(IncidentStatusChange)
                .where(IncidentStatusChange.incident_id == incident_id)
                .order_by(col(IncidentStatusChange.id))
            ))

        return [StatusChangePublic.model_validate(r) for r in await self.db.run(q)]

    async def import_items(
        self, items: Sequence[IncidentImport], *, actor: str
    ) -> list[IncidentWithContact]:
        """Store validated import rows, all in one transaction."""
        now = utcnow()
        rows = await self.db.run(lambda s: _insert(s, items, actor, "imported", now))
        return [_with_contact(r) for r in rows]

    async def hotspots(
        self, *, radius_m: float, window_h: float, half_life_h: float | None = None,
        min_reports: int = 1, bbox: BBox | None = None, categories: Sequence[str] = (),
        now: datetime | None = None,
    ) -> list[Hotspot]:
        """Ranked clusters of open incidents reported in the last `window_h` hours (see
        mission.incidents.hotspots for the clustering and the priority formula)."""
        now = now or utcnow()
        f = IncidentFilter(
            statuses=OPEN_STATUSES, categories=tuple(categories), bbox=bbox,
            reported_from=now - timedelta(hours=window_h), reported_to=now + MAX_FUTURE_SKEW,
        )

        def q(s: Session) -> list[Report]:
            return [
                Report(id=r.id, lat=r.lat, lon=r.lon, severity=r.severity,
                       reported_at=r.reported_at, category=r.category)
                # id order: the same reports (and clusters) whatever order the database keeps
                for r in s.exec(_query(f).order_by(col(Incident.id)).limit(MAX_EXPORT))
                if r.id is not None
            ]

        reports = await self.db.run(q)
        cluster = partial(find_hotspots, reports, radius_m=radius_m, window_h=window_h, now=now,
                          half_life_h=half_life_h, min_reports=min_reports,
                          future_skew=MAX_FUTURE_SKEW)
        return await anyio.to_thread.run_sync(cluster)  # CPU work: off the event loop


def record_status(
    s: Session, row: Incident, target: Status, actor: str, note: str, now: datetime
) -> None:
    """One status change of `row` and its history row, in the caller's transaction (the
    transition already checked)."""
    assert row.id is not None
    s.add(IncidentStatusChange(incident_id=row.id, from_status=row.status,
                               to_status=target.value, actor=actor, at=now, note=note))
    row.status = target.value
    row.closed_at = now if target in FINAL_STATUSES else None
