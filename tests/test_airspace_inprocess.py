"""Traffic against our drones, in process with the fake fleet: an intruder on a collision course
raises an alert within 2 s of crossing the threshold, the configured action goes to the drone
through the guarded port as `system:traffic` (command record, audit), the events are recorded,
and `GET /api/traffic` lists the aircraft."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from mission.geo import M_PER_DEG_LAT
from telemetry.state import EventKind, GeoPoint, VehicleEvent

pytestmark = pytest.mark.timeout(60)
ALT = BASE.alt_amsl + 40.0
ICAO = 0x7C0A1B


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url, traffic_alert_action="hold",
                          traffic_advisory_action="none") as s:
        yield s


def _flying(svc: InProcess, drone_id: int = 1) -> None:
    svc.fleet.add(drone_id)
    svc.fleet.update(drone_id, armed=True, landed_state="in_air", alt_rel=40.0, mode="AUTO",
                     position=GeoPoint(BASE.lat, BASE.lon, ALT))


def _north(m: float) -> float:
    return BASE.lat + m / M_PER_DEG_LAT


async def test_intruder_alert_within_2_s_and_the_drone_holds(svc: InProcess) -> None:
    _flying(svc)
    speed = 60.0
    with svc.runtime.hub.subscribe(max_events=1000) as sub:
        # a helicopter 1300 m north at the drone's height, flying south at 60 m/s
        start = time.monotonic()
        crossed: float | None = None
        alert = None
        events: list[VehicleEvent] = []
        while alert is None and time.monotonic() - start < 10:
            dist = 1300 - speed * (time.monotonic() - start)
            svc.fleet.adsb(1, ICAO, _north(dist), BASE.lon, ALT + 20, heading=180, speed=speed,
                           callsign="POLICE1", tslc=0)
            if crossed is None and dist < 1000:
                crossed = time.monotonic()
            got, _ = sub.take_events()
            events += got
            alert = next((e for e in events if e.kind is EventKind.TRAFFIC_ALERT), None)
            await asyncio.sleep(0.2)
        assert alert is not None and crossed is not None
        assert time.monotonic() - crossed < 2.0
        advisory = next(e for e in events if e.kind is EventKind.TRAFFIC_ADVISORY)
        assert advisory.time <= alert.time
        assert alert.data["icao"] == "7C0A1B" and alert.data["callsign"] == "POLICE1"
        assert alert.data["h_m"] < 1000 and alert.data["relative_alt_m"] == 20.0
        assert alert.data["action"] == "hold"
    await svc.until(lambda: "pause" in svc.fleet.sent(1), what="the hold")
    assert svc.fleet.drones[1].state.mode == "BRAKE"
    async with svc.http() as c:
        traffic = (await c.get("/api/traffic")).json()
        assert [t["icao"] for t in traffic] == ["7C0A1B"]
        assert set(traffic[0]) == {"icao", "callsign", "lat", "lon", "alt_amsl_m",
                                   "heading_deg", "speed_mps", "vertical_rate_mps",
                                   "emitter_type", "source", "age_s"}
        assert traffic[0]["source"] == "drone:1"
        conflicts = (await c.get("/api/traffic/conflicts")).json()
        assert conflicts[0]["level"] == "alert" and conflicts[0]["drone_id"] == 1
        records = (await c.get("/api/drones/1/commands")).json()
        pause = next(r for r in records if r["name"] == "pause")
        assert pause["actor"] == "system:traffic" and pause["outcome"] == "accepted"
        audit = (await c.get("/api/audit", params={"actor": "system:traffic"})).json()
        assert [(a["action"], a["command"], a["drone_id"]) for a in audit] == [
            ("vehicle.command", "pause", 1)]

        async def recorded() -> bool:
            r = await c.get("/api/events", params={"kind": "traffic_alert"})
            return bool(r.json())
        await svc.until(recorded, what="the alert in the events table")


async def test_passing_traffic_clears_and_a_drone_on_the_ground_is_left_alone(
        svc: InProcess) -> None:
    _flying(svc, 1)
    svc.fleet.add(2)  # on the ground: never alerted, never commanded
    with svc.runtime.hub.subscribe(max_events=1000) as sub:
        svc.fleet.adsb(1, ICAO, _north(1500), BASE.lon, ALT + 100, heading=0, speed=50)
        await svc.until(lambda: any(e.kind is EventKind.TRAFFIC_ADVISORY
                                    for e in sub.take_events()[0]), what="advisory")
        # it moves away (and would expire): clear after the hold-down
        svc.fleet.adsb(2, ICAO, _north(2600), BASE.lon, ALT + 100, heading=0, speed=50)
        clear = await svc.until(
            lambda: next((e for e in sub.take_events()[0]
                          if e.kind is EventKind.TRAFFIC_CLEAR), None), timeout_s=8,
            what="clear")
        assert clear.vehicle_id == 1 and clear.data["was"] == "advisory"
    assert "pause" not in svc.fleet.sent(1)  # advisory action: none
    assert svc.fleet.sent(2) == []
