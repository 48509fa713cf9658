"""Reads the incidents' response timelines for the report (domain.py computes it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from mission.db import Database
from mission.incidents.models import Incident
from mission.reports.domain import Timeline, report

MAX_INCIDENTS = 100_000


class ReportService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def response(self, start: datetime | None, end: datetime | None) -> dict[str, Any]:
        """Stage percentiles over incidents reported in [start, end] that were dispatched."""
        def q(s: Session) -> list[Timeline]:
            stmt = select(Incident).where(col(Incident.response_dispatched_at).is_not(None))
            if start is not None:
                stmt = stmt.where(col(Incident.reported_at) >= start)
            if end is not None:
                stmt = stmt.where(col(Incident.reported_at) <= end)
            rows = s.exec(stmt.order_by(col(Incident.id)).limit(MAX_INCIDENTS))
            return [Timeline(r.severity, r.reported_at, r.response_dispatched_at,
                             r.response_airborne_at, r.response_on_scene_at) for r in rows]

        out = report(await self.db.run(q))
        return {"from": start, "to": end, **out}
