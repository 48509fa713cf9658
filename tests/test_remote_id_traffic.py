"""Other drones' broadcast Remote ID in the traffic picture: OPEN_DRONE_ID_BASIC_ID and
_LOCATION relayed by one of our drones become one `remote_id` track per UAS ID (never mixed
with an ADS-B track), newest wins, stale ones expire, our own drones' Remote ID is not traffic,
and a Remote ID drone on a collision course raises an alert like any aircraft."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from mission.geo import M_PER_DEG_LAT
from telemetry.hub import TelemetryHub
from telemetry.remote_id_traffic import COMPID_FIELD, RemoteIdTraffic, timestamp_age
from telemetry.state import EventKind, GeoPoint, VehicleEvent
from telemetry.traffic import TrafficPicture

pytestmark = pytest.mark.timeout(60)
ALT = BASE.alt_amsl + 40.0


def _north(m: float) -> float:
    return BASE.lat + m / M_PER_DEG_LAT


def _basic(uas_id: str, mac: int = 1, compid: int = 191) -> dict[str, Any]:
    return {"id_or_mac": [mac] + [0] * 19, "id_type": 1, "ua_type": 2,
            "uas_id": list(uas_id.encode()) + [0] * (20 - len(uas_id)), COMPID_FIELD: compid}


def _loc(lat: float, lon: float, mac: int = 1, compid: int = 191,
         **over: Any) -> dict[str, Any]:
    f = {"id_or_mac": [mac] + [0] * 19, "status": 2, "direction": 9000,
         "speed_horizontal": 1250, "speed_vertical": -150, "latitude": round(lat * 1e7),
         "longitude": round(lon * 1e7), "altitude_barometric": 520.0,
         "altitude_geodetic": 530.5, "timestamp": 0xFFFF, COMPID_FIELD: compid}
    return {**f, **over}


def test_basic_id_and_location_make_one_report_keyed_by_uas_id() -> None:
    rid = RemoteIdTraffic()
    # the LOCATION came first: it waits for the UAS ID of its MAC
    assert rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.3, 69.2), 3, 100.0) is None
    r = rid.offer("OPEN_DRONE_ID_BASIC_ID", _basic("1581F5BKD225Q00A0001"), 3, 100.2)
    assert r is not None and r.uas_id == "1581F5BKD225Q00A0001" and r.icao is None
    assert (r.source, r.heard_by, r.ua_type) == ("remote_id", "drone:3",
                                                  "helicopter_or_multirotor")
    assert (r.lat, r.lon, r.alt_amsl_m) == (41.3, 69.2, 530.5)
    assert (r.heading_deg, r.speed_mps, r.vertical_rate_mps) == (90.0, 12.5, -1.5)
    # unknown values are unsaid; the barometric altitude stands in for a missing geodetic one
    r2 = rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.31, 69.2, direction=36100,
                                                  speed_horizontal=25500, speed_vertical=6300,
                                                  altitude_geodetic=-1000.0), 3, 101.0)
    assert r2 is not None and r2.alt_amsl_m == 520.0
    assert (r2.heading_deg, r2.speed_mps, r2.vertical_rate_mps) == (None, None, None)
    # another MAC heard by the same drone is another broadcaster, still without an ID
    assert rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.3, 69.2, mac=2), 3, 101.0) is None


def test_own_drones_remote_id_is_not_traffic() -> None:
    rid = RemoteIdTraffic()
    # drone 1's autopilot (component 1) sends its own Remote ID: never traffic
    assert rid.offer("OPEN_DRONE_ID_BASIC_ID", _basic("OWN1", compid=1), 1, 10.0) is None
    assert rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.3, 69.2, compid=1), 1, 10.0) is None
    # drone 2's receiver hears drone 1's broadcast: ours, dropped
    rid.offer("OPEN_DRONE_ID_BASIC_ID", _basic("OWN1", mac=7), 2, 10.5)
    assert rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.3, 69.2, mac=7), 2, 10.5) is None
    assert rid.dropped_own == 1
    rid.offer("OPEN_DRONE_ID_BASIC_ID", _basic("OTHER", mac=8), 2, 11.0)
    assert rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.3, 69.2, mac=8), 2, 11.0) is not None


def test_picture_merges_per_uas_id_apart_from_adsb_and_expires() -> None:
    rid = RemoteIdTraffic()
    pic = TrafficPicture(stale_s=20.0)
    for vid in (1, 2):  # heard by two of our drones: one track, the newest report
        rid.offer("OPEN_DRONE_ID_BASIC_ID", _basic("RID-A"), vid, 100.0)
    a = rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.30, 69.2), 1, 100.0)
    b = rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.31, 69.2), 2, 101.0)
    assert a is not None and b is not None
    pic.update(a)
    pic.update(b)
    late = rid.offer("OPEN_DRONE_ID_LOCATION", _loc(41.29, 69.2), 1, 100.5)
    assert late is not None
    pic.update(late)  # an older position relayed late by drone 1: the newest stays
    from telemetry.traffic import TrafficReport
    pic.update(TrafficReport(icao=0x7C0A1B, source="drone:1", received=101.0, lat=41.0,
                             lon=69.0))
    tracks = pic.tracks(101.0)
    assert [(t.icao, t.uas_id) for t in tracks] == [(0x7C0A1B, None), (None, "RID-A")]
    d = tracks[1].to_dict(102.0)
    assert d["source"] == "remote_id" and d["icao"] is None and d["lat"] == 41.31
    assert d["uas_id"] == "RID-A" and d["heard_by"] == "drone:2" and d["age_s"] == 1.0
    assert "uas_id" not in tracks[0].to_dict(102.0)
    assert [t.icao for t in pic.tracks(121.5)] == []  # both past 20 s


def test_timestamp_age_counts_from_the_full_hour() -> None:
    now = 1_800_000_000.0  # 1800000000 % 3600 == 0: the full hour
    assert timestamp_age(3590.0, now) == 10.0  # 10 s before the hour
    assert timestamp_age(5.0, now + 8.0) == 3.0
    assert timestamp_age(30.0, now + 10.0) == 0.0  # ahead of our clock: fresh
    assert timestamp_age(0xFFFF, now) == 0.0


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url, traffic_alert_action="hold",
                          traffic_advisory_action="none") as s:
        yield s


async def test_remote_id_drone_on_collision_course_alerts_and_lists(svc: InProcess) -> None:
    svc.fleet.add(1)
    svc.fleet.update(1, armed=True, landed_state="in_air", alt_rel=40.0, mode="AUTO",
                     position=GeoPoint(BASE.lat, BASE.lon, ALT))
    speed = 25.0
    with svc.runtime.hub.subscribe(max_events=1000) as sub:
        # a small drone 350 m north, 5 m above ours, flying south at 25 m/s
        start = time.monotonic()
        alert = None
        events: list[VehicleEvent] = []
        while alert is None and time.monotonic() - start < 10:
            dist = 350 - speed * (time.monotonic() - start)
            svc.fleet.remote_id(1, "INTRUDER-RID-1", _north(dist), BASE.lon, ALT + 5,
                                heading=180, speed=speed)
            got, _ = sub.take_events()
            events += got
            alert = next((e for e in events if e.kind is EventKind.TRAFFIC_ALERT), None)
            await asyncio.sleep(0.2)
        assert alert is not None
        assert alert.data["uas_id"] == "INTRUDER-RID-1" and alert.data["icao"] is None
        assert alert.data["action"] == "hold" and alert.data["relative_alt_m"] == 5.0
        assert "INTRUDER-RID-1" in alert.message
    await svc.until(lambda: "pause" in svc.fleet.sent(1), what="the hold")
    async with svc.http() as c:
        (track,) = (await c.get("/api/traffic")).json()
        assert track["source"] == "remote_id" and track["uas_id"] == "INTRUDER-RID-1"
        assert track["icao"] is None and track["heard_by"] == "drone:1"
        assert track["ua_type"] == "helicopter_or_multirotor"
        conflicts = (await c.get("/api/traffic/conflicts")).json()
        assert conflicts[0]["uas_id"] == "INTRUDER-RID-1" and conflicts[0]["level"] == "alert"


async def test_stale_remote_id_location_never_becomes_a_track(svc: InProcess) -> None:
    svc.fleet.add(1)
    hub: TelemetryHub = svc.runtime.hub
    # timestamped 30 s ago (past the 20 s limit): expired at once
    svc.fleet.remote_id(1, "OLD", _north(200), BASE.lon, ALT, timestamp=(time.time() - 30) % 3600)
    assert hub.traffic.tracks(time.time()) == []
    svc.fleet.remote_id(1, "NEW", _north(200), BASE.lon, ALT, mac=0x0D)
    assert [t.uas_id for t in hub.traffic.tracks(time.time())] == ["NEW"]
    assert hub.traffic.tracks(time.time() + 21) == []
