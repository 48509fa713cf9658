"""The bus pieces without vehicles: the wire codec (no Redis), the settings it needs, and the
command request/reply of two `BusNode`s in this process against the local Redis (skipped when
it does not answer): typed errors cross unchanged, a silent or vanished owner is an explicit
failure, never a success."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mission.settings import load_settings
from telemetry import buscodec as codec
from telemetry.bus import BusNode, OwnerGone
from telemetry.errors import (
    CommandFailed,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    Outcome,
)
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, GeoPoint, LinkState, VehicleState, make_event
from test_bus import BUS_SECRET, REDIS_URL, _redis_reason

pytestmark = pytest.mark.timeout(30)


def test_state_and_event_round_trip() -> None:
    s = VehicleState(
        vehicle_id=7, sysid=3, name="alpha", link=LinkState.UP, last_heartbeat=1.5,
        position=GeoPoint(41.3, 69.2, 455.25), home=GeoPoint(41.0, 69.0, 450.0),
        mode="GUIDED", custom_mode=4, armed=True, mission_current=2, mission_total=5,
        position_time_boot_ms=12345, updated_at=1700000000.125,
    )
    back = codec.state_from_wire(codec.state_to_wire(s))
    assert back == s and isinstance(back.link, LinkState)
    e = make_event(EventKind.MODE_CHANGED, 7, "mode GUIDED", severity=6, now=2.0,
                   old="LOITER", new="GUIDED")
    e2 = codec.event_from_wire(codec.event_to_wire(e))
    assert e2 == dataclasses.replace(e, data=e2.data) and dict(e2.data) == dict(e.data)


def test_errors_keep_their_type_and_autopilot_words() -> None:
    err = CommandRejected("arm", "refused", ack_result=4, ack_name="FAILED",
                          statustext="Arm: Need Position Estimate", extra={"steps": ["arm"]})
    with pytest.raises(CommandRejected) as caught:
        codec.reply_from_wire(codec.error_to_wire(err))
    assert caught.value.to_dict() == err.to_dict()
    # a subclass defined elsewhere travels as its nearest known base
    gone = codec.error_to_wire(OwnerGone("arm", "nobody"))
    assert gone["type"] == "LinkDown"
    with pytest.raises(ValueError, match="alt"):
        codec.reply_from_wire(codec.invalid_to_wire("alt: too high"))
    ok = codec.reply_from_wire(codec.result_to_wire(CommandResult("set_mode", {"mode": "X"})))
    assert ok == CommandResult("set_mode", {"mode": "X"}, Outcome.ACCEPTED)


def test_settings_link_mode() -> None:
    assert load_settings({}).link_mode == "inprocess" and load_settings({}).bus_url == ""
    with pytest.raises(ValueError, match="NAZORAT_BUS_URL"):
        load_settings({"NAZORAT_LINK_MODE": "workers"})
    with pytest.raises(ValueError, match="NAZORAT_LINK_MODE"):
        load_settings({"NAZORAT_LINK_MODE": "both"})
    s = load_settings({"NAZORAT_BUS_URL": "redis://u:secret@h:6379/0",
                       "NAZORAT_BUS_SECRET": "hmac-key-0123456789", "NAZORAT_BUS_PASSWORD": "pw1"})
    assert "secret" not in repr(s) and "hmac-key" not in repr(s) and "pw1" not in repr(s)


class _FakeLink:
    """Enough of FleetLink for `serve_link`: one vehicle, attached, with a fixed state."""

    def __init__(self, vehicle_id: int) -> None:
        self.hub = TelemetryHub()
        self.state = VehicleState(vehicle_id=vehicle_id, sysid=1, link=LinkState.UP)
        self.vehicle_id = vehicle_id
        self.attached = True

    def vehicles(self) -> list[Any]:
        return [self]

    def get(self, vehicle_id: int) -> Any:
        from telemetry.errors import UnknownVehicle

        if vehicle_id != self.vehicle_id:
            raise UnknownVehicle("no")
        return self


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[BusNode, BusNode]]:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"nazorat-test-{secrets.token_hex(4)}"
    owner = BusNode(REDIS_URL, secret=BUS_SECRET, prefix=prefix, owner_ttl_s=1.5, node="owner")
    client = BusNode(REDIS_URL, secret=BUS_SECRET, prefix=prefix, owner_ttl_s=1.5,
                     node="client")
    await owner.start()
    await client.start()
    try:
        yield owner, client
    finally:
        await owner.close()
        keys = [k async for k in client.redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.redis.delete(*keys)
        await client.close()


async def _wait_owner(client: BusNode, vid: int) -> None:
    deadline = time.monotonic() + 5
    while await client.owner_of(vid) is None:
        assert time.monotonic() < deadline, "no ownership announced"
        await asyncio.sleep(0.05)


async def test_request_reply_typed_results_and_failures(nodes: tuple[BusNode, BusNode]) -> None:
    owner, client = nodes
    calls: list[tuple[int, str, dict[str, Any]]] = []

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        calls.append((vid, name, params))
        if name == "arm":
            raise CommandRejected("arm", "refused", ack_result=4, ack_name="FAILED",
                                  statustext="PreArm: Throttle too high")
        if name == "hang":
            await asyncio.sleep(30)
        if name == "boom":
            raise RuntimeError("bug")
        return CommandResult(name, {"echo": params})

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)

    r = await client.request(5, "set_mode", {"mode": "GUIDED"}, 5.0)
    assert r == CommandResult("set_mode", {"echo": {"mode": "GUIDED"}})
    with pytest.raises(CommandRejected) as rej:
        await client.request(5, "arm", {}, 5.0)
    assert rej.value.statustext == "PreArm: Throttle too high" and rej.value.ack_result == 4
    with pytest.raises(CommandFailed, match="RuntimeError: bug"):
        await client.request(5, "boom", {}, 5.0)
    # the owner's own bound: an explicit timeout, never a success
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout):
        await client.request(5, "hang", {}, 0.5)
    assert time.monotonic() - t0 < 4.0
    # nobody links vehicle 6
    with pytest.raises(OwnerGone, match="no live process"):
        await client.request(6, "arm", {}, 5.0)
    assert [c[1] for c in calls] == ["set_mode", "arm", "boom", "hang"]

    # the owner vanishes while a command is in flight: fails within a second, outcome unknown
    task = asyncio.create_task(client.request(5, "hang", {}, 20.0))
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    await owner.close()
    with pytest.raises(CommandFailed, match="went away while the command was in flight"):
        await task
    assert time.monotonic() - t0 < 1.5
    # and after close() released ownership, a new command is refused at once
    with pytest.raises(OwnerGone):
        await client.request(5, "set_mode", {"mode": "GUIDED"}, 5.0)


async def test_subscriber_connection_killed_is_reestablished(
    nodes: tuple[BusNode, BusNode],
) -> None:
    """Redis dropping this node's connections (restart, failover, idle kill): subscriptions come
    back by themselves and commands work again."""
    owner, client = nodes

    async def handler(vid: int, name: str, params: dict[str, Any]) -> CommandResult:
        return CommandResult(name)

    await owner.serve_link(_FakeLink(5), handler)  # type: ignore[arg-type]
    await _wait_owner(client, 5)
    assert (await client.request(5, "land", {}, 5.0)).command == "land"
    killed = 0
    for c in await client.redis.client_list():
        if c.get("name") in ("nazorat-owner", "nazorat-client"):
            killed += await client.redis.client_kill_filter(_id=c["id"])
    assert killed >= 2
    deadline = time.monotonic() + 10
    while True:
        try:
            assert (await client.request(5, "land", {}, 2.0)).command == "land"
            break
        except (OwnerGone, CommandTimeout, CommandFailed):
            assert time.monotonic() < deadline, "commands did not recover"
            await asyncio.sleep(0.2)
