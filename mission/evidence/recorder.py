"""The evidence recorder: one drone's encoded frames in, MP4 segments, telemetry sidecars and
chain links out.

Entry point (wired by the runtime to the live ingest):

    await recorder.record_drone(drone_id, video_hub.subscribe(drone_id))

records until the iterator ends or the task is cancelled, then closes the open segment (kept,
hashed and linked: a stop loses no video already received). Frames before the first keyframe
are dropped (they cannot be decoded); a segment starts on a keyframe once the current one is
`segment_s` long, so segments are `segment_s` plus up to one keyframe interval. Muxing, hashing
and file writes run in worker threads; the event loop only moves frames along. When the
drone's context (mission, incidents, operator: mission/evidence/context.py) has changed at a
segment boundary, the recording is closed and a new one begins; a keyframe of another
picture size starts a new segment (an MP4 track has one set of codec parameters).

Each drone's muxing runs on its own one-thread executor rather than `asyncio.to_thread`: the
calls on one segment then run in order even when the recording task is cancelled while one is
in flight (a cancelled await does not stop its thread), so the closing call never races a
write on the same FFmpeg context.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import av

from mission.evidence import sidecar
from mission.evidence.chain import sha256_hex
from mission.evidence.context import ContextProvider, NoContext, RecordingContext
from mission.evidence.segment_writer import SegmentError, SegmentWriter
from mission.evidence.store import EvidenceStore, SegmentDone
from telemetry.hub import TelemetryHub
from telemetry.video.frame import EncodedFrame

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_SEGMENT_S = 10.0
DEFAULT_SAMPLE_S = 0.5


class AlreadyRecording(RuntimeError):
    pass


class EvidenceRecorder:
    def __init__(self, store: EvidenceStore, storage_dir: Path, *,
                 hub: TelemetryHub | None = None, context: ContextProvider | None = None,
                 segment_s: float = DEFAULT_SEGMENT_S, sample_s: float = DEFAULT_SAMPLE_S,
                 footprint_of: sidecar.FootprintOf = sidecar.no_footprint,
                 clock: Callable[[], float] = time.time) -> None:
        if not segment_s > 0:
            raise ValueError("segment_s: seconds above 0")
        self.store = store
        self.storage_dir = storage_dir
        self.hub = hub
        self.context = context or NoContext()
        self.segment_s = segment_s
        self.sample_s = sample_s
        self.footprint_of = footprint_of
        self.clock = clock
        self.active: dict[int, int | None] = {}  # drone -> the recording being written
        self.segments_written = 0
        self.frames_dropped = 0

    def recording_now(self, recording_id: int) -> bool:
        return recording_id in self.active.values()

    async def record_drone(self, drone_id: int, frames: AsyncIterator[EncodedFrame]) -> None:
        """Record `frames` of `drone_id` until they end or this is cancelled (see the module's
        docstring). One at a time per drone: AlreadyRecording otherwise."""
        if drone_id in self.active:
            raise AlreadyRecording(f"drone {drone_id} is already being recorded")
        self.active[drone_id] = None
        run = _DroneRun(self, drone_id)
        try:
            async for frame in frames:
                await run.feed(frame)
        finally:
            try:
                await asyncio.shield(run.finish())
            finally:
                self.active.pop(drone_id, None)


@dataclass
class _DroneRun:
    recorder: EvidenceRecorder
    drone_id: int
    writer: SegmentWriter | None = None
    recording_id: int | None = None
    directory: str = ""
    context: RecordingContext = field(default_factory=RecordingContext)
    index: int = 0
    first: EncodedFrame | None = None
    last: EncodedFrame | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    next_sample: float = 0.0
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="evidence-mux"))

    async def _blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn` on this drone's muxing thread, in submission order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))

    async def feed(self, frame: EncodedFrame) -> None:
        rec = self.recorder
        if self.writer is None:
            if not frame.keyframe:
                rec.frames_dropped += 1
                return
            await self._open(frame)
            return
        first = self.first
        resized = first is not None and (frame.width, frame.height) != (first.width,
                                                                         first.height)
        if frame.keyframe and (resized or self.writer.offset_s(frame) >= rec.segment_s):
            await self._close_segment()
            await self._open(frame)
            return
        offset = self.writer.offset_s(frame)
        try:
            await self._blocking(self.writer.write, frame)
        except av.FFmpegError as e:
            log.warning("drone %d: segment %d: cannot mux a frame (%s); starting again at the "
                        "next keyframe", self.drone_id, self.index, e)
            await self._close_segment()
            return
        self._took(frame, offset)

    def _took(self, frame: EncodedFrame, offset: float) -> None:
        """`frame` is in the segment at `offset` s: sample the telemetry when one is due."""
        self.last = frame
        if frame.received_at >= self.next_sample:
            rec = self.recorder
            state = rec.hub.latest(self.drone_id) if rec.hub is not None else None
            self.samples.append(sidecar.sample(state, frame.received_at, offset,
                                               rec.footprint_of))
            self.next_sample = frame.received_at + rec.sample_s

    async def _open(self, frame: EncodedFrame) -> None:
        rec = self.recorder
        try:
            ctx = await rec.context.context(self.drone_id)
        except Exception:
            log.exception("drone %d: recording context unavailable", self.drone_id)
            ctx = RecordingContext()
        if self.recording_id is None or ctx != self.context:
            if self.recording_id is not None:
                await rec.store.close_recording(self.recording_id)
            self.recording_id, self.directory = await rec.store.open_recording(
                self.drone_id, ctx, frame.received_at, frame.width, frame.height)
            rec.active[self.drone_id] = self.recording_id
            self.context = ctx
            self.index = 0
        self.index += 1
        path = rec.storage_dir / self.directory / f"seg-{self.index:05d}.mp4"
        try:
            self.writer = await self._blocking(SegmentWriter, path, frame)
        except SegmentError as e:
            log.warning("drone %d: keyframe dropped: %s", self.drone_id, e)
            self.index -= 1
            rec.frames_dropped += 1
            return
        self.first, self.samples, self.next_sample = frame, [], 0.0
        self._took(frame, 0.0)

    async def _close_segment(self) -> None:
        writer, self.writer = self.writer, None
        if writer is None or self.recording_id is None:
            return
        first, last = self.first, self.last
        assert first is not None and last is not None
        rec = self.recorder
        sha, size = await self._blocking(writer.close)
        name = writer.path.name
        side_name = name.removesuffix(".mp4") + ".json"
        doc = sidecar.document(drone_id=self.drone_id, recording_id=self.recording_id,
                               segment=self.index, video=name, start=first.received_at,
                               end=last.received_at, samples=self.samples)
        data = (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode("utf-8")
        await self._blocking(writer.path.with_name(side_name).write_bytes, data)
        self.first = self.last = None
        self.samples = []
        try:
            await rec.store.add_segment(SegmentDone(
                recording_id=self.recording_id, drone_id=self.drone_id, index=self.index,
                file=name, sidecar=side_name, sha256=sha, sidecar_sha256=sha256_hex(data),
                bytes=size, frames=writer.frames, started_at=first.received_at,
                ended_at=last.received_at, width=first.width, height=first.height,
                context=self.context), at=rec.clock())
        except Exception:
            # the video goes on being recorded; this file stays on disk, outside the chain
            log.exception("drone %d: segment %s (SHA-256 %s) could not be linked", self.drone_id,
                          writer.path, sha)
            return
        rec.segments_written += 1

    async def finish(self) -> None:
        try:
            await self._close_segment()
        except Exception:
            log.exception("drone %d: the last segment could not be stored", self.drone_id)
        finally:
            self.pool.shutdown(wait=False)
        if self.recording_id is not None:
            await self.recorder.store.close_recording(self.recording_id)
            self.recording_id = None
