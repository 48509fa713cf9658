"""The bad-input campaign: what a hostile or broken client or vehicle sends must never take the
service down or make it answer outside its own contract.

- schemathesis over the whole OpenAPI schema of the running service, signed in (an admin; a
  fresh integration key for the intake route, the webhook's secret for Telegram): zero 5xx,
  every status, content type, header and body as the schema documents;
- WebSocket garbage, oversize frames and wrong JSON close that client's socket with a policy
  code (1008, or 1009 for size) and nobody else notices;
- malformed MAVLink from a vehicle (noise, broken checksums, truncated and unknown frames)
  never takes its link down: it stays up and commandable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi import checks as oa_checks

pytest.register_assert_rewrite("service_fixture")

import websockets  # noqa: E402
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from asgi_service import AsgiService, asgi_service  # noqa: E402
from service_fixture import TEST_ENV, RunningService, ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402
from tile_archives import png_tile, write_mbtiles  # noqa: E402

pytest_plugins = ["service_fixture"]

TELEGRAM_SECRET = "campaign-" + secrets.token_hex(8)
# per operation and generation mode: the whole campaign stays under a minute. Deterministic in
# the suite; CAMPAIGN_EXAMPLES=200 CAMPAIGN_RANDOM=1 for a longer, different search by hand.
EXAMPLES = int(os.environ.get("CAMPAIGN_EXAMPLES", "15"))
RANDOM = os.environ.get("CAMPAIGN_RANDOM") == "1"
# each of these costs an argon2 hash or two (about 0.1 s of CPU on purpose)
FEWER = {("POST", "/api/auth/logout"): 3, ("POST", "/api/auth/login"): 8,
         ("POST", "/api/auth/password"): 8, ("POST", "/api/users"): 8,
         ("PATCH", "/api/users/{user_id}"): 8}
# Not fuzzed: adding a drone makes the service open a MAVLink connection to whatever URL it is
# given, and a generated URL must never send traffic off this machine (tested by hand in
# test_service_api.py).
NOT_FUZZED = {("POST", "/api/drones")}
def negative_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' check, with 413 counted as the rejection it is: an invalid body that is
    also over the body limit (16 KiB on the intake) is refused before it is read, and
    schemathesis lists no 413 among the statuses that reject (seen with the default seed)."""
    if response.status_code == 413:
        return None
    result: bool | None = oa_checks.negative_data_rejection(ctx, response, case)
    return result


