"""Missions and incidents pushed on `/ws/telemetry` (`changes` frames, docs/telemetry-ws.md), on
a running service with a simulated drone: an incident reported, triaged, then taken by a
mission that is planned and dispatched reaches every socket as it changes; the commander's
socket never carries the reporter's contact (as over REST); a refused change sends nothing.
With two replicas on one database and Redis (skipped without Redis, as tests/test_bus.py), a
change made through one reaches the sockets of the other; a forged announcement does not."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from service_fixture import ServiceFactory  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402
from test_bus import bus_env  # noqa: E402, F401  (the fixture: Redis, key prefix, shared database)

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(90)


class Changes:
    """Collects the `changes` of one socket in the background."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.items: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if frame["type"] == "changes":
                    self.items.extend(frame["changes"])
        except ConnectionClosed:
            pass

    async def wait(self, kind: str, key: int, match: Callable[[dict[str, Any]], bool],
                   timeout: float = 10.0) -> dict[str, Any]:
        """The first pushed `kind` object `key` that `match`es."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for c in self.items:
                if c["kind"] == kind and c["id"] == key and match(c["data"]):
                    data: dict[str, Any] = c["data"]
                    return data
            await asyncio.sleep(0.02)
        seen = [(c["kind"], c["id"], c["data"].get("status")) for c in self.items]
        raise AssertionError(f"no matching {kind} {key} pushed; got {seen}")

    def of(self, kind: str, key: int) -> list[dict[str, Any]]:
        return [c["data"] for c in self.items if c["kind"] == kind and c["id"] == key]

    async def close(self) -> None:
        await self.ws.close()
        await self._task


async def _ready(http: httpx.AsyncClient) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s = (await http.get("/api/drones/1")).json()["state"] or {}
        if s.get("ekf_ok") and s.get("home") and s.get("position") \
                and s.get("battery_pct") is not None:
            return s
        await asyncio.sleep(0.2)
    raise AssertionError("drone 1 not ready")


async def test_incident_and_mission_changes_are_pushed_per_role(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0)
    svc = await asyncio.to_thread(service_factory, [fleet.mavsdk_url(0)])
    async with svc.aclient() as http:
        home = (await _ready(http))["home"]
        admin = Changes(await websockets.connect(svc.ws_url()))
        viewer = Changes(await websockets.connect(
            await asyncio.to_thread(svc.ws_url, "", role="commander")))
        await asyncio.sleep(0.3)  # both subscribed (the snapshot came first)
        assert admin.frames[0]["type"] == "snapshot" and admin.frames[0]["v"] == 3

        lat = home["lat"] + 60 / 111_320.0
        lon = home["lon"] + 40 / (111_320.0 * math.cos(math.radians(home["lat"])))
        r = await http.post("/api/incidents", json={
            "lat": lat, "lon": lon, "category": "drug_activity", "severity": 4,
            "source": "citizen_map", "description": "pushed", "reporter_contact": "+998 90 1"})
        assert r.status_code == 201, r.text
        inc = r.json()["id"]
        full = await admin.wait("incident", inc, lambda d: d["status"] == "new")
        assert full["reporter_contact"] == "+998 90 1" and full["description"] == "pushed"
        shown = await viewer.wait("incident", inc, lambda d: d["status"] == "new")
        assert "reporter_contact" not in shown
        rest = (await http.get(f"/api/incidents/{inc}")).json()
        assert full == rest, "the pushed incident is the REST one"

        r = await http.patch(f"/api/incidents/{inc}", json={"status": "triaged"})
        assert r.status_code == 200, r.text
        await admin.wait("incident", inc, lambda d: d["status"] == "triaged")
        # refused (409): nothing changed, nothing pushed
        before = len(admin.of("incident", inc))
        r = await http.patch(f"/api/incidents/{inc}", json={"status": "new"})
        assert r.status_code == 409, r.text

        r = await http.post("/api/missions/plan", json={
            "name": "pushed patrol", "drones": [1], "incidents": [inc],
            "on_station": {"kind": "loiter", "seconds": 1}, "altitude_m": 20})
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        planned = await admin.wait("mission", mid, lambda d: d["status"] == "planned")
        assert planned["name"] == "pushed patrol" and planned["legs"][0]["items"]
        await viewer.wait("mission", mid, lambda d: d["status"] == "planned")

        r = await http.post(f"/api/missions/{mid}/dispatch")
        assert r.status_code == 200, r.text
        active = await admin.wait(
            "mission", mid,
            lambda d: d["status"] == "active" and d["legs"][0]["status"] == "flying")
        assert active["targets"][0]["incident_ids"] == [inc]
        await admin.wait("incident", inc, lambda d: d["status"] == "assigned")
        assigned = await viewer.wait("incident", inc, lambda d: d["status"] == "assigned")
        assert "reporter_contact" not in assigned
        # the refused PATCH above left no trace between "triaged" and "assigned"
        statuses = [d["status"] for d in admin.of("incident", inc)]
        assert "new" not in statuses[before:], statuses
        assert all("reporter_contact" not in c["data"] for c in viewer.items
                   if c["kind"] == "incident")

        r = await http.post(f"/api/missions/{mid}/recall")
        assert r.status_code in (200, 409), r.text
        await admin.close()
        await viewer.close()


async def test_changes_through_one_replica_reach_the_sockets_of_another(
    service_factory: ServiceFactory, bus_env: dict[str, str],  # noqa: F811 (the fixture)
) -> None:
    a = await asyncio.to_thread(service_factory, env={**bus_env, "NAZORAT_SHARD": "a"})
    b = await asyncio.to_thread(service_factory, env={**bus_env, "NAZORAT_SHARD": "b"})
    on_b = Changes(await websockets.connect(b.ws_url()))
    viewer_b = Changes(await websockets.connect(
        await asyncio.to_thread(b.ws_url, "", role="commander")))
    await asyncio.sleep(0.3)
    async with a.aclient() as http_a, b.aclient() as http_b:
        r = await http_a.post("/api/incidents", json={
            "lat": 41.3, "lon": 69.2, "category": "drug_activity", "severity": 2,
            "source": "citizen_map", "reporter_contact": "@via-a"})
        assert r.status_code == 201, r.text
        inc = r.json()["id"]
        full = await on_b.wait("incident", inc, lambda d: d["status"] == "new")
        assert full["reporter_contact"] == "@via-a"
        assert "reporter_contact" not in await viewer_b.wait(
            "incident", inc, lambda d: d["status"] == "new")
        r = await http_a.patch(f"/api/incidents/{inc}", json={"status": "triaged"})
        assert r.status_code == 200, r.text
        await on_b.wait("incident", inc, lambda d: d["status"] == "triaged")

        # a forged announcement (no MAC of the deployment's secret) is dropped and counted
        refused = (await http_b.get("/api/health")).json()["bus"]["refused_telemetry"]
        forged = {"o": "intruder", "c": [["incident", inc]], "lost": 5}
        client = aioredis.from_url(bus_env["NAZORAT_BUS_URL"])
        try:
            await client.publish(f"{bus_env['NAZORAT_BUS_PREFIX']}:changes",
                                 "0" * 64 + "." + json.dumps(forged))
        finally:
            await client.aclose()
        deadline = time.monotonic() + 5
        while (await http_b.get("/api/health")).json()["bus"]["refused_telemetry"] == refused:
            assert time.monotonic() < deadline, "the forged announcement was not refused"
            await asyncio.sleep(0.05)
        assert all(f.get("dropped", 0) == 0 for f in on_b.frames if f["type"] == "changes")
    await on_b.close()
    await viewer_b.close()
