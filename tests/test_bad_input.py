"""The bad-input campaign over WebSocket and MAVLink (over HTTP: test_openapi_campaign.py): what a
hostile or broken client or vehicle sends must never take the service down.

- WebSocket garbage, oversize frames and wrong JSON close that client's socket with a policy
  code (1008, or 1009 for size) and nobody else notices;
- malformed MAVLink from a vehicle (noise, broken checksums, truncated and unknown frames)
  never takes its link down: it stays up and commandable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import threading
import time
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

import websockets  # noqa: E402
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from service_fixture import RunningService, ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture"]

# -- WebSocket --------------------------------------------------------------------------------


class Reader:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.frames.append(json.loads(raw))


async def _closed_code(svc: RunningService, send: Any) -> tuple[int, str]:
    async with websockets.connect(svc.ws_url(), max_size=None) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        with contextlib.suppress(ConnectionClosed):
            for frame in send if isinstance(send, list) else [send]:
                await ws.send(frame)
        with pytest.raises(ConnectionClosed) as err:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert err.value.rcvd is not None, "closed without a close frame"
    return err.value.rcvd.code, err.value.rcvd.reason


@pytest.mark.timeout(120)
async def test_websocket_garbage_closes_only_that_client(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=1.0)
    svc = await asyncio.to_thread(service_factory, [fleet.mavsdk_url(0)])
    bystander = Reader(await websockets.connect(svc.ws_url("rate=5")))
    await asyncio.sleep(1.0)
    cases: list[tuple[Any, int]] = [
        ("definitely not json", 1008),
        ("{\"rate\": ", 1008),
        ("[1, 2, 3]", 1008),
        ("\"a string\"", 1008),
        ("{\"rate\": \"fast\"}", 1008),
        ("{\"rate\": 1e400}", 1008),
        ("{\"rate\": -3}", 1008),
        ("{\"rate\": true}", 1008),
        ("{\"subscribe\": \"everything\"}", 1008),
        (b"\x00\xff\x13binary", 1008),
        ("x" * 10_000, 1009),  # over NAZORAT_WS_MAX_MESSAGE_BYTES
        (b"\x00" * 200_000, 1009),  # over the protocol limit
        (["{\"rate\": 2}"] * 40, 1008),  # a flood
    ]
    rng = random.Random(7)
    cases += [(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
               .decode("latin-1"), 1008) for _ in range(5)]
    for payload, want in cases:
        code, reason = await _closed_code(svc, payload)
        assert code == want, (payload if len(str(payload)) < 80 else str(payload)[:80], code,
                              reason)
        assert reason
    # a well-formed control message is still fine
    async with websockets.connect(svc.ws_url()) as ws:
        await ws.recv()
        await ws.send(json.dumps({"rate": 2}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] in ("update", "events")
    # the bystander never noticed, and the service is fine
    n = len(bystander.frames)
    await asyncio.sleep(1.5)
    assert len(bystander.frames) > n and not bystander.task.done()
    async with svc.aclient() as http:
        health = (await http.get("/api/health")).json()
    assert health["status"] == "ok" and health["links_up"] == 1
    await bystander.ws.close()
    await bystander.task


# -- MAVLink ----------------------------------------------------------------------------------


class MangledLink:
    """A TCP relay between a simulated vehicle and the service that, while `mangle` is set,
    mixes malformed MAVLink into what the vehicle sends, ten times a second between the chunks
    of the real stream: random noise, frames with a broken checksum, truncated frames, frames of
    unknown message ids, v1/v2 magic bytes followed by lengths that lie."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.mangle = threading.Event()
        self.stop = threading.Event()
        self.injected = 0
        self.rng = random.Random(11)
        self.mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def garbage(self) -> bytes:
        r = self.rng
        hb: bytes = mavlink.MAVLink_heartbeat_message(2, 3, 81, 0, 3, 3).pack(self.mav)
        kind = r.randrange(6)
        if kind == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(1, 300)))
        if kind == 1:  # checksum broken
            return hb[:-2] + bytes([hb[-2] ^ 0xFF, hb[-1]])
        if kind == 2:  # truncated
            return hb[: r.randrange(1, len(hb) - 1)]
        if kind == 3:  # an id nobody knows, valid framing
            body = bytes(r.randrange(256) for _ in range(20))
            return bytes([0xFD, len(body), 0, 0, r.randrange(256), 1, 1, 0xFF, 0xFF, 0xFE]) \
                + body + b"\x00\x00"
        if kind == 4:  # magic, then lengths that lie
            return bytes([r.choice([0xFE, 0xFD]), 255]) + bytes(r.randrange(256)
                                                                  for _ in range(8))
        return b"\xfd" * r.randrange(1, 50)

    def _pump(self, src: socket.socket, dst: socket.socket, inject: bool) -> None:
        src.settimeout(0.1)
        last = 0.0
        while not self.stop.is_set():
            data: bytes | None
            try:
                data = src.recv(65536)
            except TimeoutError:
                data = None
            except OSError:
                return
            if data == b"":
                return
            try:
                if inject and self.mangle.is_set() and time.monotonic() - last >= 0.1:
                    dst.sendall(self.garbage())
                    self.injected += 1
                    last = time.monotonic()
                if data:
                    dst.sendall(data)
            except OSError:
                return

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(upstream, client, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, False),
                             daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.close()


@pytest.mark.timeout(120)
def test_malformed_mavlink_never_takes_the_link_down(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=1.0)
    port = int(fleet.mavsdk_url(0).rsplit(":", 1)[1])
    relay = MangledLink(port)
    try:
        svc = service_factory(drones=[f"tcpout://127.0.0.1:{relay.port}"])
        with svc.client() as c:
            def state() -> dict[str, Any]:
                s: dict[str, Any] = c.get("/api/drones/1").json()["state"] or {}
                return s

            wait_until(lambda: state().get("link") == "up" and state().get("position"), 20,
                       what="link up through the relay")
            t0 = time.time()
            relay.mangle.set()
            for mode in ("GUIDED", "BRAKE", "LOITER", "GUIDED"):
                time.sleep(1.5)
                r = c.post("/api/drones/1/commands/set_mode", json={"mode": mode})
                assert r.status_code == 200, r.text
                assert state()["link"] == "up"
            relay.mangle.clear()
            assert relay.injected > 50
            lost = [e for e in c.get("/api/events", params={"drone_id": 1, "from": t0}).json()
                    if e["kind"] == "link_lost"]
            assert lost == []
            assert c.get("/api/health").json()["links_up"] == 1
            assert state()["mode"] == "GUIDED"
    finally:
        relay.close()
