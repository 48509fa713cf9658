"""Real H.264 for the evidence tests: synthetic pictures encoded by libx264 (through PyAV) as
the simulated cameras do (ultrafast, zerolatency, no B-frames, SPS/PPS before every IDR), cut
into the `EncodedFrame`s the live ingest hands on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from fractions import Fraction

import av
import numpy as np

from telemetry.video.frame import EncodedFrame

WIDTH, HEIGHT, FPS = 160, 96, 15


def encode(count: int, *, gop: int = FPS, t0: float = 1_765_000_000.0) -> list[EncodedFrame]:
    """`count` frames at 15 fps, an IDR every `gop` frames, received from `t0` on."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    enc.time_base = Fraction(1, 90_000)
    enc.options = {"preset": "ultrafast", "tune": "zerolatency",
                   "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:"
                                  "repeat-headers=1:bframes=0"}
    step = 90_000 // FPS
    packets: list[av.Packet] = []
    for i in range(count):
        img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        img[:, (i * 5) % WIDTH:(i * 5) % WIDTH + 12] = (255, 200, 40)  # a moving bar
        img[(i * 3) % HEIGHT, :] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i * step
        frame.time_base = enc.time_base
        packets.extend(enc.encode(frame))
    packets.extend(enc.encode(None))
    return [EncodedFrame(data=bytes(p), pts=int(p.pts or 0) + 1_000_000, keyframe=p.is_keyframe,
                         received_at=t0 + int(p.pts or 0) / 90_000, width=WIDTH,
                         height=HEIGHT) for p in packets]


async def stream(frames: Iterable[EncodedFrame]) -> AsyncIterator[EncodedFrame]:
    for f in frames:
        yield f
