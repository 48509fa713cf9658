"""The WHEP endpoint in process (tests/inprocess.py): who may ask for a drone's video, and the
answers to a bad or unanswerable offer; and the hub's bounded fan-out (a slow subscriber skips
to the next keyframe, the ingest never waits). The video itself, end to end from the
simulator's camera to Chromium, is tests/test_console_video.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from inprocess import in_process
from telemetry.video.frame import EncodedFrame
from telemetry.video.hub import _Subscriber

pytestmark = pytest.mark.nopg

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def test_whep_needs_a_session_and_a_viewer_role(tmp_path: Path) -> None:
    async with in_process(tmp_path) as svc:
        url = "/api/drones/1/video/whep"
        # no session: 401, whatever the body
        async with svc.http() as c:
            c.headers.pop("Authorization", None)
            r = await c.post(url, content=OFFER, headers={"Content-Type": "application/sdp"})
            assert r.status_code == 401, r.text
            r = await c.delete(f"{url}/anything")
            assert r.status_code == 401, r.text
            r = await c.get("/api/video")
            assert r.status_code == 401, r.text
        # a commander may watch: past auth, an unknown drone is 404
        await svc.sign_in("commander")
        async with svc.http("commander") as c:
            r = await c.post("/api/drones/999/video/whep", content=OFFER,
                             headers={"Content-Type": "application/sdp"})
            assert r.status_code == 404, r.text
            assert (await c.get("/api/video")).json() == {"drones": []}
            # the body is named when it is wrong
            r = await c.post(url, content="hello", headers={"Content-Type": "application/sdp"})
            assert r.status_code == 400 and r.json()["detail"]["field"] == "sdp", r.text
            r = await c.post(url, content=OFFER, headers={"Content-Type": "application/json"})
            assert r.status_code == 415, r.text


def frame(i: int, keyframe: bool) -> EncodedFrame:
    return EncodedFrame(data=b"\x00\x00\x00\x01" + bytes([0x65 if keyframe else 0x41, i]),
                        pts=i * 6000, keyframe=keyframe, received_at=float(i), width=640,
                        height=360)


def test_a_slow_subscriber_resumes_at_the_next_keyframe() -> None:
    sub = _Subscriber(limit=4)
    sub.offer(frame(0, False))  # a subscriber starts at a keyframe
    assert not sub.frames
    for i in range(1, 5):
        sub.offer(frame(i, i == 1))
    assert [f.pts // 6000 for f in sub.frames] == [1, 2, 3, 4]
    sub.offer(frame(5, False))  # full: what it had is dropped, it waits for a keyframe
    assert not sub.frames and sub.dropped == 4 and sub.need_keyframe
    sub.offer(frame(6, False))
    assert not sub.frames
    sub.offer(frame(7, True))
    sub.offer(frame(8, False))
    assert [f.pts // 6000 for f in sub.frames] == [7, 8]
    assert sub.frames[0].keyframe
