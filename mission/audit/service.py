"""Writing and reading the audit log.

`add(session, action, ...)` appends a row inside the caller's transaction, so the record and
the change it describes are committed together (or not at all). Who acted defaults to the
request's authenticated principal (mission.auth.context), else `system`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from mission.audit.models import AuditPublic, AuditRecord
from mission.auth import context
from mission.clock import utcnow
from mission.db import MAX_ID, Database

MAX_TEXT = 1000


def _clip(value: Any, depth: int = 0) -> Any:
    """Keep records bounded: long strings cut, deep or huge structures summarised."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if depth > 6:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k)[:128]: _clip(v, depth + 1) for k, v in items[:200]}
        if len(items) > 200:
            out["..."] = f"{len(items) - 200} more"
        return out
    if isinstance(value, list | tuple):
        clipped = [_clip(v, depth + 1) for v in value[:1000]]
        if len(value) > 1000:
            clipped.append(f"... {len(value) - 1000} more")
        return clipped
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def add(
    s: Session, action: str, *, actor: str | None = None, role: str | None = None,
    drone_id: int | None = None, mission_id: int | None = None, command: str | None = None,
    target: str = "", params: Mapping[str, Any] | None = None, outcome: str = "ok",
    result: Mapping[str, Any] | None = None, address: str | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    ctx = context.get()
    if actor is None:
        actor = ctx.actor if ctx is not None else "system"
    if ctx is not None and ctx.actor == actor:
        role = role if role is not None else ctx.role
        address = address if address is not None else ctx.address
    rec = AuditRecord(
        at=at or utcnow(), actor=actor[:128], role=role, action=action, drone_id=drone_id,
        mission_id=mission_id, command=command, target=target[:128],
        params=_clip(dict(params or {})), outcome=outcome[:32], result=_clip(dict(result or {})),
        address=(address or None) and address[:64],
    )
    s.add(rec)
    return rec


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "mission.")
    drone_id: int | None = None
    mission_id: int | None = None
    outcome: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None
    before_id: int | None = None


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, action: str, **kw: Any) -> None:
        await self.db.run(lambda s: add(s, action, **kw))

    async def query(self, f: AuditFilter, limit: int = 200) -> list[AuditPublic]:
        """Matching records, newest first; page with `before_id` = the last id seen."""
        def q(s: Session) -> list[AuditPublic]:
            stmt = select(AuditRecord)
            if f.actor is not None:
                stmt = stmt.where(AuditRecord.actor == f.actor)
            if f.action is not None:
                if f.action.endswith("."):  # a prefix, case-sensitive in every database
                    # (LIKE is case-insensitive on SQLite and case-sensitive on PostgreSQL)
                    stmt = stmt.where(func.substr(col(AuditRecord.action), 1,
                                                  len(f.action)) == f.action)
                else:
                    stmt = stmt.where(AuditRecord.action == f.action)
            if f.drone_id is not None:
                stmt = stmt.where(AuditRecord.drone_id == f.drone_id)
            if f.mission_id is not None:
                stmt = stmt.where(AuditRecord.mission_id == f.mission_id)
            if f.outcome is not None:
                stmt = stmt.where(AuditRecord.outcome == f.outcome)
            if f.at_from is not None:
                stmt = stmt.where(col(AuditRecord.at) >= f.at_from)
            if f.at_to is not None:
                stmt = stmt.where(col(AuditRecord.at) <= f.at_to)
            if f.before_id is not None and f.before_id <= MAX_ID:  # beyond: every id is below
                stmt = stmt.where(col(AuditRecord.id) < f.before_id)
            rows = s.exec(stmt.order_by(col(AuditRecord.id).desc()).limit(limit))
            return [AuditPublic.model_validate(r) for r in rows]

        return await self.db.run(q)
