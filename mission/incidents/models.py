"""Incident and status-history tables and their API shapes.

Times are timezone-aware UTC in Python and stored as naive UTC (`UTCDateTime`), so comparisons
in SQL are plain and every value read back carries its offset. The reporter's contact is a
separate column and only `IncidentWithContact` carries it: a later issue decides who may read it,
and `IncidentPublic` is the shape without it.

The status history is append-only: rows are only ever inserted (the ORM refuses updates and
deletes, and database triggers refuse them too: mission/migrations 0001 and 0002).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator
from sqlalchemy import DDL, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Column, Field, SQLModel

from mission.clock import utcnow
from mission.ids import NO_REUSED_IDS
from mission.numbers import Integer, Number

MAX_DESCRIPTION = 4000
MAX_CONTACT = 256
MAX_NOTE = 1000



class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, naive UTC in the database, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware (UTC) datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class ResponseTimeline(BaseModel):
    """When a drone was sent to an incident, was in the air, and had eyes on it (null until
    known). The first dispatch that includes the incident owns it; see
    mission/missions/incident_flow.py for a re-dispatch after a failed one."""

    dispatched_at: datetime | None = None
    airborne_at: datetime | None = None
    on_scene_at: datetime | None = None
    drone_id: int | None = None
    mission_id: int | None = None


class Category(StrEnum):
    DRUG_ACTIVITY = "drug_activity"
    DISTURBANCE = "disturbance"
    THEFT = "theft"
    TRAFFIC = "traffic"
    SUSPICIOUS_PERSON = "suspicious_person"
    SUSPICIOUS_VEHICLE = "suspicious_vehicle"
    OTHER = "other"


class Source(StrEnum):
    CITIZEN_MAP = "citizen_map"
    TELEGRAM = "telegram"
    CAMERA = "camera"
    OPERATOR = "operator"
    OTHER = "other"


class Status(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    OBSERVED = "observed"
    CLOSED = "closed"
    FALSE_ALARM = "false_alarm"


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    lat: float = Field(index=True)
    lon: float = Field(index=True)
    category: str = Field(max_length=32, index=True)
    severity: int
    source: str = Field(max_length=32)
    status: str = Field(default=Status.NEW.value, max_length=16, index=True)
    reported_at: datetime = Field(sa_column=utc_column(index=True))
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    # Personal data of the reporter: read access is restricted by a later issue.
    reporter_contact: str | None = Field(default=None, max_length=MAX_CONTACT)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The response timeline (migration 0005), written by mission/missions/incident_flow.py in
    # the transactions that store the lifecycle's effects; NULL until known.
    response_dispatched_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True))
    response_airborne_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    response_on_scene_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    response_drone_id: int | None = Field(default=None)
    response_mission_id: int | None = Field(default=None)

    @property
    def response(self) -> ResponseTimeline:
        return ResponseTimeline(
            dispatched_at=self.response_dispatched_at, airborne_at=self.response_airborne_at,
            on_scene_at=self.response_on_scene_at, drone_id=self.response_drone_id,
            mission_id=self.response_mission_id)


class IncidentStatusChange(SQLModel, table=True):
    """One status change: who, when, from what to what. `from_status` is None for the row
    written when the incident was created (or imported)."""

    __tablename__ = "incident_status_change"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    note: str = Field(default="", max_length=MAX_NOTE)


def _append_only(*_args: Any) -> None:
    raise RuntimeError("incident_status_change is append-only")


event.listen(IncidentStatusChange, "before_update", _append_only)
event.listen(IncidentStatusChange, "before_delete", _append_only)
for _op in ("UPDATE", "DELETE"):
    event.listen(
        SQLModel.metadata.tables["incident_status_change"], "after_create",
        DDL(f"CREATE TRIGGER IF NOT EXISTS incident_status_change_no_{_op.lower()} "
            f"BEFORE {_op} ON incident_status_change "
            "BEGIN SELECT RAISE(ABORT, 'incident_status_change is append-only'); END")
        .execute_if(dialect="sqlite"),
    )


def _blank_to_none(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        return None
    return v


class IncidentCreate(BaseModel):
    """POST /api/incidents body. `reported_at` must carry a timezone offset; omitted, it is the
    time of the request."""

    model_config = ConfigDict(extra="forbid")

    lat: Number = pydantic.Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon: Number = pydantic.Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    category: Category
    severity: Integer = pydantic.Field(ge=1, le=5, description="1 (minor) .. 5 (most severe)")
    source: Source
    reported_at: AwareDatetime | None = None
    description: str = pydantic.Field(default="", max_length=MAX_DESCRIPTION)
    reporter_contact: str | None = pydantic.Field(default=None, max_length=MAX_CONTACT)

    @field_validator("reporter_contact", mode="before")
    @classmethod
    def _contact(cls, v: Any) -> Any:
        return _blank_to_none(v)


class IncidentImport(IncidentCreate):
    """One imported row or feature: `reported_at` is required (a historical report must not
    silently become "now") and the status may be given (default new)."""

    reported_at: AwareDatetime
    status: Status = Status.NEW


class IncidentUpdate(BaseModel):
    """PATCH /api/incidents/{id} body: only the fields given change. A `status` change is
    checked against the status flow and recorded in the history with `note`."""

    model_config = ConfigDict(extra="forbid")

    lat: Number | None = pydantic.Field(default=None, ge=-90, le=90)
    lon: Number | None = pydantic.Field(default=None, ge=-180, le=180)
    category: Category | None = None
    severity: Integer | None = pydantic.Field(default=None, ge=1, le=5)
    source: Source | None = None
    reported_at: AwareDatetime | None = None
    description: str | None = pydantic.Field(default=None, max_length=MAX_DESCRIPTION)
    reporter_contact: str | None = pydantic.Field(default=None, max_length=MAX_CONTACT)
    status: Status | None = None
    note: str = pydantic.Field(default="", max_length=MAX_NOTE)


class IncidentClose(BaseModel):
    """POST /api/incidents/{id}/close body (optional)."""

    model_config = ConfigDict(extra="forbid")

    resolution: Status = pydantic.Field(default=Status.CLOSED, description="closed or false_alarm")
    note: str = pydantic.Field(default="", max_length=MAX_NOTE)


class IncidentPublic(BaseModel):
    """An incident without the reporter's contact."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lat: float
    lon: float
    category: Category
    severity: int
    source: Source
    status: Status
    reported_at: datetime
    description: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    response: ResponseTimeline = pydantic.Field(default_factory=ResponseTimeline)


class IncidentWithContact(IncidentPublic):
    """An incident including the reporter's contact (personal data)."""

    reporter_contact: str | None


class StatusChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    from_status: Status | None
    to_status: Status
    actor: str
    at: datetime
    note: str


class HotspotPublic(BaseModel):
    """One hotspot: a cluster of nearby open incidents (see mission.incidents.hotspots)."""

    model_config = ConfigDict(from_attributes=True)

    rank: int
    priority: float
    count: int
    max_severity: int
    lat: float = pydantic.Field(description="centre of the cluster")
    lon: float
    extent_m: float = pydantic.Field(description="distance of the farthest report from the centre")
    incident_ids: list[int]
    categories: dict[str, int]
    first_reported_at: datetime
    last_reported_at: datetime


class HotspotList(BaseModel):
    radius_m: float
    window_h: float
    half_life_h: float
    min_reports: int
    now: datetime
    hotspots: list[HotspotPublic]


class ImportResult(BaseModel):
    imported: int
    ids: list[int]
