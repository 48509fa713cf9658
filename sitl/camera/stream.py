"""One camera's video thread: render, encode with libx264, packetise as RTP, send over UDP.

Runs off the simulator's event loop (a daemon thread per camera) so MAVLink timing never waits
for a frame; numpy and libx264 release the GIL for the heavy parts. The pose comes in through
`pose` (one attribute, replaced whole by the event loop: no lock needed). Encoder settings are
the video contract's: baseline-like low latency (ultrafast, zerolatency, no B-frames), an IDR
every second with SPS+PPS repeated in-band before it, so a receiver can join at any keyframe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from sitl.camera import rtp
from sitl.camera.render import Pose, Renderer

if TYPE_CHECKING:
    import av

log = logging.getLogger("sitl.camera")
NICENESS = 5


@dataclass
class StreamStats:
    """What the thread has done, for tests and the CPU measurement."""

    frames: int = 0
    packets: int = 0
    bytes: int = 0
    send_delay_ms: list[float] = field(default_factory=list)  # capture -> last packet sent


def make_encoder(width: int, height: int, fps: int) -> av.VideoCodecContext:
    import av  # imported here: a simulator without --camera never loads FFmpeg

    enc = av.CodecContext.create("libx264", "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.time_base = Fraction(1, fps)
    enc.framerate = Fraction(fps, 1)
    enc.options = {
        "preset": "ultrafast", "tune": "zerolatency", "profile": "baseline",
        "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:repeat-headers=1"
                       ":threads=1:sliced-threads=0",
        "b": "1000k",
    }
    enc.open()
    return enc


class CameraStream:
    def __init__(self, pose: Pose, width: int, height: int, fps: int,
                 dest: tuple[str, int], clock: Callable[[], float] = time.time) -> None:
        self.pose = pose
        self.width, self.height, self.fps = width, height, fps
        self.dest = dest
        self.clock = clock
        self.stats = StreamStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera->{dest[1]}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            # Linux: a thread's own niceness. Under CPU contention the kernel then serves the
            # simulator's loop (MAVLink timing) before the video.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        try:
            self._loop()
        except Exception:  # a broken camera must not take the simulator down
            log.exception("camera stream to %s:%d stopped", *self.dest)

    def _loop(self) -> None:
        import av

        renderer = Renderer(self.width, self.height)
        encoder = make_encoder(self.width, self.height, self.fps)
        packetiser = rtp.RtpPacketiser()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        period = 1.0 / self.fps
        start = time.monotonic()
        index = 0
        try:
            while not self._stop.is_set():
                captured = self.clock()
                millis = int(captured * 1000)
                frame = av.VideoFrame.from_ndarray(renderer.frame(self.pose, millis),
                                                   format="yuv420p")
                frame.pts = index
                stamp = index * rtp.CLOCK_HZ // self.fps
                for packet in encoder.encode(frame):
                    for datagram in packetiser.packetise(bytes(packet), stamp):
                        with contextlib.suppress(OSError):  # nobody listening: keep sending
                            sock.sendto(datagram, self.dest)
                        self.stats.packets += 1
                        self.stats.bytes += len(datagram)
                self.stats.frames += 1
                delays = self.stats.send_delay_ms
                delays.append((self.clock() - captured) * 1000)
                if len(delays) > 600:
                    del delays[:300]
                index += 1
                next_at = start + index * period
                wait = next_at - time.monotonic()
                if wait < -period:  # fell behind (a loaded machine): drop the backlog
                    start = time.monotonic() - index * period
                    wait = 0.0
                self._stop.wait(max(wait, 0.0))
        finally:
            sock.close()
