"""The camera in process (tests/inprocess.py, fake fleet with a gimbal camera): an incident is
observed only once it is inside the camera's footprint, not when the drone reaches its
waypoint; the camera-pointing commands go through the port (record, roles, interlocks, the
vehicle's refusal); the live stream carries the footprint."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from mission.camera.footprint import polygon_contains
from mission.geo import haversine_m
from mission.missions import lifecycle as lc
from mission.missions.models import LegStatus
from telemetry.state import GeoPoint

pytestmark = pytest.mark.timeout(60)


def _at(north_m: float, east_m: float) -> tuple[float, float]:
    lat = BASE.lat + north_m / 111_195.0
    lon = BASE.lon + east_m / (111_195.0 * math.cos(math.radians(BASE.lat)))
    return round(lat, 7), round(lon, 7)


async def _incident(c: httpx.AsyncClient, north: float, east: float) -> int:
    lat, lon = _at(north, east)
    r = await c.post("/api/incidents", json={
        "lat": lat, "lon": lon, "category": "drug_activity", "severity": 4,
        "source": "citizen_map", "description": "camera test"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _fly_past(svc: InProcess, c: httpx.AsyncClient, incident: int) -> int:
    """Plan and dispatch drone 1 to the incident, and fly it through every item but the last
    (RTL): the waypoint is reached. The mission's id."""
    r = await c.post("/api/missions/plan", json={
        "drones": [1], "incidents": [incident], "altitude_m": 40, "time_limit_s": 0.5,
        "on_station": {"kind": "loiter", "seconds": 5}})
    assert r.status_code == 201, r.text
    mission_id = int(r.json()["id"])
    r = await c.post(f"/api/missions/{mission_id}/dispatch")
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    items = svc.fleet.drones[1].items
    for seq in range(1, len(items) - 1):
        svc.fleet.reach(1, seq)

    async def passed() -> bool:  # the tracker has taken in every report
        m = (await c.get(f"/api/missions/{mission_id}")).json()
        return bool(m["legs"][0]["current_seq"] >= len(items) - 2)

    await svc.until(passed, what="the drone past its items")
    return mission_id


async def _status(c: httpx.AsyncClient, incident: int) -> str:
    return str((await c.get(f"/api/incidents/{incident}")).json()["status"])


async def test_observed_only_once_inside_the_footprint(tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url) as svc:
        await svc.sign_in("operator", "op-1")
        await svc.sign_in("commander", "chief")
        svc.fleet.add(1)
        svc.fleet.camera(1, pitch=-10.0, yaw=180.0)  # looking back, towards the horizon
        async with svc.http("operator", "op-1") as c, svc.http("commander", "chief") as chief:
            incident = await _incident(c, 250, 0)
            mission_id = await _fly_past(svc, c, incident)
            # at the waypoint, on station, but the camera never had the incident in its image
            m = (await c.get(f"/api/missions/{mission_id}")).json()
            assert m["targets"][0]["observed_at"] is None, m
            assert await _status(c, incident) == "assigned"
            state = svc.runtime.hub.latest(1)
            assert state is not None and state.position is not None
            fp = json.loads(svc.runtime.encoder.vehicle_json(state))["fp"]
            lat, lon = _at(250, 0)
            assert fp is not None and not polygon_contains([tuple(x) for x in fp["c"]], lat, lon)

            # a commander cannot point the camera; the operator can
            look = {"lat": lat, "lon": lon}
            r = await chief.post("/api/drones/1/commands/look_at", json=look)
            assert r.status_code == 403, r.text
            r = await c.post("/api/drones/1/commands/look_at", json=look)
            assert r.status_code == 200, r.text

            async def observed() -> bool:
                return await _status(c, incident) == "observed"

            await svc.until(observed, what="incident observed once in the footprint")
            m = (await c.get(f"/api/missions/{mission_id}")).json()
            assert m["targets"][0]["observed_by"] == 1
            state = svc.runtime.hub.latest(1)
            assert state is not None
            fp = json.loads(svc.runtime.encoder.vehicle_json(state))["fp"]
            assert fp["src"] == "gimbal" and haversine_m(fp["ctr"][0], fp["ctr"][1], lat, lon) < 1.0
            log = [e["kind"] for e in (await c.get(f"/api/missions/{mission_id}/log")).json()]
            assert "observed" in log


