"""The audit log table and its API shape.

Append-only: rows are only ever inserted. The ORM refuses updates and deletes, SQLite and
PostgreSQL triggers refuse them too, and the API has no route that changes a row.

`action` names what happened, dot-separated: `vehicle.command`, `mission.plan`,
`mission.status`, `mission.leg_status`, `mission.dispatch_refused`, `auth.login`,
`auth.login_failed`, `auth.logout`, `auth.password_change`, `auth.denied`, `user.create`,
`user.update`, `user.delete`, `key.create`, `key.revoke`, `zone.create`, `zone.update`,
`zone.delete`, `zone.import`, `fleet.add`, `fleet.remove`, `recording.list`,
`recording.download`, `recording.delete`, `recording.expire`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import DDL, event
from sqlmodel import JSON, Column, Field, SQLModel

from mission.clock import utcnow
from mission.incidents.models import utc_column


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    actor: str = Field(max_length=128, index=True)  # user name, key:NAME, system, drone:N, cli
    role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=48, index=True)
    drone_id: int | None = Field(default=None, index=True)
    mission_id: int | None = Field(default=None, index=True)
    command: str | None = Field(default=None, max_length=64)  # vehicle commands
    target: str = Field(default="", max_length=128)  # user:3, key:2, zone:5, ...
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    outcome: str = Field(default="ok", max_length=32)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    address: str | None = Field(default=None, max_length=64)


def _append_only(*_args: Any) -> None:
    raise RuntimeError("audit_record is append-only")


event.listen(AuditRecord, "before_update", _append_only)
event.listen(AuditRecord, "before_delete", _append_only)
_TABLE = SQLModel.metadata.tables["audit_record"]
for _op in ("UPDATE", "DELETE"):
    event.listen(
        _TABLE, "after_create",
        DDL(f"CREATE TRIGGER IF NOT EXISTS audit_record_no_{_op.lower()} "
            f"BEFORE {_op} ON audit_record "
            "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END")
        .execute_if(dialect="sqlite"),
    )
event.listen(
    _TABLE, "after_create",
    DDL("CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_record is append-only'; END $$ LANGUAGE plpgsql; "
        "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_record FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only();")
    .execute_if(dialect="postgresql"),
)


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    drone_id: int | None
    mission_id: int | None
    command: str | None
    target: str
    params: dict[str, Any]
    outcome: str
    result: dict[str, Any]
    address: str | None
