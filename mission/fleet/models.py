"""Drone and command-record tables and their API shapes (one SQLModel family per entity)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import JSON, Column, Field, SQLModel

from mission.clock import utcnow  # also imported from here by mission/fleet/commands.py
from mission.ids import NO_REUSED_IDS


class DroneBase(SQLModel):
    name: str = Field(default="", max_length=64)
    url: str = Field(max_length=256, description="MAVSDK connection URL, e.g. tcpout://10.0.0.5:5760")
    sysid: int | None = Field(
        default=None, ge=1, le=255,
        description="MAVLink system id; learned from the vehicle's heartbeat when omitted",
    )


class Drone(DroneBase, table=True):
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    discovered: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    # Which link process serves the drone when there is a bus (NAZORAT_SHARD / link-worker
    # --shard); "" is the default shard. Without a bus every drone is linked in-process.
    shard: str = Field(default="", max_length=64, index=True,
                       sa_column_kwargs={"server_default": text("''")})


class DroneCreate(DroneBase):
    """POST /api/drones body."""

    shard: str | None = Field(
        default=None, max_length=64,
        description="link shard (with a bus); default: the shard of the service that adds it",
    )


class DronePublic(DroneBase):
    id: int
    discovered: bool
    shard: str = ""
    created_at: datetime
    state: dict[str, Any] | None = None


class CommandRecord(SQLModel, table=True):
    """One command addressed to a drone: who, what, when, with which parameters, and how it
    ended. Written for every attempt, including refused and invalid ones."""

    id: int | None = Field(default=None, primary_key=True)
    drone_id: int = Field(index=True)
    name: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    requested_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    outcome: str = Field(max_length=32)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class CommandRecordPublic(SQLModel):
    id: int
    drone_id: int
    name: str
    actor: str
    params: dict[str, Any]
    requested_at: datetime
    finished_at: datetime | None
    outcome: str
    result: dict[str, Any]