@schemathesis.serializer("application/sdp")
def sdp_body(_ctx: Any, value: Any) -> bytes:
    """A WHEP offer (mission/video/routes.py) is SDP text: the generated string as is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_headers_conformance,
    oa_checks.response_schema_conformance,
    negative_data_rejection,
    oa_checks.ignored_auth,
]


@pytest.fixture(scope="module")
def campaign(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[AsgiService]:
    """The service as `nazorat serve` runs it, in this process (tests/asgi_service.py)."""
    data_dir = tmp_path_factory.mktemp("campaign-service")
    env = {**TEST_ENV, "NAZORAT_DATA_DIR": str(data_dir),
           "NAZORAT_TELEGRAM_SECRET": TELEGRAM_SECRET, "NAZORAT_COMMAND_TIMEOUT_S": "5",
           "NAZORAT_UI_DIR": str(data_dir / "no-ui")}
    (data_dir / "tiles").mkdir()  # an installed base map: /tiles/base/... answers tiles too
    write_mbtiles(data_dir / "tiles" / "base.mbtiles",
                  {(0, 0, 0): png_tile((9, 9, 9), 8), (1, 1, 1): png_tile((9, 9, 9), 8)})
    failed_before = request.session.testsfailed
    with asgi_service(env) as service:
        yield service
    if request.session.testsfailed > failed_before:
        print(f"--- service log ---\n{service.log_text()[-20000:]}")


def _headers(svc: AsgiService, method: str, path: str) -> dict[str, str]:
    if path == "/api/intake/incidents":  # a fresh key each time: its own rate budget
        return {"Authorization": f"Bearer {svc.integration_key(rate_per_minute=6000)}"}
    if path == "/api/intake/telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    if path == "/api/auth/logout":  # a throwaway user: the campaign's own session stays
        return svc.auth_headers("commander", f"lo-{secrets.token_hex(4)}")
    return svc.auth_headers()


def _array_parameters(schema: Any, op: Any) -> set[str]:
    params = schema.raw_schema["paths"][op.path][op.method.lower()].get("parameters", [])
    return {p["name"] for p in params if p.get("in") == "query" and "array" in json.dumps(p)}


def _negatable(schema: Any, op: Any) -> bool:
    """Whether the operation has anything to make invalid that `_invalid_part_is_sent` lets
    through: a path, query or cookie parameter, or a body. Without one, the only invalid part
    is the credentials (replaced by real ones), so every negative case would be generated only
    to be discarded: a few hundred draws and about two seconds per such operation before
    Hypothesis gives up (Unsatisfiable), with nothing sent."""
    item = schema.raw_schema["paths"][op.path]
    definition = item[op.method.lower()]
    params = [*item.get("parameters", []), *definition.get("parameters", [])]
    return "requestBody" in definition or any(p.get("in") != "header" for p in params)


def _invalid_part_is_sent(case: Any, arrays: set[str]) -> bool:
    """Whether a negative case still carries its invalid part once sent, so that accepting it
    would be a fault. Not so when the invalid part is the credentials header (the campaign sends
    real ones), or a list or mapping given to a scalar query parameter: requests leaves out an
    empty one and sends the items of another as repeated parameters, of which the server reads
    the last, often valid. Schemathesis reported such cases as ST201 in about one
    full run in three, depending on what it generated."""
    negative = {loc for loc, c in case.meta.components.items() if c.mode.is_negative}
    if any(v is None or (isinstance(v, list | dict) and k not in arrays)
           for k, v in (case.query or {}).items()):
        return False
    return bool(negative - {ParameterLocation.HEADER})


def _run_operation(svc: AsgiService, op: Any, mode: GenerationMode,
                   session: requests.Session, arrays: set[str]) -> None:
    method, path = op.method.upper(), op.path

    @settings(max_examples=FEWER.get((method, path), EXAMPLES), deadline=None,
              derandomize=not RANDOM, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if mode == GenerationMode.NEGATIVE:
            assume(_invalid_part_is_sent(case, arrays))
        headers = {**(case.headers or {}), **_headers(svc, method, path)}
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30, session=session)

    run()


@pytest.mark.timeout(300 if EXAMPLES <= 15 else 3600)
def test_openapi_campaign(campaign: AsgiService) -> None:
    """Every operation of the schema, valid and invalid inputs: no 5xx, no answer outside the
    documented statuses, content types, headers and body schemas, no invalid input accepted,
    no secured operation answering without credentials."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", campaign.app)
    failures: list[str] = []
    ran = 0
    session = ASGIClient(campaign.app)  # its own cookie jar, as the requests.Session it replaces
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]  # Err has no ok(); the schema is ours
        if (op.method.upper(), op.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran += 1
            if mode == GenerationMode.NEGATIVE and not _negatable(schema, op):
                continue  # nothing to make invalid that would be sent
            try:
                _run_operation(campaign, op, mode, session, _array_parameters(schema, op))
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                continue
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - reported below
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]:\n{e}")
    assert ran > 80
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)


def test_service_survived_the_campaign(campaign: AsgiService) -> None:
    c = campaign.client
    assert c.get("/api/health").json()["status"] == "ok"
    assert c.get("/api/auth/me", headers=campaign.auth_headers()).status_code == 200
    log = campaign.log_text()
    assert "created the first admin" in log  # the service's log is captured
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-5000:]


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
