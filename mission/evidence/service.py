"""Evidence recordings as the API and the runtime use them: listing, bundles, deletion by an
admin, the retention sweep, and the recorder (mission/evidence/recorder.py) the live ingest
feeds. Every read of recordings and every deletion is in the audit log."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mission.audit.service import AuditService
from mission.evidence.bundle import write_bundle
from mission.evidence.chain import Entry
from mission.evidence.models import RecordingPublic
from mission.evidence.recorder import EvidenceRecorder
from mission.evidence.store import (
    EvidenceStore,
    RecordingFilter,
    RecordingNotFound,
    StillRecording,
)

log = logging.getLogger(__name__)

RETENTION_ACTOR = "retention"
DAY_S = 86_400.0


class RecordingGone(LookupError):
    """The recording was deleted: its files no longer exist (its links do)."""

    def __init__(self, recording_id: int) -> None:
        super().__init__(f"recording {recording_id} was deleted: its files no longer exist")
        self.recording_id = recording_id


class EvidenceService:
    def __init__(self, store: EvidenceStore, recorder: EvidenceRecorder, audit: AuditService,
                 *, retention_days: float, sweep_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.recorder = recorder
        self.audit = audit
        self.retention_days = retention_days
        self.sweep_s = sweep_s
        self.clock = clock

    @property
    def storage_dir(self) -> Path:
        return self.recorder.storage_dir

    async def find(self, f: RecordingFilter, limit: int) -> list[RecordingPublic]:
        found = await self.store.find(f, limit)
        await self.audit.record("recording.list", drone_id=f.drone_id, mission_id=f.mission_id,
                                params={k: v for k, v in vars(f).items() if v is not None},
                                result={"count": len(found)})
        return found

    async def chain(self, drone_id: int, after_seq: int, limit: int) -> list[Entry]:
        return await self.store.chain(drone_id, after_seq, limit)

    async def bundle(self, recording_id: int, actor: str) -> Path:
        """A zip bundle in a temporary file the caller removes. RecordingNotFound, RecordingGone."""
        recording, directory, segments, entries = await self.store.recording(recording_id)
        if recording.status == "deleted":
            raise RecordingGone(recording_id)
        bundles = self.storage_dir / ".bundles"  # beside the files: same disk, same permissions
        await asyncio.to_thread(bundles.mkdir, parents=True, exist_ok=True)
        fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix=f"recording-{recording_id}-",
                                           suffix=".zip", dir=bundles)
        os.close(fd)
        out = Path(name)
        try:
            await asyncio.to_thread(write_bundle, out, self.storage_dir / directory, recording,
                                    segments, entries, created_at=self.clock(),
                                    created_by=actor)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        await self.audit.record("recording.download", drone_id=recording.drone_id,
                                mission_id=recording.mission_id,
                                target=f"recording:{recording_id}",
                                result={"segments": len(segments),
                                        "last_link": entries[-1].link if entries else None})
        return out

    async def delete(self, recording_id: int, *, by: str, role: str | None = None,
                     reason: str = "admin") -> Entry:
        """Delete the recording's files; the deletion is a chain link and an audit record.
        RecordingNotFound; StillRecording while the recorder is writing it."""
        if self.recorder.recording_now(recording_id):
            raise StillRecording(recording_id)
        directory, link = await self.store.mark_deleted(recording_id, by=by, role=role,
                                                        reason=reason, at=self.clock())
        target = self.storage_dir / directory
        if directory:
            try:
                await asyncio.to_thread(shutil.rmtree, target)
            except FileNotFoundError:
                pass
            except OSError:
                log.exception("recording %d: files left in %s after its deletion",
                              recording_id, target)
        return link

    async def sweep(self) -> int:
        """Delete the recordings older than the retention period (none when it is 0)."""
        if not self.retention_days > 0:
            return 0
        before = self.clock() - self.retention_days * DAY_S
        done = 0
        for recording_id in await self.store.expired(before):
            if self.recorder.recording_now(recording_id):
                continue
            try:
                await self.delete(recording_id, by=RETENTION_ACTOR, reason="retention")
            except RecordingNotFound:
                continue
            done += 1
        if done:
            log.info("retention: %d recordings older than %g days deleted", done,
                     self.retention_days)
        return done

    async def run_sweeper(self) -> None:
        """Sweep now and every `sweep_s` until cancelled; a failed sweep is logged."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("recording retention sweep failed")
            await asyncio.sleep(self.sweep_s)
