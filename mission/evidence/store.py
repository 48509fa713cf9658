"""The evidence tables: recordings, segments and the per-drone chain (mission/evidence/chain.py).

Every function takes the caller's session (one transaction, mission/db.py `Database.run`), so a
segment, its link and the recording's totals commit together, and a deletion, its link and its
audit record too. `append_link` reads the drone's last link and writes the next: a concurrent
writer for the same drone (another replica, an admin's deletion) makes the commit fail on
(drone_id, seq) and the caller retries (`EvidenceStore`), so the chain never forks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mission.audit import service as audit
from mission.db import Database
from mission.evidence.chain import GENESIS, Entry, canonical_json, link_of, sha256_hex
from mission.evidence.context import RecordingContext
from mission.evidence.models import (
    EvidenceLink,
    EvidenceRecording,
    EvidenceRecordingIncident,
    EvidenceSegment,
    RecordingPublic,
    RecordingStatus,
)

T = TypeVar("T")
APPEND_TRIES = 8


class RecordingNotFound(LookupError):
    def __init__(self, recording_id: int) -> None:
        super().__init__(f"no recording {recording_id}")
        self.recording_id = recording_id


class StillRecording(RuntimeError):
    """The recorder is still adding segments to this recording."""

    def __init__(self, recording_id: int) -> None:
        super().__init__(f"recording {recording_id} is still being recorded")
        self.recording_id = recording_id


@dataclass(frozen=True)
class RecordingFilter:
    drone_id: int | None = None
    mission_id: int | None = None
    incident_id: int | None = None
    t_from: float | None = None  # recordings that end at or after
    t_to: float | None = None  # recordings that start at or before
    status: str | None = None


@dataclass(frozen=True)
class SegmentDone:
    """A closed segment, ready to be stored and linked."""

    recording_id: int
    drone_id: int
    index: int
    file: str
    sidecar: str
    sha256: str
    sidecar_sha256: str
    bytes: int
    frames: int
    started_at: float
    ended_at: float
    width: int
    height: int
    context: RecordingContext


def entry_of(row: EvidenceLink) -> Entry:
    return Entry(seq=row.seq, prev=row.prev, entry_sha=row.entry_sha, meta=json.loads(row.meta),
                 link=row.link)


def append_link(s: Session, drone_id: int, kind: str, entry_sha: str, meta: Mapping[str, Any],
                *, recording_id: int | None, at: float) -> EvidenceLink:
    last = s.exec(select(EvidenceLink).where(EvidenceLink.drone_id == drone_id)
                  .order_by(col(EvidenceLink.seq).desc()).limit(1)).first()
    prev = last.link if last is not None else GENESIS
    row = EvidenceLink(drone_id=drone_id, seq=(last.seq if last is not None else 0) + 1,
                       kind=kind, prev=prev, entry_sha=entry_sha,
                       meta=canonical_json(dict(meta)).decode("utf-8"),
                       link=link_of(prev, entry_sha, meta), recording_id=recording_id, at=at)
    s.add(row)
    s.flush()  # the (drone_id, seq) check now, inside the retry
    return row


def segment_meta(seg: SegmentDone) -> dict[str, Any]:
    ctx = seg.context
    return {"kind": "segment", "drone_id": seg.drone_id, "recording_id": seg.recording_id,
            "segment": seg.index, "file": seg.file, "sidecar": seg.sidecar,
            "sidecar_sha256": seg.sidecar_sha256, "bytes": seg.bytes, "frames": seg.frames,
            "start": seg.started_at, "end": seg.ended_at, "width": seg.width,
            "height": seg.height, "mission_id": ctx.mission_id,
            "incident_ids": list(ctx.incident_ids), "operator": ctx.operator}


class EvidenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _retrying(self, fn: Callable[[Session], T]) -> T:
        for attempt in range(APPEND_TRIES):
            try:
                return await self.db.run(fn)
            except IntegrityError:
                if attempt == APPEND_TRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def open_recording(self, drone_id: int, ctx: RecordingContext, started_at: float,
                             width: int, height: int) -> tuple[int, str]:
        """A new recording row; returns (id, its directory under the storage directory)."""
        def q(s: Session) -> tuple[int, str]:
            r = EvidenceRecording(drone_id=drone_id, mission_id=ctx.mission_id,
                                  incident_ids=list(ctx.incident_ids), operator=ctx.operator,
                                  started_at=started_at, ended_at=started_at, width=width,
                                  height=height, directory="")
            s.add(r)
            s.flush()
            assert r.id is not None
            r.directory = f"drone-{drone_id}/rec-{r.id:08d}"
            for incident in sorted(set(ctx.incident_ids)):
                s.add(EvidenceRecordingIncident(recording_id=r.id, incident_id=incident))
            return r.id, r.directory

        return await self.db.run(q)

    async def add_segment(self, seg: SegmentDone, at: float) -> EvidenceLink:
        def q(s: Session) -> EvidenceLink:
            meta = segment_meta(seg)
            link = append_link(s, seg.drone_id, "segment", seg.sha256, meta,
                               recording_id=seg.recording_id, at=at)
            s.add(EvidenceSegment(
                recording_id=seg.recording_id, drone_id=seg.drone_id, index=seg.index,
                file=seg.file, sidecar=seg.sidecar, sha256=seg.sha256,
                sidecar_sha256=seg.sidecar_sha256, bytes=seg.bytes, frames=seg.frames,
                started_at=seg.started_at, ended_at=seg.ended_at, chain_seq=link.seq))
            r = s.get(EvidenceRecording, seg.recording_id)
            assert r is not None
            r.ended_at = max(r.ended_at, seg.ended_at)
            r.segments += 1
            r.bytes += seg.bytes
            s.add(r)
            return link

        return await self._retrying(q)

    async def close_recording(self, recording_id: int) -> None:
        """Recording finished: complete, or gone if it never got a segment."""
        def q(s: Session) -> None:
            r = s.get(EvidenceRecording, recording_id)
            if r is None or r.status != RecordingStatus.RECORDING:
                return
            if r.segments == 0:
                for link in s.exec(select(EvidenceRecordingIncident).where(
                        EvidenceRecordingIncident.recording_id == recording_id)):
                    s.delete(link)
                s.delete(r)
                return
            r.status = RecordingStatus.COMPLETE.value
            s.add(r)

        await self.db.run(q)

    async def find(self, f: RecordingFilter, limit: int) -> list[RecordingPublic]:
        def q(s: Session) -> list[RecordingPublic]:
            stmt = select(EvidenceRecording)
            if f.drone_id is not None:
                stmt = stmt.where(EvidenceRecording.drone_id == f.drone_id)
            if f.mission_id is not None:
                stmt = stmt.where(EvidenceRecording.mission_id == f.mission_id)
            if f.incident_id is not None:
                stmt = stmt.where(col(EvidenceRecording.id).in_(
                    select(EvidenceRecordingIncident.recording_id).where(
                        EvidenceRecordingIncident.incident_id == f.incident_id)))
            if f.t_from is not None:
                stmt = stmt.where(EvidenceRecording.ended_at >= f.t_from)
            if f.t_to is not None:
                stmt = stmt.where(EvidenceRecording.started_at <= f.t_to)
            if f.status is not None:
                stmt = stmt.where(EvidenceRecording.status == f.status)
            rows = s.exec(stmt.order_by(col(EvidenceRecording.started_at).desc(),
                                        col(EvidenceRecording.id).desc()).limit(limit))
            return [RecordingPublic.of(r) for r in rows]

        return await self.db.run(q)

    async def recording(self, recording_id: int) -> tuple[RecordingPublic, str,
                                                          list[EvidenceSegment], list[Entry]]:
        """The recording, its directory, its segments and the drone's chain from its first
        segment's link to its last (other recordings' links in between included)."""
        def q(s: Session) -> tuple[RecordingPublic, str, list[EvidenceSegment], list[Entry]]:
            r = s.get(EvidenceRecording, recording_id)
            if r is None:
                raise RecordingNotFound(recording_id)
            segs = list(s.exec(select(EvidenceSegment).where(
                EvidenceSegment.recording_id == recording_id)
                .order_by(col(EvidenceSegment.index))))
            entries: list[Entry] = []
            if segs:
                lo = min(x.chain_seq for x in segs)
                hi = max(x.chain_seq for x in segs)
                rows = s.exec(select(EvidenceLink).where(
                    EvidenceLink.drone_id == r.drone_id, col(EvidenceLink.seq) >= lo,
                    col(EvidenceLink.seq) <= hi).order_by(col(EvidenceLink.seq)))
                entries = [entry_of(x) for x in rows]
            return RecordingPublic.of(r), r.directory, segs, entries

        return await self.db.run(q)

    async def mark_deleted(self, recording_id: int, *, by: str, reason: str, at: float,
                           role: str | None = None) -> tuple[str, Entry]:
        """Mark the recording deleted, append the deletion link and the audit record (one
        transaction); returns its directory (for the caller to remove) and the link.
        Raises RecordingNotFound. (The service refuses recordings its recorder is still writing.)"""
        def q(s: Session) -> tuple[str, Entry]:
            r = s.get(EvidenceRecording, recording_id)
            if r is None or r.status == RecordingStatus.DELETED:
                raise RecordingNotFound(recording_id)
            segs = s.exec(select(EvidenceSegment).where(
                EvidenceSegment.recording_id == recording_id)
                .order_by(col(EvidenceSegment.index)))
            deleted = [{"segment": x.index, "sha256": x.sha256, "chain_seq": x.chain_seq}
                       for x in segs]
            meta = {"kind": "deletion", "drone_id": r.drone_id, "recording_id": recording_id,
                    "by": by, "reason": reason, "at": at, "segments": deleted}
            link = append_link(s, r.drone_id, "deletion", sha256_hex(canonical_json(deleted)),
                               meta, recording_id=recording_id, at=at)
            r.status = RecordingStatus.DELETED.value
            r.deleted_at, r.deleted_by, r.deletion_reason = at, by[:128], reason[:32]
            s.add(r)
            audit.add(s, "recording.delete" if reason == "admin" else "recording.expire",
                      actor=by, role=role, drone_id=r.drone_id, mission_id=r.mission_id,
                      target=f"recording:{recording_id}",
                      params={"reason": reason, "segments": len(deleted)},
                      result={"chain_seq": link.seq, "link": link.link})
            return r.directory, entry_of(link)

        return await self._retrying(q)

    async def expired(self, before: float, limit: int = 100) -> list[int]:
        """Recordings not deleted that ended before `before`, oldest first (one left in
        `recording` by a stop that could not close it counts too)."""
        def q(s: Session) -> list[int]:
            rows = s.exec(select(EvidenceRecording.id).where(
                EvidenceRecording.status != RecordingStatus.DELETED.value,
                col(EvidenceRecording.ended_at) < before,
            ).order_by(col(EvidenceRecording.ended_at)).limit(limit))
            return [x for x in rows if x is not None]

        return await self.db.run(q)

    async def chain(self, drone_id: int, after_seq: int = 0, limit: int = 10_000) -> list[Entry]:
        def q(s: Session) -> list[Entry]:
            rows = s.exec(select(EvidenceLink).where(
                EvidenceLink.drone_id == drone_id, col(EvidenceLink.seq) > after_seq)
                .order_by(col(EvidenceLink.seq)).limit(limit))
            return [entry_of(x) for x in rows]

        return await self.db.run(q)
