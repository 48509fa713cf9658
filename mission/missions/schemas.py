"""What the missions API accepts and returns. Validation happens here, so every refusal names
the field; the service receives values it can trust."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mission.db import MAX_ID
from mission.numbers import Integer, Number
from mission.planning.model import DEFAULT_SEVERITY_WEIGHTS


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoiterIn(_In):
    kind: Literal["loiter"] = "loiter"
    seconds: Number = Field(default=20.0, ge=0, le=3600)


class OrbitIn(_In):
    kind: Literal["orbit"]
    radius_m: Number = Field(default=30.0, ge=5, le=500)
    turns: Number = Field(default=1.0, gt=0, le=20)
    clockwise: bool = True


OnStation = Annotated[LoiterIn | OrbitIn, Field(discriminator="kind")]
PriorityName = Literal["low", "normal", "high"]
# A drone, incident or zone id: a row id (32-bit in PostgreSQL, mission.db.MAX_ID).
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class HotspotIn(_In):
    """A hotspot as `GET /api/hotspots` returned it (hotspots are computed, not stored)."""

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    incident_ids: list[RowId] = Field(default_factory=list, max_length=500)
    priority: PriorityName | None = None
    label: str = Field(default="", max_length=200)


class PointIn(_In):
    """A point to look at that is not (yet) an incident."""

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    priority: PriorityName = "normal"
    label: str = Field(default="", max_length=200)


class ZoneTargetIn(_In):
    """A red zone to cover: lawnmower sweeps or laps of its perimeter."""

    zone_id: RowId
    pattern: Literal["lawnmower", "perimeter"] = "lawnmower"
    spacing_m: Number = Field(default=40.0, ge=5, le=1000)
    heading_deg: Number = Field(default=0.0, ge=0, lt=360)
    laps: Integer = Field(default=1, ge=1, le=10)
    priority: PriorityName | None = None


class PlanIn(_In):
    name: str = Field(default="", max_length=128)
    drones: list[RowId] = Field(min_length=1, max_length=100)
    incidents: list[RowId] = Field(default_factory=list, max_length=500)
    hotspots: list[HotspotIn] = Field(default_factory=list, max_length=200)
    points: list[PointIn] = Field(default_factory=list, max_length=200)
    zones: list[ZoneTargetIn] = Field(default_factory=list, max_length=50)
    on_station: OnStation = Field(default_factory=LoiterIn)
    # response: severity-weighted time to eyes on (the default); total_time: least flying;
    # makespan: earliest completion
    objective: Literal["response", "total_time", "makespan"] = "response"
    severity_weights: list[Annotated[Integer, Field(ge=0, le=1000)]] = Field(
        default_factory=lambda: list(DEFAULT_SEVERITY_WEIGHTS), min_length=5, max_length=5,
        description="weight of severity 1..5 in the response objective")
    altitude_m: Number = Field(default=40.0, gt=0, description="above ground, first drone")
    separation_m: Number = Field(default=10.0, ge=0, le=100)
    max_altitude_m: Number = Field(default=120.0, gt=0, le=500)
    battery_reserve_pct: Number = Field(default=25.0, ge=5, le=90)
    time_limit_s: Number = Field(default=2.0, gt=0, le=30)


class RetaskIn(_In):
    incident_id: RowId | None = None
    point: PointIn | None = None
    on_station: OnStation = Field(default_factory=LoiterIn)


class QuickDispatchIn(_In):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    incident_id: RowId | None = None
    on_station: OnStation = Field(default_factory=lambda: LoiterIn(seconds=60.0))
    altitude_m: Number = Field(default=40.0, gt=0)
    battery_reserve_pct: Number = Field(default=25.0, ge=5, le=90)


class ControlIn(_In):
    """pause / resume / recall for one drone of the mission, or all when `drone_id` is null."""

    drone_id: RowId | None = None


class LegPublic(BaseModel):
    drone_id: int
    status: str
    altitude_m: Number
    distance_m: float
    duration_s: float
    battery_used_pct: float
    current_seq: int
    last_item_seq: int
    revision: int
    started_at: datetime | None
    finished_at: datetime | None
    reason: str
    items: list[dict[str, Any]]
    path: list[list[float]]


class TargetPublic(BaseModel):
    key: str
    kind: str
    label: str
    lat: float | None
    lon: float | None
    priority: int
    incident_ids: list[int]
    drone_id: int | None
    first_seq: int | None
    last_seq: int | None
    # planned seconds from dispatch (from the latest re-task, for a re-tasked drone) until the
    # drone is on station: the time to eyes on
    eta_s: float | None
    dropped_reason: str
    observed_at: datetime | None
    observed_by: int | None


class MissionPublic(BaseModel):
    id: int
    name: str
    status: str
    objective: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    finished_at: datetime | None
    reason: str
    makespan_s: float | None
    total_time_s: float | None
    response_s: float | None  # severity-weighted sum of the targets' eta_s
    solver: str | None
    warnings: list[str]
    legs: list[LegPublic]
    targets: list[TargetPublic]
    dropped: list[TargetPublic]


class LogPublic(BaseModel):
    at: datetime
    drone_id: int | None
    actor: str
    kind: str
    message: str
    data: dict[str, Any]
