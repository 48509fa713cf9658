"""`/ws/telemetry` with a real WebSocket client (`websockets`) against the running service."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from service_fixture import ServiceFactory  # noqa: E402
from sitl_fleet import FleetFactory, SitlFleet  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(120)


class Client:
    """Collects frames from one WebSocket connection in the background."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append((time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for _, f in self.frames if f["type"] == kind]

    def events(self) -> list[dict[str, Any]]:
        return [e for f in self.of("events") for e in f["events"]]

    async def wait_event(self, kind: str, vid: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if e["kind"] == kind and e["id"] == vid:
                    return e
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} event for {vid}; got {[e['kind'] for e in self.events()]}")

    async def wait_vehicle(self, vid: int, field: str, value: Any, timeout: float) -> None:
        """Until the latest update of vehicle `vid` has `field` == `value`."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            seen = [v for f in self.of("update") for v in f["vehicles"] if v["id"] == vid]
            last = seen[-1].get(field) if seen else None
            if last == value:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"vehicle {vid} {field}: {last!r}, not {value!r} after {timeout} s")

    async def close(self) -> None:
        await self.ws.close()
        await self._task


async def control(fleet: SitlFleet, op: str, **kw: Any) -> dict[str, Any]:
    return await asyncio.to_thread(fleet.control, op, **kw)


async def test_snapshot_updates_at_client_rate_and_events(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=3, speedup=5.0, ekf_delay=1.0)
    svc = await asyncio.to_thread(service_factory, [fleet.mavsdk_url(i) for i in range(3)])
    async with svc.aclient() as http:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            drones = (await http.get("/api/drones")).json()
            if all(d["state"] and d["state"]["position"] for d in drones):
                break
            await asyncio.sleep(0.2)

        fast = Client(await websockets.connect(svc.ws_url("rate=10")))
        default = Client(await websockets.connect(svc.ws_url()))
        only2 = Client(await websockets.connect(svc.ws_url("vehicles=2&rate=2")))
        await asyncio.sleep(3.0)

        snap = fast.of("snapshot")[0]
        assert fast.frames[0][1]["type"] == "snapshot" and snap["v"] == 3
        assert [v["id"] for v in snap["vehicles"]] == [1, 2, 3]
        v1 = snap["vehicles"][0]
        assert v1["link"] == "up" and v1["mode"] == "STABILIZE" and v1["lat"] is not None
        assert set(v1) >= {"alt", "ralt", "hdg", "gs", "vs", "bat", "volt", "armed", "landed",
                           "fix", "sats", "ekf", "home", "wp", "hb_t", "t"}

        def per_vehicle_rate(c: Client, vid: int, seconds: float) -> float:
            t_end = c.frames[-1][0]
            n = sum(1 for t, f in c.frames if f["type"] == "update" and t > t_end - seconds
                    for v in f["vehicles"] if v["id"] == vid)
            return n / seconds

        # Vehicles send position at 5 Hz: the 10 Hz client gets them all, the default 5 Hz one
        # about 5, the 2 Hz client 2 (coalesced to the latest state).
        # at most 4/3 of the rate: a new position sample may go a quarter interval early
        assert 3.5 <= per_vehicle_rate(fast, 1, 2.0) <= 10 * 4 / 3 + 0.6
        assert 3.0 <= per_vehicle_rate(default, 1, 2.0) <= 5 * 4 / 3 + 0.6
        assert 1.0 <= per_vehicle_rate(only2, 2, 2.0) <= 2 * 4 / 3 + 0.6
        assert {v["id"] for f in only2.of("update") for v in f["vehicles"]} == {2}

        r = await http.post("/api/drones/2/commands/set_mode", json={"mode": "GUIDED"})
        assert r.status_code == 200, r.text
        ev = await fast.wait_event("mode_changed", 2, 3.0)
        assert ev["data"] == {"old": "STABILIZE", "new": "GUIDED"}
        r = await http.post("/api/drones/2/commands/arm")
        assert r.status_code == 200, r.text
        await fast.wait_event("armed", 2, 3.0)
        await only2.wait_event("armed", 2, 3.0)
        assert (await http.post("/api/drones/2/commands/disarm")).status_code == 200
        await fast.wait_event("disarmed", 2, 3.0)

        await control(fleet, "cut_link", vehicle=0)
        lost = await fast.wait_event("link_lost", 1, 6.0)
        assert lost["sev"] == 2
        r = await http.post("/api/drones/1/commands/arm")
        assert r.status_code == 503 and r.json()["outcome"] == "link_lost"
        # the paced client gets the lost link in its next slot (a 5 Hz client: 0.2 s), which may
        # come after the fast client's event and the refused command (seen on a loaded machine)
        await default.wait_vehicle(1, "link", "lost", 2.0)
        await control(fleet, "restore_link", vehicle=0)
        await fast.wait_event("link_restored", 1, 6.0)
        assert not any(e["id"] == 1 for e in only2.events())

        await control(fleet, "battery", vehicle=2, percent=15)
        low = await default.wait_event("battery_low", 3, 6.0)
        assert low["data"]["percent"] <= 25

        for c in (fast, default, only2):
            await c.close()


async def test_bad_options_are_refused_and_slow_clients_do_not_stall_others(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=1.0)
    svc = await asyncio.to_thread(service_factory, [fleet.mavsdk_url(i) for i in range(2)])
    with pytest.raises(ConnectionClosed) as err:
        async with websockets.connect(svc.ws_url("rate=500")) as ws:
            await ws.recv()
    assert err.value.rcvd is not None and err.value.rcvd.code == 1008
    assert "rate" in err.value.rcvd.reason

    # A client that never reads: the server's buffers for it stay bounded (coalescing), and a
    # normal client keeps receiving at its rate.
    stalled = await websockets.connect(svc.ws_url("rate=50"), max_queue=1)
    stalled.transport.pause_reading()
    normal = Client(await websockets.connect(svc.ws_url("rate=5")))
    await asyncio.sleep(4.0)
    t_end = normal.frames[-1][0]
    recent = [f for t, f in normal.frames if f["type"] == "update" and t > t_end - 2.0]
    assert len(recent) >= 6
    async with svc.aclient() as http:
        health = (await http.get("/api/health")).json()
    assert health["status"] == "ok" and health["links_up"] == 2
    await normal.close()
    stalled.transport.resume_reading()
    await stalled.close()
