"""The WHEP endpoint in process (tests/inprocess.py): who may ask for a drone's video, the
answers to a bad offer, an aiortc viewer of the simulator's camera, DELETE and shutdown; and the
hub's bounded fan-out (a slow subscriber skips to the next keyframe, the ingest never waits).
In Chromium, end to end through the console: tests/test_console_video.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from inprocess import in_process
from mission.fleet.networks import DEFAULT_DRONE_NETWORKS, DroneNetworks
from mission.simfleet import find_udp_range
from telemetry.video.announce import announced_source_allowed, source_from_announcement
from telemetry.video.frame import EncodedFrame
from telemetry.video.hub import _Subscriber
from telemetry.video.source import VideoSource, parse_video_url, parse_video_urls

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


def strip_ms(gray: Any) -> int:
    """The capture time the simulator drew in the frame's top rows (the video contract)."""
    width = gray.shape[1]
    bw = (width - 16) // 48
    value = 0
    for k in range(48):
        value = value * 2 + (1 if gray[8, 8 + k * bw + bw // 2] > 127 else 0)
    return value


async def test_a_viewer_gets_the_cameras_frames_and_shutdown_closes_it(
        tmp_path: Path, sim_fleet: Any) -> None:
    """The simulator's camera → the ingest → an aiortc viewer over WHEP (the H.264 decoded by
    the viewer, the capture strip read); DELETE ends a session; stopping the service closes
    the ones still open."""
    video_base = find_udp_range(1)
    sim_fleet(count=1, extra_args=["--camera", "--video-base-port", str(video_base)])
    async with in_process(tmp_path, video_urls=(f"1=udp://127.0.0.1:{video_base}",),
                          metrics_token="metrics-t0ken",
                          record_video=False) as svc:  # the viewers alone (counted below)
        runtime = svc.runtime
        await svc.until(lambda: runtime.video.source(1), 10, what="the configured source")
        await svc.sign_in("commander")

        async def watch(c: httpx.AsyncClient) -> tuple[RTCPeerConnection, str, Any]:
            pc = RTCPeerConnection()
            pc.addTransceiver("video", direction="recvonly")
            track: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            @pc.on("track")
            def on_track(t: Any) -> None:
                if not track.done():
                    track.set_result(t)

            await pc.setLocalDescription(await pc.createOffer())
            r = await c.post("/api/drones/1/video/whep", content=pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp"})
            assert r.status_code == 201, r.text
            assert r.headers["content-type"].startswith("application/sdp")
            assert "H264" in r.text and "VP8" not in r.text  # passthrough: H.264 only
            await pc.setRemoteDescription(RTCSessionDescription(r.text, "answer"))
            return pc, r.headers["location"], await track

        async with svc.http("commander") as c:
            pc, location, track = await watch(c)
            async with asyncio.timeout(20):
                frames = [await track.recv() for _ in range(10)]
            assert {(f.width, f.height) for f in frames} == {(640, 360)}
            captured = [strip_ms(f.to_ndarray(format="gray")) for f in frames]
            assert captured == sorted(captured) and len(set(captured)) == 10
            assert abs(time.time() * 1000 - captured[-1]) < 5000
            assert (await c.get("/api/video")).json()["drones"][0]["viewers"] == 1
            assert runtime.video.stats()["1"]["subscribers"] == 1
            metrics = (await c.get("/metrics", headers={  # the Prometheus view of it
                "Authorization": "Bearer metrics-t0ken"})).text
            assert 'nazorat_video_viewers{drone_id="1"} 1.0' in metrics
            assert 'nazorat_video_frames_received_total{drone_id="1"}' in metrics
            assert (await c.delete(location)).status_code == 204
            assert len(runtime.whep) == 0
            await svc.until(lambda: runtime.video.stats()["1"]["subscribers"] == 0, 5,
                            what="the ended session's subscription released")
            assert (await c.delete(location)).status_code == 404
            await pc.close()
            second, _, _ = await watch(c)
            assert len(runtime.whep) == 1
    assert len(runtime.whep) == 0  # the runtime's stop closed it
    await second.close()


def test_sources_from_configuration_and_announcements() -> None:
    assert parse_video_urls(("1=udp://0.0.0.0:5600", "7=rtsp://10.0.0.7:8554/cam")) == {
        1: VideoSource("udp://0.0.0.0:5600", "rtp", "0.0.0.0", 5600),
        7: VideoSource("rtsp://10.0.0.7:8554/cam", "rtsp", "10.0.0.7", 8554)}
    for bad in ("udp://0.0.0.0", "x=udp://0.0.0.0:5600", "http://cam/1", "udp://cam:5600"):
        with pytest.raises(ValueError, match="NAZORAT_VIDEO_URLS"):
            parse_video_urls((bad if "=" in bad else f"1={bad}",))
    # VIDEO_STREAM_INFORMATION as the simulator and QGC's set-ups send it; H.265 is not read
    announced = {"encoding": 1, "type": 1, "uri": "udp://0.0.0.0:5601"}
    assert source_from_announcement(announced) == VideoSource(
        "udp://0.0.0.0:5601", "rtp", "0.0.0.0", 5601)
    assert source_from_announcement({**announced, "encoding": 2}) is None
    assert source_from_announcement({**announced, "uri": ""}) is None
    # what a drone may make the service open: the drone networks, no privileged UDP port
    nets = DroneNetworks.parse(DEFAULT_DRONE_NETWORKS).allows_address
    for uri, ok in [("udp://0.0.0.0:5601", True), ("udp://0.0.0.0:53", False),
                    ("rtsp://192.168.1.20:8554/cam", True), ("rtsp://169.254.169.254/x", False),
                    ("rtsp://cam.example/x", False), ("udp://127.0.0.1:5600", True)]:
        assert announced_source_allowed(parse_video_url(uri), nets) is ok, uri
