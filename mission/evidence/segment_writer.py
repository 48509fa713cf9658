"""One MP4 segment written from Annex-B H.264 access units without re-encoding (PyAV remux).

Blocking (file I/O and FFmpeg's muxer): the recorder calls every method in a worker thread,
one segment at a time per drone, never on the event loop. The output stream's codec
parameters (size, profile, SPS/PPS as extradata) come from the first keyframe, read by FFmpeg's
own H.264 parser; FFmpeg's MP4 muxer turns the Annex-B extradata into an `avcC` box and the
start-code framed samples into length-prefixed ones. Frames keep their 90 kHz times, shifted so
that the segment starts at 0; a time that does not advance (a wrapped or repeated RTP time) is
replaced by the previous one plus the receive-time gap, so the muxer never sees a time go back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from telemetry.video.frame import EncodedFrame

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)


class SegmentError(RuntimeError):
    """The first frame could not start a segment (not H.264 FFmpeg can read)."""


class SegmentWriter:
    """Open with the segment's first frame (a keyframe), `write` the others, `close` once."""

    def __init__(self, path: Path, first: EncodedFrame) -> None:
        if not first.keyframe:
            raise SegmentError("a segment starts on a keyframe")
        self.path = path
        self.frames = 0
        self._t0 = first.pts
        self._last_pts = -1
        self._last_received = first.received_at
        self._template: InputContainer | None = None
        self._out: OutputContainer | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            template = av.open(io.BytesIO(first.data), "r", format="h264")
            self._template = template
            source = template.streams.video[0]
            if not source.codec_context.extradata:
                raise SegmentError("the keyframe carries no SPS/PPS")
            self._out = av.open(str(path), "w", format="mp4")
            self._stream: VideoStream = self._out.add_stream_from_template(source)
            self._stream.time_base = TIME_BASE
        except (av.FFmpegError, IndexError) as e:
            self._discard()
            raise SegmentError(f"cannot read the keyframe as H.264: {e}") from None
        except BaseException:
            self._discard()
            raise
        self.write(first)

    def offset_s(self, frame: EncodedFrame) -> float:
        """Where `frame` would go in the segment, in seconds from its start (no I/O)."""
        return self._pts_of(frame) / CLOCK

    def _pts_of(self, frame: EncodedFrame) -> int:
        pts = frame.pts - self._t0
        if pts <= self._last_pts:  # wrapped or repeated: keep time moving by the receive gap
            gap = max(1, round((frame.received_at - self._last_received) * CLOCK))
            pts = self._last_pts + gap
        return pts

    def write(self, frame: EncodedFrame) -> None:
        assert self._out is not None, "closed"
        pts = self._pts_of(frame)
        self._t0 = frame.pts - pts
        packet = Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        packet.stream = self._stream
        packet.is_keyframe = frame.keyframe
        self._out.mux(packet)
        self._last_pts = pts
        self._last_received = frame.received_at
        self.frames += 1

    def close(self) -> tuple[str, int]:
        """Finish the file (the MP4 index) and return its (SHA-256 hex, size in bytes)."""
        out, self._out = self._out, None
        if out is not None:
            out.close()
        if self._template is not None:
            self._template.close()
            self._template = None
        return file_sha256(self.path)

    def _discard(self) -> None:
        for c in (self._out, self._template):
            if c is not None:
                with contextlib.suppress(av.FFmpegError):
                    c.close()
        self._out = self._template = None
        self.path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """Close and delete a segment that will not be kept (shutdown mid-error)."""
        self._discard()


def file_sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
