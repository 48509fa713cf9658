"""Read one drone's H.264 stream with PyAV (FFmpeg) in a thread, access unit by access unit,
without decoding or re-encoding.

RTP over UDP needs an SDP to tell FFmpeg the payload type's codec; it is generated here. FFmpeg's
RTP input also binds port+1 for RTCP, which collides with the next drone's port when drones use
consecutive ports (5600, 5601, ... as the simulator and many fleets do). So the drone's port is
received by a small relay (a Python socket on the announced address) that forwards only RTP
packets of the H.264 payload type to a loopback port pair FFmpeg owns. RTSP URLs go straight to
FFmpeg (RTP over TCP interleaved: no port pairs to collide, no loss on a busy link).

Low latency: no demuxer buffering (fflags nobuffer, flags low_delay, max_delay 0,
reorder_queue_size 0, a tiny probe). FFmpeg's H.264 parser emits an access unit only when it
sees the next one begin, which would hold every frame back one frame interval (67 ms at 15 fps):
the RTP marker bit that ends a frame is not passed to it. So after each marker packet the relay
adds a one-NAL packet with an access unit delimiter (AUD, the start of the next access unit), at
the next frame's expected timestamp; the parser then emits the finished frame at once. The AUD
is taken off again before the frame is published (the drone's bytes, unchanged). Sequence
numbers are shifted by the packets added, so a loss upstream still shows as a gap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

from telemetry.video.frame import EncodedFrame
from telemetry.video.source import VideoSource

log = logging.getLogger(__name__)

H264_PT = 96
LOW_LATENCY = {
    "fflags": "nobuffer",
    "flags": "low_delay",
    "max_delay": "0",
    "reorder_queue_size": "0",
    "probesize": "32",
    "analyzeduration": "0",
}
OPEN_TIMEOUT_S = 2.0  # also bounds how long a stop waits for a blocked read
READ_TIMEOUT_S = 2.0
RETRY_S = 1.0

FrameSink = Callable[[EncodedFrame], None]


def sdp_for(port: int, payload_type: int = H264_PT) -> str:
    """An SDP describing RTP/H.264 (packetization-mode 1) arriving at 127.0.0.1:`port`."""
    return (
        "v=0\r\n"
        "o=- 0 0 IN IP4 127.0.0.1\r\n"
        "s=nazorat drone video\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=video {port} RTP/AVP {payload_type}\r\n"
        f"a=rtpmap:{payload_type} H264/90000\r\n"
        f"a=fmtp:{payload_type} packetization-mode=1\r\n"
    )


def free_port_pair() -> int:
    """An even loopback UDP port whose successor is free too (FFmpeg's RTP + RTCP)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port % 2 or port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    raise OSError("no free loopback UDP port pair for the video demuxer")


def nal_types(data: bytes) -> set[int]:
    """The NAL unit types in an Annex-B buffer."""
    types: set[int] = set()
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        types.add(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types


AUD_NAL = b"\x09\xf0"  # access unit delimiter, primary_pic_type 7 (any slice type)
AUD_PREFIXES = (b"\x00\x00\x00\x01" + AUD_NAL, b"\x00\x00\x01" + AUD_NAL)


class FrameBoundary:
    """Marks the end of each frame for FFmpeg's H.264 parser: after an RTP packet with the
    marker bit, an extra packet holding an AUD at the next frame's expected timestamp (see the
    module's docstring). `feed(packet)` returns the packets to forward."""

    def __init__(self) -> None:
        self._added = 0
        self._last_ts: int | None = None
        self._step = 3000  # 90 kHz ticks per frame until two frames are seen (30 fps)

    def feed(self, packet: bytes) -> list[bytes]:
        seq = (int.from_bytes(packet[2:4], "big") + self._added) & 0xFFFF
        out = [packet[:2] + seq.to_bytes(2, "big") + packet[4:]]
        if packet[1] & 0x80:  # marker: the last packet of an access unit
            ts = int.from_bytes(packet[4:8], "big")
            if self._last_ts is not None:
                step = (ts - self._last_ts) & 0xFFFFFFFF
                if 0 < step < 90000:
                    self._step = step
            self._last_ts = ts
            self._added += 1
            nxt = (ts + self._step) & 0xFFFFFFFF
            out.append(bytes([0x80, H264_PT]) + ((seq + 1) & 0xFFFF).to_bytes(2, "big")
                       + nxt.to_bytes(4, "big") + packet[8:12] + AUD_NAL)
        return out


def strip_aud(data: bytes) -> bytes:
    """An access unit without the AUD the relay put in front of it."""
    for prefix in AUD_PREFIXES:
        if data.startswith(prefix):
            return data[len(prefix):]
    return data


class StreamReader:
    """One stream's reading thread (and, for UDP, its relay thread). `sink` runs on the reader
    thread and must only hand the frame over (the hub does call_soon_threadsafe)."""

    def __init__(self, source: VideoSource, sink: FrameSink, name: str) -> None:
        self.source = source
        self._sink = sink
        self.name = name
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._relay_sock: socket.socket | None = None
        self._inner_port = 0
        self.frames = 0
        self.relayed = 0
        self.errors = 0
        self.last_error = ""

    def start(self) -> None:
        if self.source.kind == "rtp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind((self.source.host, self.source.port))  # OSError: the port is taken
            sock.settimeout(0.25)
            self._relay_sock = sock
            self._inner_port = free_port_pair()
            self._spawn(self._relay, f"video-relay-{self.name}")
        self._spawn(self._read, f"video-read-{self.name}")

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float = OPEN_TIMEOUT_S + 1.0) -> bool:
        """Blocking: ask the threads to end and join them; True if they did."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._relay_sock is not None:
            self._relay_sock.close()
        return not any(t.is_alive() for t in self._threads)

    # -- UDP relay ------------------------------------------------------------------------------

    def _relay(self) -> None:
        sock = self._relay_sock
        assert sock is not None
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        target = ("127.0.0.1", self._inner_port)
        boundary = FrameBoundary()
        try:
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                # RTP version 2 with the H.264 payload type only: RTCP (PT 200..204) and other
                # payloads sent to this port (e.g. the previous port's RTCP) are dropped.
                if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != H264_PT:
                    continue
                for packet in boundary.feed(data):
                    with contextlib.suppress(OSError):
                        out.sendto(packet, target)
                self.relayed += 1
        finally:
            out.close()

    # -- demuxing -------------------------------------------------------------------------------

    def _read(self) -> None:
        sdp_path = ""
        if self.source.kind == "rtp":
            fd, sdp_path = tempfile.mkstemp(prefix="nazorat-video-", suffix=".sdp")
            with os.fdopen(fd, "w") as f:
                f.write(sdp_for(self._inner_port))
        try:
            while not self._stop.is_set():
                try:
                    self._read_once(sdp_path)
                except (av.FFmpegError, OSError, ValueError) as e:
                    self.errors += 1
                    if str(e) != self.last_error:
                        log.info("video %s (%s): %s", self.name, self.source.url, e)
                    self.last_error = str(e)
                self._stop.wait(RETRY_S)
        finally:
            if sdp_path:
                with contextlib.suppress(OSError):
                    os.unlink(sdp_path)

    def _open(self, sdp_path: str) -> Any:
        timeout = (OPEN_TIMEOUT_S, READ_TIMEOUT_S)
        if self.source.kind == "rtp":
            return av.open(sdp_path, format="sdp", timeout=timeout, options={
                "protocol_whitelist": "file,udp,rtp", **LOW_LATENCY})
        return av.open(self.source.url, timeout=timeout, options={
            "rtsp_transport": "tcp", **LOW_LATENCY})

    def _read_once(self, sdp_path: str) -> None:
        container = self._open(sdp_path)
        try:
            stream = container.streams.video[0]
            if stream.codec_context.name != "h264":
                raise ValueError(f"the stream is {stream.codec_context.name}, not H.264")
            tb = stream.time_base or Fraction(1, 90000)
            extradata = bytes(stream.codec_context.extradata or b"")
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                if packet.size == 0:
                    continue
                data = bytes(packet)
                if self.source.kind == "rtp":
                    data = strip_aud(data)
                    if not data:
                        continue
                types = nal_types(data)
                keyframe = bool(packet.is_keyframe) or 5 in types
                if keyframe and 7 not in types and extradata.startswith(b"\x00\x00"):
                    data = extradata + data  # SPS/PPS only out of band (RTSP sprop)
                pts = packet.pts if packet.pts is not None else 0
                cc = stream.codec_context
                self.frames += 1
                self._sink(EncodedFrame(
                    data=data, pts=int(pts * tb * 90000), keyframe=keyframe,
                    received_at=time.time(), width=int(cc.width or 0),
                    height=int(cc.height or 0)))
        finally:
            container.close()
