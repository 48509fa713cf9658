"""`python -m sitl --camera` end to end: real UDP, RTP depacketised here, decoded by FFmpeg.

The frames must advance and their capture-time strip must read back as a time within a second of
now (what the browser's latency measurement relies on), and the stream must be what the service
ingest expects: SPS+PPS in-band on the first keyframe a late joiner gets, 90 kHz timestamps
stepping by one frame period.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import av
import numpy as np
import pytest

from rtp_h264 import Depacketiser, header
from sitl.camera import strip

pytestmark = [pytest.mark.nopg, pytest.mark.timeout(60)]

FPS = 15
WIDTH, HEIGHT = 320, 180


def test_camera_streams_h264_rtp_whose_strip_decodes_to_now(sim_fleet: Any) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(1.0)
    port = rx.getsockname()[1]
    try:
        fleet = sim_fleet(count=1, ekf_delay=2.0, extra_args=[
            "--camera", "--video-base-port", str(port), "--video-size", f"{WIDTH}x{HEIGHT}",
            "--video-fps", str(FPS)])
        assert f"sitl: camera 0 rtp udp:127.0.0.1:{port}" in "\n".join(fleet.stdout_lines)
        decoder = av.CodecContext.create("h264", "r")
        depack = Depacketiser()
        decoded: list[tuple[int, int, float]] = []  # (rtp timestamp, strip ms, received at)
        stamps: list[int] = []
        first_au: bytes | None = None
        deadline = time.monotonic() + 20.0
        while len(decoded) < 2 * FPS and time.monotonic() < deadline:
            try:
                packet = rx.recv(2048)
            except TimeoutError:
                continue
            au = depack.push(packet)
            if au is None:
                continue
            stamp, data = au
            if first_au is None:
                # joining mid-stream: skip to the first keyframe, as the service does
                if b"\x00\x00\x00\x01\x65" not in data and b"\x00\x00\x01\x65" not in data:
                    continue
                first_au = data
            stamps.append(stamp)
            for frame in decoder.decode(av.Packet(data)):
                luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
                capture_ms = strip.read(luma)
                # as the browser reads it: luma computed from the RGB a <video> frame gives
                rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
                seen = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
                assert strip.read(seen.clip(0, 255).astype(np.uint8)) == capture_ms
                decoded.append((stamp, capture_ms, time.time()))
        assert len(decoded) >= 2 * FPS - 2, f"only {len(decoded)} frames decoded"
        assert first_au is not None
        kinds = [b & 0x1F for b in _nal_types(first_au)]
        assert kinds.index(7) < kinds.index(8) < kinds.index(5), kinds  # SPS, PPS, IDR
        assert header(packet).ssrc != 0
        steps = {(b - a) & 0xFFFFFFFF for a, b in zip(stamps, stamps[1:], strict=False)}
        assert steps == {90_000 // FPS}, steps
        millis = [m for _, m, _ in decoded]
        assert millis == sorted(millis) and millis[-1] - millis[0] >= 1000 * (len(millis) - 2)\
            / FPS * 0.5, "frames do not advance"
        for _, m, got in decoded:
            assert abs(got * 1000 - m) < 1000, "strip does not decode to a time near now"
    finally:
        rx.close()


def _nal_types(au: bytes) -> list[int]:
    from sitl.camera.rtp import split_annexb
    return [nal[0] for nal in split_annexb(au)]
