"""The video hub: one ingest per drone, fanned out to any number of subscribers (WebRTC
viewers, the evidence recorder) through bounded queues.

A subscriber that falls behind never slows the ingest or another subscriber: when its queue is
full, what it has queued is dropped and it resumes at the next keyframe (a decoder cannot start
anywhere else). A new subscriber also starts at a keyframe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from telemetry.video.frame import EncodedFrame
from telemetry.video.reader import StreamReader
from telemetry.video.source import VideoSource

log = logging.getLogger(__name__)

DEFAULT_QUEUE_FRAMES = 30  # 2 s at 15 fps


class NoVideo(LookupError):
    """The drone has no known video source (not configured, not announced yet)."""


@dataclass(eq=False)
class _Subscriber:
    limit: int
    frames: deque[EncodedFrame] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    need_keyframe: bool = True
    dropped: int = 0
    closed: bool = False

    def offer(self, frame: EncodedFrame) -> int:
        """Queue `frame` (or not); returns how many queued frames were dropped for it."""
        if self.need_keyframe:
            if not frame.keyframe:
                return 0
            self.need_keyframe = False
        dropped = 0
        if len(self.frames) >= self.limit:
            dropped = len(self.frames)
            self.dropped += dropped
            self.frames.clear()
            if not frame.keyframe:
                self.need_keyframe = True
                return dropped
        self.frames.append(frame)
        self.wake.set()
        return dropped


@dataclass
class _Ingest:
    reader: StreamReader
    subscribers: set[_Subscriber] = field(default_factory=set)
    last: EncodedFrame | None = None


class VideoHub:
    """Sources by drone id, their readers, and the subscribers. Used on the event loop; the
    readers' threads hand frames over with call_soon_threadsafe."""

    def __init__(self, *, queue_frames: int = DEFAULT_QUEUE_FRAMES) -> None:
        self.queue_frames = queue_frames
        self._sources: dict[int, VideoSource] = {}
        self._ingests: dict[int, _Ingest] = {}
        self._waiting: dict[int, set[_Subscriber]] = {}  # subscribed before a source is known
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        # told of each drone whose video starts being read (not of a source replaced under
        # the same subscribers): the service starts the drone's evidence recording there
        self.on_started: Callable[[int], None] | None = None
        # per drone id, since the hub was made (kept when a source goes: counters only grow)
        self.frames_received: dict[int, int] = {}
        self.frames_skipped: dict[int, int] = {}  # dropped from slow subscribers' queues

    def source(self, drone_id: int) -> VideoSource | None:
        return self._sources.get(drone_id)

    def sources(self) -> dict[int, VideoSource]:
        return dict(self._sources)

    async def set_source(self, drone_id: int, source: VideoSource) -> None:
        """Read `source` for `drone_id` from now on (replacing another source). OSError when a
        UDP port cannot be bound (another process or drone has it)."""
        if self._closed:
            return
        if self._sources.get(drone_id) == source:
            return
        replacing = drone_id in self._ingests
        await self.remove(drone_id, keep_subscribers=True)
        loop = self._loop = asyncio.get_running_loop()

        def sink(frame: EncodedFrame) -> None:  # the reader's thread
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._publish, drone_id, frame)

        reader = StreamReader(source, sink, name=str(drone_id))
        reader.start()
        ingest = _Ingest(reader, self._waiting.pop(drone_id, set()))
        self._sources[drone_id] = source
        self._ingests[drone_id] = ingest
        log.info("video for drone %s from %s", drone_id, source.url)
        if self.on_started is not None and not replacing:
            self.on_started(drone_id)

    async def remove(self, drone_id: int, *, keep_subscribers: bool = False) -> None:
        """Stop reading a drone's video; its subscribers end (unless `keep_subscribers`: a
        source being replaced)."""
        self._sources.pop(drone_id, None)
        ingest = self._ingests.pop(drone_id, None)
        if ingest is None:
            return
        if keep_subscribers:
            self._waiting.setdefault(drone_id, set()).update(ingest.subscribers)
            for sub in ingest.subscribers:
                sub.need_keyframe = True
        else:
            for sub in ingest.subscribers:
                sub.closed = True
                sub.wake.set()
        ingest.reader.request_stop()
        if not await asyncio.to_thread(ingest.reader.join):
            log.warning("video reader of drone %s did not stop", drone_id)

    def _publish(self, drone_id: int, frame: EncodedFrame) -> None:
        ingest = self._ingests.get(drone_id)
        if ingest is None:
            return
        ingest.last = frame
        self.frames_received[drone_id] = self.frames_received.get(drone_id, 0) + 1
        skipped = 0
        for sub in ingest.subscribers:
            skipped += sub.offer(frame)
        if skipped:
            self.frames_skipped[drone_id] = self.frames_skipped.get(drone_id, 0) + skipped

    async def subscribe(self, drone_id: int) -> AsyncIterator[EncodedFrame]:
        """Encoded frames of `drone_id` from its next keyframe on, until the hub closes or the
        drone's video is removed. Works before a source is known (waits for one)."""
        sub = _Subscriber(self.queue_frames)
        ingest = self._ingests.get(drone_id)
        if ingest is not None:
            ingest.subscribers.add(sub)
        else:
            self._waiting.setdefault(drone_id, set()).add(sub)
        try:
            while not self._closed:
                while sub.frames:
                    yield sub.frames.popleft()
                if sub.closed:
                    return
                sub.wake.clear()
                await sub.wake.wait()
        finally:
            ing = self._ingests.get(drone_id)
            if ing is not None:
                ing.subscribers.discard(sub)
            self._waiting.get(drone_id, set()).discard(sub)

    def require(self, drone_id: int) -> VideoSource:
        source = self._sources.get(drone_id)
        if source is None:
            raise NoVideo(f"drone {drone_id} has no video source (configure one or wait for "
                          "its VIDEO_STREAM_INFORMATION)")
        return source

    def stats(self) -> dict[str, Any]:
        return {str(d): {"url": i.reader.source.url, "frames": i.reader.frames,
                         "subscribers": len(i.subscribers), "errors": i.reader.errors,
                         "dropped": sum(s.dropped for s in i.subscribers)}
                for d, i in self._ingests.items()}

    async def close(self) -> None:
        """End every subscriber and stop every reader (bounded by the readers' timeouts)."""
        self._closed = True
        for ingest in self._ingests.values():
            ingest.reader.request_stop()  # all at once: each may wait out a read timeout
        await asyncio.gather(*(self.remove(d) for d in list(self._ingests)))
        for subs in self._waiting.values():
            for sub in subs:
                sub.closed = True
                sub.wake.set()
        self._waiting.clear()
