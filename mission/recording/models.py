"""Recorded track points (1 Hz per drone) and vehicle events. Times are Unix seconds (float),
which index and compare cheaply in every database and need no timezone handling."""

from __future__ import annotations

from typing import Any

from sqlmodel import JSON, Column, Field, SQLModel


class TrackPoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    drone_id: int = Field(index=True)
    t: float = Field(index=True)
    lat: float
    lon: float
    alt_amsl: float
    alt_rel: float | None = None
    heading_deg: float | None = None
    ground_speed: float | None = None
    mode: str = ""
    armed: bool = False


class EventRecord(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    drone_id: int = Field(index=True)
    t: float = Field(index=True)
    kind: str = Field(max_length=32, index=True)
    severity: int | None = None
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class EventPublic(SQLModel):
    id: int
    drone_id: int
    t: float
    time: str
    kind: str
    severity: int | None
    message: str
    data: dict[str, Any]