async def test_without_the_setting_the_waypoint_observes(tmp_path: Path,
                                                         database_url: str) -> None:
    async with in_process(tmp_path, database_url, observe_requires_footprint=False) as svc:
        await svc.sign_in("operator", "op-1")
        svc.fleet.add(1)
        svc.fleet.camera(1, pitch=-10.0, yaw=180.0)
        async with svc.http("operator", "op-1") as c:
            incident = await _incident(c, 250, 0)
            await _fly_past(svc, c, incident)

            async def observed() -> bool:
                return await _status(c, incident) == "observed"

            await svc.until(observed, what="incident observed at its waypoint")


async def test_camera_commands_through_the_port(tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url) as svc:
        svc.fleet.add(1)
        svc.fleet.add(2, at=GeoPoint(*_at(0, 50), BASE.alt_amsl))  # no camera
        svc.fleet.camera(1)
        svc.fleet.update(1, armed=True, landed_state="in_air", alt_rel=30.0,
                         position=GeoPoint(BASE.lat, BASE.lon, BASE.alt_amsl + 30.0))
        async with svc.http() as admin:
            # a look-at point inside a no-fly zone is not refused: nothing flies there
            box = [_at(n, e) for n, e in ((80, -40), (80, 40), (140, 40), (140, -40))]
            ring = [[lon, lat] for lat, lon in [*box, box[0]]]
            assert (await admin.post("/api/zones", json={
                "name": "prison", "kind": "no_fly",
                "geometry": {"type": "Polygon", "coordinates": [ring]}})).status_code == 201
            lat, lon = _at(110, 0)
            r = await admin.post("/api/drones/1/commands/look_at", json={"lat": lat, "lon": lon})
            assert r.status_code == 200, r.text
            r = await admin.post("/api/drones/1/commands/point_gimbal",
                                 json={"pitch_deg": -90})
            assert r.status_code == 200, r.text
            state = svc.runtime.hub.latest(1)
            assert state is not None and state.camera is not None
            assert state.camera.gimbal_pitch_deg == -90.0
            r = await admin.post("/api/drones/1/commands/clear_roi")
            assert r.status_code == 200, r.text
            # bad values name their field
            r = await admin.post("/api/drones/1/commands/point_gimbal",
                                 json={"pitch_deg": -120})
            assert r.status_code == 422 and "pitch_deg" in r.text, r.text
            r = await admin.post("/api/drones/1/commands/look_at", json={"lat": 95, "lon": 0})
            assert r.status_code == 422 and "lat" in r.text, r.text
            # a drone without a gimbal refuses: an explicit failure, never a success
            r = await admin.post("/api/drones/2/commands/point_gimbal", json={"pitch_deg": -45})
            assert r.status_code == 409 and "UNSUPPORTED" in r.text, r.text
            record: list[dict[str, Any]] = (await admin.get("/api/drones/1/commands")).json()
            assert sorted((h["name"], h["actor"], h["outcome"]) for h in record
                          if h["outcome"] != "invalid") == [
                ("clear_roi", "admin", "accepted"), ("look_at", "admin", "accepted"),
                ("point_gimbal", "admin", "accepted")], record
            refused = (await admin.get("/api/drones/2/commands")).json()
            assert refused[0]["name"] == "point_gimbal" and refused[0]["outcome"] != "accepted"


def test_lifecycle_footprint_rule() -> None:
    """The pure rule: with a camera, reaching the target's item observes nothing; the target
    inside the footprint does; without a camera the item does."""
    t = lc.TargetView(row_id=5, first_seq=2, incident_ids=(9,), lat=41.0, lon=69.0)
    leg = lc.LegView(drone_id=1, status=LegStatus.FLYING, last_item_seq=4, targets=(t,),
                     flew=True, requires_footprint=True)
    fly = dict(link_up=True, armed=True, landed_state="in_air", mode="AUTO",
               mission_current=3, lat=41.0, lon=69.0)
    away = ((41.01, 69.0), (41.01, 69.01), (41.02, 69.01), (41.02, 69.0))
    over = ((40.999, 68.999), (40.999, 69.001), (41.001, 69.001), (41.001, 68.999))
    out = lc.step(leg, lc.Telemetry(**fly, camera=True, footprint=away))  # type: ignore[arg-type]
    assert not any(isinstance(e, lc.Observe) for e in out.effects) and out.leg.camera
    out = lc.step(out.leg, lc.ItemReached(3))
    assert not any(isinstance(e, lc.Observe) for e in out.effects)
    out = lc.step(out.leg, lc.Telemetry(**fly, camera=True, footprint=over))  # type: ignore[arg-type]
    assert [e.target.row_id for e in out.effects if isinstance(e, lc.Observe)] == [5]
    # no camera reported: the waypoint rule
    out = lc.step(leg, lc.ItemReached(3))
    assert [e.target.row_id for e in out.effects if isinstance(e, lc.Observe)] == [5]
