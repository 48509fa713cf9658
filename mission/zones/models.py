"""Zone table and its API shapes.

A zone is a GeoJSON Polygon (holes allowed) of one of two kinds: `red` (a patrol area with a
risk level 1-5) or `no_fly` (an area drones must not enter). Altitude limits are optional, in
metres above the take-off point: for a no-fly zone the band that is closed (no limits: the
whole column), for a red zone the band to patrol in. The geometry is stored as validated GeoJSON
together with its bounding box, which list queries filter on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlmodel import JSON, Column, Field, SQLModel

from mission.clock import utcnow
from mission.ids import NO_REUSED_IDS
from mission.incidents.models import utc_column

MAX_ALT_M = 10_000.0


class ZoneKind(StrEnum):
    RED = "red"
    NO_FLY = "no_fly"


class Zone(SQLModel, table=True):
    __tablename__ = "zone"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, index=True)
    kind: str = Field(max_length=16, index=True)
    risk_level: int | None = None
    geometry: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    min_alt_m: float | None = None
    max_alt_m: float | None = None
    active: bool = Field(default=True, index=True)
    description: str = Field(default="", max_length=1000)
    west: float
    south: float
    east: float
    north: float
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class ZoneCreate(BaseModel):
    """POST /api/zones body (also one imported Feature: geometry plus properties)."""

    model_config = ConfigDict(extra="forbid")

    name: str = pydantic.Field(min_length=1, max_length=128)
    kind: ZoneKind
    risk_level: int | None = pydantic.Field(
        default=None, ge=1, le=5, description="required for red zones, absent for no-fly zones"
    )
    geometry: dict[str, Any] = pydantic.Field(description="GeoJSON Polygon, [lon, lat] order")
    min_alt_m: float | None = pydantic.Field(default=None, ge=0, le=MAX_ALT_M)
    max_alt_m: float | None = pydantic.Field(default=None, gt=0, le=MAX_ALT_M)
    active: bool = True
    description: str = pydantic.Field(default="", max_length=1000)


class ZoneUpdate(BaseModel):
    """PATCH /api/zones/{id} body: only the fields given change (null clears risk_level or an
    altitude limit)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = pydantic.Field(default=None, min_length=1, max_length=128)
    kind: ZoneKind | None = None
    risk_level: int | None = pydantic.Field(default=None, ge=1, le=5)
    geometry: dict[str, Any] | None = None
    min_alt_m: float | None = pydantic.Field(default=None, ge=0, le=MAX_ALT_M)
    max_alt_m: float | None = pydantic.Field(default=None, gt=0, le=MAX_ALT_M)
    active: bool | None = None
    description: str | None = pydantic.Field(default=None, max_length=1000)


class ZonePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: ZoneKind
    risk_level: int | None
    geometry: dict[str, Any]
    min_alt_m: float | None
    max_alt_m: float | None
    active: bool
    description: str
    bbox: list[float] = pydantic.Field(description="[west, south, east, north]")
    created_at: datetime
    updated_at: datetime


class ZoneImportResult(BaseModel):
    imported: int
    ids: list[int]
