"""The live video is recorded as evidence from the moment the service reads it: the
simulator's camera → the ingest → the evidence recorder, in process (tests/inprocess.py), then
the recording listed, downloaded as a bundle and verified offline; the bundle's MP4 holds the
camera's frames (the capture strip read back), not a re-encoding."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from inprocess import in_process
from mission.evidence.verify import verify_bundle
from mission.simfleet import find_udp_range

pytestmark = [pytest.mark.nopg, pytest.mark.timeout(90)]


def strip_ms(gray: np.ndarray[Any, Any]) -> int:
    """The capture time the simulator drew in the top 16 rows (the video contract)."""
    width = gray.shape[1]
    bw = (width - 16) // 48
    bits = [int(gray[8, 8 + k * bw + bw // 2] > 127) for k in range(48)]
    return int("".join(map(str, bits)), 2)


async def test_a_drones_stream_is_recorded_and_its_bundle_verifies(
        tmp_path: Path, sim_fleet: Any) -> None:
    video_base = find_udp_range(1)
    sim_fleet(count=1, extra_args=["--camera", "--video-base-port", str(video_base)])
    async with in_process(tmp_path, video_urls=(f"1=udp://127.0.0.1:{video_base}",),
                          recording_segment_s=1.0) as svc:
        await svc.sign_in("commander")
        async with svc.http("commander") as c:
            async def two_segments() -> dict[str, Any] | None:
                recs = (await c.get("/api/recordings", params={"drone_id": 1})).json()
                return recs[0] if recs and recs[0]["segments"] >= 2 else None

            rec = await svc.until(two_segments, 30, what="two recorded segments")
            r = await c.get(f"/api/recordings/{rec['id']}/bundle")
            assert r.status_code == 200, r.text
    path = tmp_path / "live.zip"
    path.write_bytes(r.content)
    verdict = verify_bundle(path)
    assert verdict.ok, verdict.message
    with zipfile.ZipFile(path) as z:
        segment = next(n for n in sorted(z.namelist()) if n.endswith(".mp4"))
        with av.open(io.BytesIO(z.read(segment)), mode="r") as mp4:
            stream = mp4.streams.video[0]
            assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (
                640, 360)
            times = [strip_ms(f.to_ndarray(format="gray")) for f in mp4.decode(stream)]
    assert len(times) >= 10 and times == sorted(times)
    assert abs(time.time() * 1000 - times[0]) < 60_000  # this run's camera, not old data
