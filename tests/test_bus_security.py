"""Issue 10, deliverable 4: the bus accepted commands from anyone who could reach Redis, and the
owner ran them without the interlocks. Regression tests named after that finding:

- a command with no MAC, a wrong MAC, sealed for another node, stale or replayed is refused,
  logged and never run; a forged reply is not taken for the owner's answer;
- the owner re-runs the interlock check it is given: a goto into a no-fly zone sent over the bus
  by a requester that did not check it is refused there, recorded as refused, answered 409;
- Redis with a password (a redis-server of the test's own, stopped at teardown), and the
  settings that a bus now needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from redis.exceptions import AuthenticationError, ResponseError

from mission.db import Database
from mission.fleet import vehicle_commands as vc
from mission.fleet.commands import CommandService, owner_handler
from mission.safety import MissionReader, SafetyLimits, SafetyRefused
from mission.settings import load_settings
from mission.zones.models import ZoneCreate
from mission.zones.service import ZoneService
from telemetry import bus as bus_module
from telemetry import buscodec as codec
from telemetry import commands as telemetry_commands
from telemetry.bus import BusNode
from telemetry.busauth import BusAuth, BusAuthError
from telemetry.errors import (
    CheckRefused,
    CommandFailed,
    CommandResult,
    CommandTimeout,
    UnknownVehicle,
)
from telemetry.hub import TelemetryHub
from telemetry.state import GeoPoint, LinkState, VehicleState
from test_bus import BUS_SECRET, REDIS_URL, _redis_reason
from test_bus_node import _wait_owner

pytestmark = pytest.mark.timeout(60)

HOME = GeoPoint(41.30, 69.20, 450.0)


class _FakeLink:
    """Enough of FleetLink for `serve_link` and `owner_handler`: one attached vehicle at HOME."""

    def __init__(self, vehicle_id: int) -> None:
        self.hub = TelemetryHub()
        self.vehicle_id = vehicle_id
        self.attached = True
        self.generation = 0
        self.state = VehicleState(vehicle_id=vehicle_id, sysid=1, link=LinkState.UP,
                                  position=HOME, home=HOME)
        self.hub.publish(self.state)

    def vehicles(self) -> list[Any]:
        return [self]

    def get(self, vehicle_id: int) -> Any:
        if vehicle_id != self.vehicle_id:
            raise UnknownVehicle("no")
        return self


async def _pair(prefix: str, url: str = REDIS_URL, password: str = "",
                tls_ca: str = "") -> tuple[BusNode, BusNode]:
    owner = BusNode(url, secret=BUS_SECRET, prefix=prefix, owner_ttl_s=1.5, node="owner",
                    password=password, tls_ca=tls_ca)
    client = BusNode(url, secret=BUS_SECRET, prefix=prefix, owner_ttl_s=1.5, node="client",
                     password=password, tls_ca=tls_ca)
    await owner.start()
    await client.start()
    return owner, client


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[BusNode, BusNode]]:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"nazorat-test-{secrets.token_hex(4)}"
    owner, client = await _pair(prefix)
    try:
        yield owner, client
    finally:
        await owner.close()
        keys = [k async for k in client.redis.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.redis.delete(*keys)
        await client.close()


async def _settle(owner: BusNode, refused: int) -> None:
    deadline = time.monotonic() + 3
    while owner.refused < refused:
        assert time.monotonic() < deadline, f"refused {owner.refused}, expected {refused}"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # and nothing else runs after them


def test_bus_auth_seal_open_refusals() -> None:
    """The envelope alone: each way of forging a command is refused with its reason."""
    now = [1000.0]
    auth = BusAuth(BUS_SECRET, clock=lambda: now[0])
    sealed = auth.seal("p:cmd:a", {"c": "arm"})
    assert auth.open("p:cmd:a", sealed)["c"] == "arm"
    with pytest.raises(BusAuthError, match="replayed"):
        auth.open("p:cmd:a", sealed)
    with pytest.raises(BusAuthError, match="bad MAC"):
        auth.open("p:cmd:b", auth.seal("p:cmd:a", {"c": "arm"}))  # aimed at another node
    with pytest.raises(BusAuthError, match="bad MAC"):
        auth.open("p:cmd:a", BusAuth("another-secret-of-16").seal("p:cmd:a", {"c": "arm"}))
    mac, _, body = auth.seal("p:cmd:a", {"c": "arm", "v": 1}).partition(".")
    with pytest.raises(BusAuthError, match="bad MAC"):
        altered = body.replace('"v":1', '"v":2')
        auth.open("p:cmd:a", f"{mac}.{altered}")
    with pytest.raises(BusAuthError, match="no MAC"):
        auth.open("p:cmd:a", json.dumps({"c": "arm"}))
    old = auth.seal("p:cmd:a", {"c": "arm"})
    now[0] += 31
    with pytest.raises(BusAuthError, match="stale"):
        auth.open("p:cmd:a", old)
    with pytest.raises(ValueError, match="16"):
        BusAuth("short")
    # rotation: sealed with the new secret, the old one still accepted while processes restart
    old, new = "old-secret-0123456789", "new-secret-0123456789"
    rotating = BusAuth(new, previous=old)
    assert rotating.open("c", BusAuth(old).seal("c", {"c": "arm"}))["c"] == "arm"
    assert BusAuth(new).open("c", rotating.seal("c", {"c": "arm"}))["c"] == "arm"
    with pytest.raises(BusAuthError, match="bad MAC"):
        BusAuth(new).open("c", BusAuth(old).seal("c", {"c": "arm"}))
    # the cost per command: seal on the requester plus open on the owner
    auth = BusAuth(BUS_SECRET)
    request = {"id": "0" * 16, "reply": "nazorat:reply:x", "v": 1, "c": "goto",
               "p": {"lat": 41.3, "lon": 69.2, "alt": 30.0}, "t": 60.0}
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        auth.open("c", auth.seal("c", request))
    per = (time.perf_counter() - t0) / n
    print(f"HMAC seal + open per command: {per * 1e6:.1f} us")
    assert per < 0.002


async def test_bus_accepts_commands_from_anyone_who_can_reach_redis(
    nodes: tuple[BusNode, BusNode], caplog: pytest.LogCaptureFixture,
) -> None:
    """Unsigned, wrongly signed, misdirected, stale and replayed commands published straight
    on the owner's channel are logged and never reach the handler; the sealed one runs once."""
    owner, client = nodes
    calls: list[str] = []

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        calls.append(name)
        return CommandResult(name)

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)
    chan = owner.key("cmd", owner.node)
    reply = client.key("reply", "attacker")
    while owner.leases.token(5) is None:  # seen by the client; held here a moment later
        await asyncio.sleep(0.02)
    # "f": the fencing token a real requester reads with the owner's name (the lease)
    req = {"id": "x1", "reply": reply, "v": 5, "c": "land", "p": {}, "t": 5.0,
           "f": owner.leases.token(5)}
    raw = sync_redis.Redis.from_url(REDIS_URL)
    try:
        caplog.set_level(logging.WARNING, logger="telemetry.bus")
        raw.publish(chan, json.dumps(req))  # the old unsigned form
        raw.publish(chan, BusAuth("not-the-deployment-secret").seal(chan, req))
        raw.publish(chan, BusAuth(BUS_SECRET).seal(client.key("cmd", "other"), req))
        raw.publish(chan, BusAuth(BUS_SECRET, clock=lambda: time.time() - 120).seal(chan, req))
        await _settle(owner, 4)
        assert calls == []
        good = BusAuth(BUS_SECRET).seal(chan, {**req, "c": "disarm"})
        raw.publish(chan, good)
        raw.publish(chan, good)  # captured and replayed
        await _settle(owner, 5)
        assert calls == ["disarm"]
    finally:
        raw.close()
    msgs = [r.getMessage() for r in caplog.records if "command refused" in r.getMessage()]
    assert len(msgs) == 5, msgs
    assert [m for m in msgs if "no MAC" in m] and [m for m in msgs if "stale" in m]
    assert len([m for m in msgs if "bad MAC" in m]) == 2 and [m for m in msgs if "replayed" in m]
    # and the real requester still works
    assert (await client.request(5, "land", {}, 5.0)).command == "land"
    assert owner.stats()["refused"] == 5


