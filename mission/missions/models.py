"""Patrol missions as stored: the mission, one assignment per drone, one row per target, and an
append-only log. The plan itself (routes, items, dropped targets) is kept as the JSON the planner
produced, so a mission can be shown, dispatched and reattached after a restart exactly as it was
previewed.

Times are timezone-aware UTC datetimes, like the incident tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DDL, Index, event, text
from sqlmodel import JSON, Column, Field, SQLModel

from mission.clock import utcnow
from mission.ids import NO_REUSED_IDS
from mission.incidents.models import utc_column


class MissionStatus(StrEnum):
    PLANNED = "planned"  # a preview; nothing sent to any drone
    DISPATCHING = "dispatching"  # uploads and take-offs in progress
    ACTIVE = "active"  # at least one drone flying it
    COMPLETED = "completed"  # every drone flew its route and landed
    ABORTED = "aborted"  # recalled or cancelled by an operator
    FAILED = "failed"  # a drone refused or lost it; `reason` says why


FINAL_MISSION = frozenset({MissionStatus.COMPLETED, MissionStatus.ABORTED, MissionStatus.FAILED})


class LegStatus(StrEnum):
    """One drone's part of a mission."""

    PLANNED = "planned"
    DISPATCHING = "dispatching"
    FLYING = "flying"
    PAUSED = "paused"
    RETURNING = "returning"  # recalled (RTL) or on its final RTL item
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"


FINAL_LEG = frozenset({LegStatus.COMPLETED, LegStatus.ABORTED, LegStatus.FAILED})
# A leg under way: its drone is busy, and whoever owns the drone's link tracks it. The
# database allows one per drone (ACTIVE_LEG_INDEX), whichever process dispatches.
ACTIVE_LEG = frozenset({LegStatus.DISPATCHING, LegStatus.FLYING, LegStatus.PAUSED,
                        LegStatus.RETURNING})
ACTIVE_LEG_INDEX = "ux_mission_leg_active_drone"
ACTIVE_LEG_WHERE = "status IN ({})".format(
    ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_LEG)))


class PatrolMission(SQLModel, table=True):
    __tablename__ = "patrol_mission"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=128)
    status: str = Field(default=MissionStatus.PLANNED.value, max_length=16, index=True)
    objective: str = Field(default="response", max_length=16)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    dispatched_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reason: str = Field(default="", max_length=1000)
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class MissionLeg(SQLModel, table=True):
    """A drone's route within a mission: what was uploaded and how far it has got.

    At most one leg per drone is under way (ACTIVE_LEG): a partial unique index, so that two
    replicas dispatching the same drone at once cannot both succeed (migration 0009)."""

    __tablename__ = "mission_leg"
    __table_args__ = (
        Index(ACTIVE_LEG_INDEX, "drone_id", unique=True,
              sqlite_where=text(ACTIVE_LEG_WHERE), postgresql_where=text(ACTIVE_LEG_WHERE)),
        NO_REUSED_IDS,  # mission/ids.py
    )

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="patrol_mission.id", index=True)
    drone_id: int = Field(index=True)
    status: str = Field(default=LegStatus.PLANNED.value, max_length=16, index=True)
    altitude_m: float = 0.0
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    path: list[list[float]] = Field(default_factory=list, sa_column=Column(JSON))
    distance_m: float = 0.0
    duration_s: float = 0.0
    battery_used_pct: float = 0.0
    current_seq: int = 0
    last_item_seq: int = 0
    revision: int = 0  # bumped by every re-task (re-upload)
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reason: str = Field(default="", max_length=1000)
    # While dispatching: until when the process sending its commands answers for it (renewed
    # before each step). Past it, no dispatcher will finish the leg (its process died), and
    # the drone's owner settles it from what the drone reports (lifecycle._orphan).
    dispatch_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class MissionTarget(SQLModel, table=True):
    """A target of the mission (an incident, a hotspot of several, or a red zone) and, once
    flown, which drone observed it and when."""

    __tablename__ = "mission_target"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="patrol_mission.id", index=True)
    key: str = Field(max_length=64)  # the planner's target id, e.g. "incident:12"
    kind: str = Field(max_length=16)  # incident | hotspot | zone | point
    label: str = Field(default="", max_length=200)
    lat: float | None = None
    lon: float | None = None
    priority: int = 2
    incident_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    drone_id: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    eta_s: float | None = None  # planned seconds from dispatch until on station
    dropped_reason: str = Field(default="", max_length=1000)
    observed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    observed_by: int | None = None


class MissionLog(SQLModel, table=True):
    """Append-only timeline of a mission: state changes, commands sent, items reached."""

    __tablename__ = "mission_log"

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="patrol_mission.id", index=True)
    drone_id: int | None = None
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    message: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


def _append_only(*_args: Any) -> None:
    raise RuntimeError("mission_log is append-only")


event.listen(MissionLog, "before_update", _append_only)
event.listen(MissionLog, "before_delete", _append_only)
for _op in ("UPDATE", "DELETE"):
    event.listen(
        SQLModel.metadata.tables["mission_log"], "after_create",
        DDL(f"CREATE TRIGGER IF NOT EXISTS mission_log_no_{_op.lower()} "
            f"BEFORE {_op} ON mission_log "
            "BEGIN SELECT RAISE(ABORT, 'mission_log is append-only'); END")
        .execute_if(dialect="sqlite"),
    )
