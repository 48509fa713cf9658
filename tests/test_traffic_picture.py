"""The traffic picture: ADSB_VEHICLE and SBS-1 decoding, one track per aircraft whoever heard
it, stale tracks expiring, and a ground receiver's feed over a real TCP socket."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import trace_reference as ref
from telemetry.hub import TelemetryHub
from telemetry.sbs import SbsFeed, parse_feed_url
from telemetry.stream import StateEncoder, StreamOptions, StreamSession
from telemetry.traffic import BadLine, TrafficPicture, from_adsb_vehicle, from_sbs

pytestmark = pytest.mark.timeout(30)

_HEAD = "1,1,4CA2D6,1,2026/12/05,23:00:00.000,2026/12/05,23:00:00.000"
SBS_POS = f"MSG,3,{_HEAD},,2500,,,41.3200,69.2500,,,0,0,0,0"
SBS_VEL = f"MSG,4,{_HEAD},,,120,90,,,-640,,0,0,0,0"
SBS_ID = f"MSG,1,{_HEAD},UZB123  ,,,,,,,,0,0,0,0"


def _first_trace_adsb() -> dict[str, object]:
    with gzip.open(ref.TRACES_DIR / "arducopter-patrol-adsb.jsonl.gz", "rt") as fh:
        for line in fh:
            m = json.loads(line)
            if m["mavpackettype"] == "ADSB_VEHICLE" and m["hor_velocity"]:
                return dict(m)
    raise AssertionError("no ADSB_VEHICLE in the trace")


def test_adsb_vehicle_from_the_real_trace_decodes() -> None:
    m = _first_trace_adsb()
    r = from_adsb_vehicle(m, 3, 1000.0)
    assert r is not None
    assert r.icao == m["ICAO_address"] and r.callsign == m["callsign"]
    assert r.source == "drone:3"
    assert r.lat == pytest.approx(int(m["lat"]) / 1e7)  # type: ignore[call-overload]
    assert r.alt_amsl_m == pytest.approx(int(m["altitude"]) / 1000)  # type: ignore[call-overload]
    assert r.speed_mps == pytest.approx(int(m["hor_velocity"]) / 100)  # type: ignore[call-overload]
    assert r.heading_deg == pytest.approx(int(m["heading"]) / 100)  # type: ignore[call-overload]
    assert r.emitter_type is not None


def test_invalid_flags_leave_fields_unsaid() -> None:
    r = from_adsb_vehicle({"ICAO_address": 5, "lat": 413000000, "lon": 692000000,
                           "altitude": 300000, "flags": 1}, 1, 0.0)
    assert r is not None and r.lat == 41.3 and r.alt_amsl_m is None and r.speed_mps is None
    assert from_adsb_vehicle({"ICAO_address": 0, "flags": 511}, 1, 0.0) is None


def test_same_aircraft_from_two_drones_is_one_track_newest_wins() -> None:
    pic = TrafficPicture()
    base = {"ICAO_address": 77, "lat": 413000000, "lon": 692000000, "altitude": 300000,
            "flags": 511, "callsign": "HELI1", "heading": 0, "hor_velocity": 1000,
            "ver_velocity": 0, "emitter_type": 7, "tslc": 1}
    pic.update(from_adsb_vehicle(base, 1, 100.0))  # type: ignore[arg-type]
    pic.update(from_adsb_vehicle({**base, "lat": 413010000}, 2, 101.0))  # type: ignore[arg-type]
    # an older report relayed late by drone 1: the newer one stays
    pic.update(from_adsb_vehicle({**base, "lat": 412990000, "tslc": 5}, 1, 101.5))  # type: ignore[arg-type]
    tracks = pic.tracks(102.0)
    assert len(tracks) == 1
    t = tracks[0]
    assert t.lat == pytest.approx(41.301) and t.source == "drone:2"
    assert t.to_dict(102.0)["icao"] == "00004D" and t.to_dict(102.0)["age_s"] == 2.0
    assert t.emitter_type == "rotocraft"


def test_stale_track_expires_by_receive_time_plus_tslc() -> None:
    pic = TrafficPicture(stale_s=10.0)
    f = {"ICAO_address": 9, "lat": 413000000, "lon": 692000000, "altitude": 300000,
         "flags": 511, "tslc": 4}
    pic.update(from_adsb_vehicle(f, 1, 100.0))  # type: ignore[arg-type]
    assert [t.icao for t in pic.tracks(105.0)] == [9]  # age 9 s
    version = pic.version
    assert pic.tracks(106.5) == []  # age 10.5 s: gone
    assert pic.version > version


def test_sbs_lines_merge_into_one_track() -> None:
    pic = TrafficPicture()
    assert from_sbs(SBS_ID, "feed:x:1", 10.0) is not None
    pic.update(from_sbs(SBS_ID, "feed:x:1", 10.0))  # type: ignore[arg-type]
    assert pic.tracks(10.0) == []  # no position yet
    pic.update(from_sbs(SBS_POS, "feed:x:1", 10.5))  # type: ignore[arg-type]
    pic.update(from_sbs(SBS_VEL, "feed:x:1", 11.0))  # type: ignore[arg-type]
    (t,) = pic.tracks(11.0)
    d = t.to_dict(11.0)
    assert d["icao"] == "4CA2D6" and d["callsign"] == "UZB123"
    assert d["lat"] == 41.32 and d["alt_amsl_m"] == pytest.approx(762.0)
    assert d["speed_mps"] == pytest.approx(61.7, abs=0.1) and d["heading_deg"] == 90.0
    assert d["vertical_rate_mps"] == pytest.approx(-3.25, abs=0.01)


@pytest.mark.parametrize("line", [
    "garbage", "MSG,3,1,1,ZZZZZZ,1,a,b,c,d,,100,,,41,69", "MSG,3,1,1,4CA2D6,1,a,b,c,d,,abc",
    "MSG,3,1,1,4CA2D6,1,a,b,c,d,,100,,,95.0,69.0", "MSG,3,1,1,4CA2D6,1,a,b,c,d,,100,,,41.0,",
])
def test_bad_sbs_lines_are_refused(line: str) -> None:
    with pytest.raises(BadLine):
        from_sbs(line, "feed:x:1", 0.0)


def test_feed_url_is_checked() -> None:
    assert parse_feed_url("tcp://10.0.0.5:30003") == ("10.0.0.5", 30003)
    for bad in ("udp://x:1", "tcp://x", "x:30003"):
        with pytest.raises(ValueError, match="NAZORAT_ADSB_FEEDS"):
            parse_feed_url(bad)


@contextlib.asynccontextmanager
async def _receiver(lines: list[bytes]) -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server that sends `lines` to each client, then keeps the connection open."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(1)
        for line in lines:
            writer.write(line)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, served
    finally:
        server.close()


async def test_sbs_line_over_tcp_becomes_a_track_and_bad_lines_are_counted() -> None:
    hub = TelemetryHub()
    lines = [b"MSG,8,garbage\n", b"x" * 5000 + b"\n", (SBS_ID + "\r\n").encode(),
             (SBS_POS + "\n").encode(), b"\xff\xfe\n"]
    async with _receiver(lines) as (port, _):
        feed = SbsFeed(f"tcp://127.0.0.1:{port}", hub)
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(5):
                while not hub.traffic.tracks(time.time()):
                    await asyncio.sleep(0.02)
            (t,) = hub.traffic.tracks(time.time())
            assert t.icao_hex == "4CA2D6" and t.callsign == "UZB123"
            assert t.source == f"feed:127.0.0.1:{port}"
            async with asyncio.timeout(5):
                while feed.stats.bad_lines < 3:
                    await asyncio.sleep(0.02)
            assert feed.stats.connected and feed.stats.reports == 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_feed_reconnects_after_the_receiver_drops() -> None:
    hub = TelemetryHub()
    server_port = 0
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.write((SBS_POS + "\n").encode())
        await writer.drain()
        writer.close()  # the receiver restarts

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    server_port = server.sockets[0].getsockname()[1]
    feed = SbsFeed(f"tcp://127.0.0.1:{server_port}", hub, reconnect_s=0.05)
    task = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(5):
            while feed.stats.connects < 3:
                await asyncio.sleep(0.02)
        assert connections >= 3
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.close()


async def test_stream_sends_the_picture_once_a_second_and_once_more_when_emptied() -> None:
    hub = TelemetryHub(traffic_stale_s=1.5)
    frames: list[dict[str, Any]] = []

    async def send(text: str) -> None:
        frames.append(json.loads(text))

    session = StreamSession(hub, StateEncoder(), send, StreamOptions(rate_hz=5.0))
    task = asyncio.create_task(session.run())
    try:
        await asyncio.sleep(0.3)
        assert [f["type"] for f in frames] == ["snapshot"]  # nothing to say yet
        hub.publish_traffic(from_sbs(SBS_POS, "feed:x:1", time.time()))  # type: ignore[arg-type]
        await asyncio.sleep(1.3)
        traffic = [f for f in frames if f["type"] == "traffic"]
        assert traffic and traffic[0]["v"] == 3
        (track,) = traffic[0]["tracks"]
        assert track["icao"] == "4CA2D6" and track["source"] == "feed:x:1"
        await asyncio.sleep(2.0)  # stale after 1.5 s: one empty frame, then silence
        traffic = [f for f in frames if f["type"] == "traffic"]
        assert traffic[-1]["tracks"] == []
        n = len(traffic)
        await asyncio.sleep(1.2)
        assert len([f for f in frames if f["type"] == "traffic"]) == n
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