async def test_bus_forged_reply_is_not_a_success(nodes: tuple[BusNode, BusNode]) -> None:
    """Someone reading Redis sees the request (bodies are not encrypted without TLS) and answers
    it first with an unsigned "ok": the requester drops it and reports the real outcome."""
    owner, client = nodes

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        await asyncio.sleep(30)
        return CommandResult(name)

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)
    spy = client.redis.pubsub()
    await spy.subscribe(owner.key("cmd", owner.node))
    await spy.get_message(timeout=1.0)  # the subscribe confirmation
    task = asyncio.create_task(client.request(5, "arm", {}, 0.5))
    msg = None
    while msg is None:
        msg = await spy.get_message(ignore_subscribe_messages=True, timeout=2.0)
    body = json.loads(str(msg["data"]).partition(".")[2])
    forged = {"ok": True, "command": "arm", "detail": {}, "outcome": "accepted", "id": body["id"]}
    await client.redis.publish(body["reply"], json.dumps(forged))
    await client.redis.publish(body["reply"], BusAuth("wrong-secret-wrong").seal(
        body["reply"], forged))
    with pytest.raises(CommandTimeout):
        await task
    assert client.refused == 2
    await spy.aclose()


async def test_bus_stale_command_answered_not_run(nodes: tuple[BusNode, BusNode]) -> None:
    """Clocks out of step: an authentic but stale command is refused at once with the reason
    (not left to time out), never run; the requester takes the owner's authentic answer."""
    owner, client = nodes
    calls: list[str] = []

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        calls.append(name)
        return CommandResult(name)

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)
    client.auth = BusAuth(BUS_SECRET, clock=lambda: time.time() - 120)
    t0 = time.monotonic()
    with pytest.raises(CommandFailed, match="not run: stale: sent 120"):
        await client.request(5, "arm", {}, 20.0)
    assert time.monotonic() - t0 < 2.0 and calls == []


