"""Evidence recordings: tables (migration 0008) and API shapes.

A recording is one drone's video under one context (mission, incidents, operator): the
recorder starts a new one when the context changes at a segment boundary, so every segment of
a recording shares its metadata. Times are Unix seconds (float), as in mission/recording.

`evidence_link` is the hash chain (mission/evidence/chain.py): append-only (the ORM, SQLite
triggers and a PostgreSQL statement trigger refuse UPDATE and DELETE), one linear chain per
drone (unique drone_id + seq: two writers racing for the same place cannot fork it). Segment
rows are never changed either; deleting a recording removes its files and marks the
recording, and appends a deletion link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, Text, UniqueConstraint, event
from sqlmodel import JSON, Column, Field, SQLModel


class RecordingStatus(StrEnum):
    RECORDING = "recording"  # segments still being added
    COMPLETE = "complete"
    DELETED = "deleted"  # files removed by an admin or by retention; links kept


class EvidenceRecording(SQLModel, table=True):
    __tablename__ = "evidence_recording"

    id: int | None = Field(default=None, primary_key=True)
    drone_id: int = Field(index=True)
    mission_id: int | None = Field(default=None, index=True)
    incident_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    operator: str | None = Field(default=None, max_length=128)
    status: str = Field(default=RecordingStatus.RECORDING.value, max_length=16, index=True)
    started_at: float = Field(index=True)
    ended_at: float = Field(index=True)
    width: int = 0
    height: int = 0
    segments: int = 0
    bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))  # > 2 GiB
    directory: str = Field(max_length=256)  # under the storage directory
    deleted_at: float | None = None
    deleted_by: str | None = Field(default=None, max_length=128)
    deletion_reason: str | None = Field(default=None, max_length=32)  # admin | retention


class EvidenceRecordingIncident(SQLModel, table=True):
    """Which incidents a recording shows (the filter `?incident_id=`)."""

    __tablename__ = "evidence_recording_incident"

    recording_id: int = Field(primary_key=True)
    incident_id: int = Field(primary_key=True, index=True)


class EvidenceSegment(SQLModel, table=True):
    __tablename__ = "evidence_segment"

    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(index=True)
    drone_id: int
    index: int  # 1, 2, ... within the recording
    file: str = Field(max_length=64)  # seg-00001.mp4, in the recording's directory
    sidecar: str = Field(max_length=64)  # seg-00001.json
    sha256: str = Field(max_length=64)
    sidecar_sha256: str = Field(max_length=64)
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    frames: int
    started_at: float
    ended_at: float
    chain_seq: int


class EvidenceLink(SQLModel, table=True):
    __tablename__ = "evidence_link"
    __table_args__ = (UniqueConstraint("drone_id", "seq", name="uq_evidence_link_drone_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    drone_id: int
    seq: int  # 1, 2, ... per drone
    kind: str = Field(max_length=16)  # segment | deletion
    prev: str = Field(max_length=64)
    entry_sha: str = Field(max_length=64)
    meta: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON, as hashed
    link: str = Field(max_length=64)
    recording_id: int | None = Field(default=None, index=True)
    at: float


def _append_only(*_args: Any) -> None:
    raise RuntimeError("evidence_link is append-only")


event.listen(EvidenceLink, "before_update", _append_only)
event.listen(EvidenceLink, "before_delete", _append_only)
event.listen(EvidenceSegment, "before_update", _append_only)


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class RecordingPublic(BaseModel):
    id: int
    drone_id: int
    mission_id: int | None
    incident_ids: list[int]
    operator: str | None
    status: str
    started_at: float
    ended_at: float
    start: str | None  # ISO 8601 of started_at
    end: str | None
    width: int
    height: int
    segments: int
    bytes: int
    deleted_at: float | None
    deleted_by: str | None
    deletion_reason: str | None

    @classmethod
    def of(cls, r: EvidenceRecording) -> RecordingPublic:
        assert r.id is not None
        return cls(id=r.id, drone_id=r.drone_id, mission_id=r.mission_id,
                   incident_ids=list(r.incident_ids or []), operator=r.operator,
                   status=r.status, started_at=r.started_at, ended_at=r.ended_at,
                   start=iso(r.started_at), end=iso(r.ended_at), width=r.width,
                   height=r.height, segments=r.segments, bytes=r.bytes,
                   deleted_at=r.deleted_at, deleted_by=r.deleted_by,
                   deletion_reason=r.deletion_reason)