async def test_bus_command_delivered_after_a_stall_is_not_run(
    nodes: tuple[BusNode, BusNode], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis (or the network to it) stalls while a command is published: the requester's
    publish times out and it answers "not run", but Redis still delivers the message once the
    stall ends. The owner refuses it (past its sender's deadline), so the operator's retry is
    the only execution (found writing tests/test_chaos.py: before, it ran after a 502 "failed")."""
    owner, client = nodes
    calls: list[str] = []

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        calls.append(name)
        return CommandResult(name)

    caplog.set_level(logging.WARNING, logger="telemetry.bus")
    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)
    monkeypatch.setattr(bus_module, "PUBLISH_WINDOW_S", 0.5)
    monkeypatch.setattr(bus_module, "CLOCK_SKEW_S", 0.3)
    real_publish = client.redis.publish
    late: list[asyncio.Task[Any]] = []

    async def stalled_publish(channel: str, message: str) -> int:
        async def deliver() -> None:  # what the stalled connection does once it recovers
            await asyncio.sleep(1.2)
            await real_publish(channel, message)
        late.append(asyncio.create_task(deliver()))
        await asyncio.sleep(30)  # no answer while stalled
        return 1

    monkeypatch.setattr(client.redis, "publish", stalled_publish)
    t0 = time.monotonic()
    with pytest.raises(CommandFailed, match="did not take it within 0.5 s; not run"):
        await client.request(5, "clear_roi", {}, 5.0)
    took = time.monotonic() - t0
    assert 0.7 <= took < 3.0, took  # answered once the owner refuses it for sure
    await late[0]
    deadline = time.monotonic() + 5
    while not [r for r in caplog.records if "after its sender's deadline" in r.getMessage()]:
        assert time.monotonic() < deadline and not calls, calls
        await asyncio.sleep(0.02)
    assert calls == [], "a command its sender reported as not run was run"
    monkeypatch.setattr(client.redis, "publish", real_publish)
    assert (await client.request(5, "clear_roi", {}, 5.0)).command == "clear_roi"
    assert calls == ["clear_roi"]


async def test_bus_stale_replay_of_running_command_keeps_its_answer(
    nodes: tuple[BusNode, BusNode],
) -> None:
    """A command replayed after the window while the original still runs is refused without
    an answer, so the requester gets the original's outcome, not the replay's refusal."""
    owner, _ = nodes
    now = [time.time()]
    owner.auth = BusAuth(BUS_SECRET, clock=lambda: now[0])
    release = asyncio.Event()
    calls: list[str] = []

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        calls.append(name)
        await release.wait()
        return CommandResult(name)

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    while owner.leases.token(5) is None:  # the lease (and its token) taken
        await asyncio.sleep(0.02)
    chan, reply = owner.key("cmd", owner.node), owner.key("reply", "watcher")
    watcher = owner.redis.pubsub()
    await watcher.subscribe(reply)
    await watcher.get_message(timeout=1.0)
    raw = BusAuth(BUS_SECRET, clock=lambda: now[0]).seal(
        chan, {"id": "r1", "reply": reply, "v": 5, "c": "upload_mission", "p": {}, "t": 60.0,
               "f": owner.leases.token(5)})
    await owner.redis.publish(chan, raw)
    while not calls:
        await asyncio.sleep(0.02)
    now[0] += 45  # the original is still running when the replay arrives
    await owner.redis.publish(chan, raw)
    await _settle(owner, 1)
    release.set()
    answers = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        m = await watcher.get_message(ignore_subscribe_messages=True, timeout=0.3)
        if m is not None:
            answers.append(json.loads(str(m["data"]).partition(".")[2]))
    assert [(a["ok"], a["id"]) for a in answers] == [(True, "r1")] and calls == ["upload_mission"]
    await watcher.aclose()


async def test_bus_forged_telemetry_never_reaches_the_hub(
    nodes: tuple[BusNode, BusNode],
) -> None:
    """Unsigned states (a vehicle that does not exist, a false position of a real one), a
    forged removal and a forged `last` key: the mirroring hub shows only the owner's truth."""
    owner, client = nodes
    hub = TelemetryHub()
    raw = sync_redis.Redis.from_url(REDIS_URL)
    try:
        ghost = codec.state_to_wire(VehicleState(vehicle_id=9, sysid=9, link=LinkState.UP,
                                                 position=HOME))
        raw.set(client.key("last", 9), json.dumps({"o": "owner", "s": ghost}), px=5000)
        await client.mirror(hub)
        link = _FakeLink(5)

        async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
            return CommandResult(name)

        await owner.serve_link(link, handler)  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while hub.latest(5) is None:
            assert time.monotonic() < deadline, "the owner's state never arrived"
            link.hub.publish(dataclasses.replace(link.state, updated_at=time.time()))
            await asyncio.sleep(0.05)
        far = codec.state_to_wire(VehicleState(vehicle_id=5, sysid=1, link=LinkState.UP,
                                               position=GeoPoint(10.0, 10.0, 0.0)))
        raw.publish(client.key("v", 5, "s"), json.dumps({"o": "owner", "s": far}))
        raw.publish(client.key("v", 9, "s"), json.dumps({"o": "owner", "s": ghost}))
        raw.publish(client.key("v", 5, "r"), json.dumps({"o": "owner"}))
        raw.publish(client.key("v", 5, "s"), BusAuth("not-the-deployment-secret").seal(
            client.key("v", 5, "s"), {"o": "owner", "s": far}))
        deadline = time.monotonic() + 3
        while client.refused_telemetry < 5:
            assert time.monotonic() < deadline, client.stats()
            await asyncio.sleep(0.05)
        latest = hub.latest(5)
        assert latest is not None and latest.position == HOME
        assert hub.latest(9) is None and client.stats()["refused_telemetry"] == 5
    finally:
        raw.close()


class _Remote:
    """RemoteCommands as a replica without the check sees it: the drone is linked elsewhere."""

    def __init__(self, bus: BusNode) -> None:
        self.bus = bus

    def knows(self, vehicle_id: int) -> bool:
        return True

    def owns(self, vehicle_id: int) -> bool:
        return False

    async def fence(self, vehicle_id: int, command: str = "") -> int:
        raise AssertionError("nothing is sent from here")

    async def request(self, vehicle_id: int, command: str, params: dict[str, Any],
                      timeout_s: float) -> CommandResult:
        return await self.bus.request(vehicle_id, command, params, timeout_s)


class _NoLocal:
    def get(self, vehicle_id: int) -> Any:
        raise UnknownVehicle("not here")


def _square_north(d_north: float, size: float = 0.01) -> dict[str, Any]:
    lat, lon = HOME.lat + d_north, HOME.lon - size / 2
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
            [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def test_bus_owner_rechecks_interlocks_no_fly(
    nodes: tuple[BusNode, BusNode], database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A goto into a no-fly zone, sent by a requester that did not check it (an older replica,
    stale zones, or no check at all), is refused by the owner's own run of the interlocks:
    never run, recorded once as refused by the owner, 409 interlock."""
    owner, client = nodes
    db = Database(database_url)
    await db.start()
    try:
        zone = await ZoneService(db).create(ZoneCreate.model_validate(
            {"name": "prison", "kind": "no_fly", "geometry": _square_north(0.005)}))
        link = _FakeLink(5)
        ran: list[tuple[float, float]] = []

        async def goto(v: Any, lat: float, lon: float, alt: float) -> CommandResult:
            ran.append((lat, lon))
            return CommandResult("goto")

        monkeypatch.setattr(telemetry_commands, "goto", goto)
        checked: list[str] = []
        safety = SafetyLimits(link.hub, zones=ZoneService(db), max_altitude_m=120.0)

        class Spy:
            async def check(self, drone_id: int, command: vc.VehicleCommand,
                            read_mission: MissionReader | None = None) -> None:
                checked.append(command.name)
                assert read_mission is not None  # the owner reads what the vehicle holds
                await safety.check(drone_id, command, read_mission)

        await owner.serve_link(link, owner_handler(link, check=Spy()))  # type: ignore[arg-type]
        await _wait_owner(client, 5)
        into = {"lat": HOME.lat + 0.01, "lon": HOME.lon, "alt": 30.0}
        with pytest.raises(CheckRefused) as refused:
            await client.request(5, "goto", into, 5.0)
        assert refused.value.extra["check"] == "no_fly" and "prison" in refused.value.message
        south = {"lat": HOME.lat - 0.01, "lon": HOME.lon, "alt": 30.0}
        assert (await client.request(5, "goto", south, 5.0)).command == "goto"
        assert ran == [(south["lat"], south["lon"])] and checked == ["goto", "goto"]

        # through a requester's CommandService without a check of its own: recorded refused
        service = CommandService(db, _NoLocal(), safety=None,  # type: ignore[arg-type]
                                 remote=_Remote(client))
        with pytest.raises(SafetyRefused) as caught:
            await service.execute(5, "goto", into, actor="op-1")
        assert caught.value.check == "no_fly"
        (rec,) = await service.history(5)
        assert rec.outcome == "refused" and rec.result["by"] == "owner", rec
        assert rec.result["check"] == "no_fly" and len(ran) == 1
        assert rec.result["zone_id"] == zone.id == caught.value.zone_id  # the zone, named
    finally:
        await db.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _own_redis(tmp_path: Path, tls: bool) -> Iterator[tuple[str, str]]:
    """A redis-server of the test's own on a free port, AUTH required (and TLS only, with a
    certificate from a CA made here, in `tmp_path/ca.pem`), stopped at teardown."""
    exe = shutil.which("redis-server")
    if exe is None or (tls and shutil.which("openssl") is None):
        pytest.skip("no redis-server (or openssl) on this machine")
    port, password = _free_port(), secrets.token_urlsafe(16)
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
            "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    url = f"redis://127.0.0.1:{port}/0"
    ping: dict[str, Any] = {}
    if tls:
        _make_certificates(tmp_path)
        args[1:3] = ["--port", "0", "--tls-port", str(port), "--tls-cert-file",
                     str(tmp_path / "srv.pem"), "--tls-key-file", str(tmp_path / "srv.key"),
                     "--tls-ca-cert-file", str(tmp_path / "ca.pem"), "--tls-auth-clients", "no"]
        url = f"rediss://127.0.0.1:{port}/0"
        ping = {"ssl_ca_certs": str(tmp_path / "ca.pem")}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sync_redis.Redis.from_url(url, password=password, **ping).ping()
                break
            except (sync_redis.ConnectionError, OSError):
                assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
                time.sleep(0.05)
        yield url, password
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _make_certificates(d: Path) -> None:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    def run(*argv: str) -> None:
        subprocess.run(["openssl", *argv], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=nazorat-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "1", "-extfile", "ext.cnf")


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _own_redis(tmp_path, tls=False)


@pytest.fixture
def redis_with_tls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _own_redis(tmp_path, tls=True)


async def _command_works(url: str, password: str, tls_ca: str = "") -> None:
    owner, client = await _pair("nazorat-own", url=url, password=password, tls_ca=tls_ca)
    try:
        async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
            return CommandResult(name)

        await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
        await _wait_owner(client, 5)
        assert (await client.request(5, "land", {}, 5.0)).command == "land"
    finally:
        await owner.close()
        await client.close()


async def test_bus_redis_needs_a_password(redis_with_password: tuple[str, str]) -> None:
    url, password = redis_with_password
    stranger = BusNode(url, secret=BUS_SECRET, node="stranger")
    with pytest.raises((AuthenticationError, ResponseError)):
        await stranger.start()
    await stranger.close()
    await _command_works(url, password)


async def test_bus_redis_over_tls(redis_with_tls: tuple[str, str], tmp_path: Path) -> None:
    """rediss:// with NAZORAT_BUS_TLS_CA: the server's certificate is checked against that CA;
    without it (the system's CAs) the connection is refused."""
    url, password = redis_with_tls
    await _command_works(url, password, tls_ca=str(tmp_path / "ca.pem"))
    untrusting = BusNode(url, secret=BUS_SECRET, password=password, node="no-ca")
    with pytest.raises((sync_redis.ConnectionError, OSError), match="CERTIFICATE_VERIFY_FAILED"):
        await untrusting.start()
    await untrusting.close()


def test_bus_settings_secret_password_tls() -> None:
    url = {"NAZORAT_BUS_URL": "redis://10.0.0.2:6379/0"}
    with pytest.raises(ValueError, match="NAZORAT_BUS_SECRET"):
        load_settings(url)
    with pytest.raises(ValueError, match="NAZORAT_BUS_SECRET"):
        load_settings({**url, "NAZORAT_BUS_SECRET": "too-short"})
    with pytest.raises(ValueError, match="rediss://"):
        load_settings({**url, "NAZORAT_BUS_SECRET": "s" * 16, "NAZORAT_BUS_TLS_CA": "/ca.pem"})
    with pytest.raises(ValueError, match="NAZORAT_BUS_SECRET_PREVIOUS"):
        load_settings({**url, "NAZORAT_BUS_SECRET": "s" * 16, "NAZORAT_BUS_SECRET_PREVIOUS": "x"})
    s = load_settings({"NAZORAT_BUS_URL": "rediss://r.example:6380/0",
                       "NAZORAT_BUS_SECRET": "hmac-key-0123456789",
                       "NAZORAT_BUS_PASSWORD": "pw-9876", "NAZORAT_BUS_TLS_CA": "/ca.pem"})
    assert (s.bus_secret, s.bus_password, s.bus_tls_ca) == (
        "hmac-key-0123456789", "pw-9876", "/ca.pem")
    assert "hmac-key" not in repr(s) and "pw-9876" not in repr(s)
    node = BusNode(s.bus_url, secret=s.bus_secret, tls_ca="/ca.pem", password="pw")
    kwargs = node.client_options()
    assert kwargs["ssl_ca_certs"] == "/ca.pem" and kwargs["password"] == "pw"
    with pytest.raises(ValueError, match="rediss://"):
        BusNode("redis://h:6379/0", secret=s.bus_secret, tls_ca="/ca.pem").client_options()
