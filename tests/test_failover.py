"""Link failover with leases (issue 13): two `LinkSide`s in this process on one SQLite file, the
local Redis (a key prefix of each test's own) and simulated drones on free ports.

- the owner stops without releasing (as a SIGKILL leaves Redis): the other process, which can
  reach the drone (NAZORAT_LINK_REACH), takes its lease and links it within 5 s;
- a paused owner (its lease refresher stopped) that lost its lease to the other process cannot
  act: its command is refused with the reason, never sent;
- a drone nobody else can reach stays `lost`, with the reason in its state;
- Redis lost (killed): the owner counts its leases lost within the TTL, stops acting, and its
  readiness says the bus is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from mission.fleet.commands import owner_handler
from mission.fleet.link_commands import LinkCommands
from mission.fleet.models import Drone, DroneCreate
from mission.fleet.reach import LinkReach
from mission.observability.health import Lifecycle, readiness
from mission.runtime.links import LinkSide
from mission.settings import load_settings
from sitl_fleet import FleetFactory, SitlFleet
from telemetry.bus import BusNode
from telemetry.lease import Fenced, carried_token
from telemetry.state import LinkState
from test_bus import BUS_SECRET, REDIS_URL
from test_bus_security import _own_redis

pytestmark = pytest.mark.timeout(90)


class Node:
    """One LinkSide with what its ownership watchers were told."""

    def __init__(self, side: LinkSide) -> None:
        self.side = side
        self.told: list[tuple[str, int, int | None]] = []
        side.watch_ownership(lambda d, t: self.told.append(("acquired", d, t)),
                             lambda d: self.told.append(("released", d, None)))

    @property
    def bus(self) -> BusNode:
        assert self.side.bus is not None
        return self.side.bus


@pytest.fixture
async def nodes(tmp_path: Path, prefix: str) -> AsyncIterator[Callable[..., Awaitable[Node]]]:
    """`await start(shard, reach=..., drones=..., mirror=...)`: a started LinkSide on the
    test's database and bus; all stopped at teardown (cleanly: leases released)."""
    started: list[LinkSide] = []

    async def start(shard: str, *, reach: str = "", drones: tuple[str, ...] = (),
                    mirror: bool = False, ttl_s: float = 3.0) -> Node:
        settings = load_settings({
            "NAZORAT_BUS_URL": REDIS_URL, "NAZORAT_BUS_PREFIX": prefix,
            "NAZORAT_BUS_SECRET": BUS_SECRET, "NAZORAT_BUS_OWNER_TTL_S": str(ttl_s),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
            "NAZORAT_SHARD": shard, "NAZORAT_LINK_REACH": reach,
            "NAZORAT_RECONNECT_AFTER_S": "60", "NAZORAT_DATA_DIR": str(tmp_path / shard)})
        side = LinkSide(settings, shard=shard, sharded=True)
        started.append(side)
        node = Node(side)
        await side.open()
        await side.join_bus(mirror=mirror)
        await side.start_link(drones)
        return node

    try:
        yield start
    finally:
        for side in reversed(started):
            await side.stop()


async def until(what: str, pred: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := pred()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return value


async def crash(node: Node, monkeypatch: pytest.MonkeyPatch) -> float:
    """Stop a node the way SIGKILL leaves Redis: its link closes, nothing is released (its
    leases run out by their TTL). Returns the monotonic time of the 'kill'."""
    async def release_nothing(vehicle_ids: Any) -> None:
        return None

    monkeypatch.setattr(node.bus.leases, "release", release_nothing)
    await node.side.stop()
    return time.monotonic()


def up_on(node: Node, vid: int) -> bool:
    st = node.side.hub.latest(vid)
    return st is not None and st.link is LinkState.UP and node.bus.owns(vid)


async def owned_drone(start: Callable[..., Awaitable[Node]], fleet: SitlFleet,
                      **kw: Any) -> Node:
    """Node `a` with the fleet's drone 1 registered, linked, up and under its lease."""
    a = await start("a", drones=(fleet.mavsdk_url(0),), **kw)
    await until("drone 1 up on a under its lease", lambda: up_on(a, 1))
    return a


async def test_killed_owner_taken_over_within_5_s(
    sim_fleet: FleetFactory, nodes: Callable[..., Awaitable[Node]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=1.0)
    a = await owned_drone(nodes, fleet)
    token_a = a.bus.lease_tokens()[1]
    assert a.told == [("acquired", 1, token_a)]
    assert a.side.tracker.owned() == {1: token_a}  # its mission legs are driven where the lease is
    b = await nodes("b", reach="tcpout://127.0.0.1:*")
    assert b.side.takeover is not None
    passes = b.side.takeover.passes
    await until("b's takeover passes", lambda: b.side.takeover and
                b.side.takeover.passes >= passes + 3)
    assert b.told == [] and b.side.link.vehicles() == []  # held by a: never stolen
    killed = await crash(a, monkeypatch)
    assert a.told[-1] == ("released", 1, None)  # a stopped acting (told before it stopped)
    await until("b holds drone 1's lease", lambda: b.told, timeout_s=10)
    took = time.monotonic() - killed
    await until("drone 1 up on b", lambda: up_on(b, 1))
    up = time.monotonic() - killed
    print(f"takeover: lease and link on b {took:.2f} s after the owner was killed, "
          f"telemetry up {up:.2f} s after (lease TTL 3 s)")
    token_b = b.bus.lease_tokens()[1]
    assert b.told == [("acquired", 1, token_b)] and token_b > token_a
    assert a.side.tracker.owned() == {} and b.side.tracker.owned() == {1: token_b}
    assert took < 5.0, f"takeover took {took:.2f} s"
    # b acts for it now: a fenced command through b's link reaches the vehicle
    result = await LinkCommands(b.side.link, fence=b.bus.fence).set_mode(1, "GUIDED")
    assert result.detail.get("mode") == "GUIDED", result
    await until("GUIDED on b", lambda: (s := b.side.hub.latest(1)) and s.mode == "GUIDED")


async def test_paused_owner_that_lost_its_lease_cannot_act(
    sim_fleet: FleetFactory, nodes: Callable[..., Awaitable[Node]],
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=1.0)
    a = await owned_drone(nodes, fleet, ttl_s=1.5)
    b = await nodes("b", reach="*", ttl_s=1.5)
    token_a = a.bus.lease_tokens()[1]
    # a is paused: its lease refresher and takeover stop running (a GC pause, SIGSTOP, a VM
    # suspended); its link and its command handler are still there when it resumes
    for t in [*a.bus._tasks, *a.side.tasks]:
        if t.get_name() in ("bus-announce", "link-takeover"):
            t.cancel()
    await until("b holds drone 1's lease", lambda: b.bus.owns(1), timeout_s=10)
    token_b = b.bus.lease_tokens()[1]
    assert token_b > token_a and a.side.link.get(1) is not None  # a still links it
    mode_before = (await asyncio.to_thread(fleet.control, "status"))["vehicles"][0]["mode"]
    port = LinkCommands(a.side.link, fence=a.bus.fence)
    # a's own clock already says the lease ran out: refused before Redis is even asked
    with pytest.raises(Fenced, match="no longer holds its link lease"):
        await port.set_mode(1, "LAND")
    # a clock that did not see the pause (CLOCK_MONOTONIC stops while a machine is suspended):
    # the check in Redis, right before sending, refuses it, naming the new holder
    a.bus.leases._good_until[1] = time.monotonic() + 60
    with pytest.raises(Fenced) as refused:
        await port.set_mode(1, "LAND")
    assert f"fencing token {token_a}" in refused.value.message
    assert f"held by {b.bus.node} with token {token_b}" in refused.value.message
    # a bus command that reached a before the pause, carrying the token its requester saw
    handle = owner_handler(a.side.link, check=None, fence=a.bus.fence)

    async def over_the_bus(token: int) -> Any:
        carried_token.set(token)  # as BusNode sets it for its handler (this task only)
        return await handle(1, "set_mode", {"mode": "LAND"})

    with pytest.raises(Fenced, match="no longer current"):
        await asyncio.create_task(over_the_bus(token_a))
    # ... and one carrying b's token sent to a by mistake: not a's token
    with pytest.raises(Fenced, match=f"fencing token {token_b} is stale"):
        await asyncio.create_task(over_the_bus(token_b))
    print(f"paused owner refused: {refused.value.message}")
    status = await asyncio.to_thread(fleet.control, "status")
    assert status["vehicles"][0]["mode"] == mode_before != "LAND"
    # a resumes: its first lease heartbeat finds the lease gone, and it unlinks the drone
    assert a.told == [("acquired", 1, token_a)]
    a.bus._spawn(a.bus._announce(a.side.link), "bus-announce")
    await until("a unlinked drone 1", lambda: a.side.link.vehicles() == [])
    assert a.told[-1] == ("released", 1, None) and b.bus.owns(1)


async def test_drone_nobody_can_reach_stays_lost_with_the_reason(
    sim_fleet: FleetFactory, nodes: Callable[..., Awaitable[Node]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=1.0)
    a = await owned_drone(nodes, fleet, ttl_s=1.5)
    # a drone of a shard no process serves: stored only, never linked by anyone
    other = await a.side.fleet.add_drone(DroneCreate(url="tcpout://127.0.0.1:9", sysid=9,
                                                     shard="nobody"))
    # b mirrors the fleet (a replica's hub) but reaches only shard "c" drones
    b = await nodes("b", reach="shard:c", mirror=True, ttl_s=1.5)
    await until("drone 1 mirrored on b", lambda: (s := b.side.hub.latest(1))
                and s.link is LinkState.UP)
    await crash(a, monkeypatch)
    lost = await until("drone 1 lost on b", lambda: (s := b.side.hub.latest(1))
                       and s.link is LinkState.LOST and s)
    assert lost.link_reason and "no process holds its link lease" in lost.link_reason
    assert lost.to_dict()["link_reason"] == lost.link_reason
    passes = b.side.takeover.passes if b.side.takeover else 0
    await until("b's takeover passes", lambda: b.side.takeover and
                b.side.takeover.passes >= passes + 3)
    assert b.told == [] and not b.bus.owns(1)
    assert await b.bus.owner_of(1) is None
    # the drone never linked by anyone has a state too: lost, with why
    never = await until("drone never linked shown lost", lambda: b.side.hub.latest(other.id))
    assert never.link is LinkState.LOST and "no process holds its link lease" in str(
        never.link_reason)
    api = (await b.side.fleet.get_drone(other.id)).state  # what GET /api/drones/{id} shows
    assert api is not None and api["link"] == "lost" and api["link_reason"] == never.link_reason


def test_link_reach_setting() -> None:
    reach = LinkReach.parse(("shard:north-*", "tcpout://10.0.3.*", "serial:///dev/ttyUSB*"))
    def drone(url: str, shard: str = "x") -> Drone:
        return Drone(name="d", url=url, shard=shard)
    assert reach.covers(drone("udpin://0.0.0.0:14550", "north-2"))
    assert reach.covers(drone("tcpout://10.0.3.7:5760"))
    assert not reach.covers(drone("tcpout://10.0.4.7:5760"))
    assert reach.covers(drone("serial:///dev/ttyUSB0:57600"))
    assert LinkReach.parse(("*",)).covers(drone("udpin://0.0.0.0:1"))
    assert not LinkReach.parse(()).covers(drone("tcpout://10.0.3.7:5760"))
    with pytest.raises(ValueError, match="NAZORAT_LINK_REACH"):
        load_settings({"NAZORAT_LINK_REACH": "10.0.3.7"})
    assert load_settings({"NAZORAT_LINK_REACH": "*,shard:a"}).link_reach == ("*", "shard:a")


class _OneVehicle:
    """Enough of FleetLink for `serve_link`: one attached vehicle."""

    def __init__(self) -> None:
        from telemetry.hub import TelemetryHub
        from telemetry.state import VehicleState

        self.hub = TelemetryHub()
        self.vehicle_id, self.attached = 5, True
        self.state = VehicleState(vehicle_id=5, sysid=1, link=LinkState.UP)

    def vehicles(self) -> list[Any]:
        return [self]

    def get(self, vehicle_id: int) -> Any:
        return self


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _own_redis(tmp_path, tls=False)


async def test_redis_lost_owner_stops_acting_and_is_not_ready(
    own_redis: tuple[str, str], tmp_path: Path,
) -> None:
    url, password = own_redis
    bus = BusNode(url, secret=BUS_SECRET, password=password, owner_ttl_s=1.0, node="n1")
    lost: list[tuple[int, str]] = []
    bus.on_lease_lost = lambda vid, why: lost.append((vid, why))
    await bus.start()
    try:
        await bus.serve_link(_OneVehicle(), None)  # type: ignore[arg-type]
        await until("lease of vehicle 5", lambda: bus.owns(5))
        ready = await readiness(lifecycle=Lifecycle(complete=True), db=None, link=None,
                                linking=False, bus=bus)
        assert ready.checks["bus"] == "ok" and ready.to_dict()["leases"] == {
            "5": bus.lease_tokens()[5]} and ready.to_dict()["node"] == "n1"
        with contextlib.suppress(redis.RedisError):  # Redis gone (a partition looks alike)
            await bus.redis.shutdown(nosave=True)
        t0 = time.monotonic()
        await until("lease counted lost", lambda: lost, timeout_s=5)
        print(f"Redis gone: lease counted lost after {time.monotonic() - t0:.2f} s (TTL 1 s)")
        assert lost[0][0] == 5 and "bus is unreachable" in lost[0][1] and not bus.owns(5)
        with pytest.raises(Fenced, match="no longer holds"):
            await bus.fence(5, "land")
        ready = await readiness(lifecycle=Lifecycle(complete=True), db=None, link=None,
                                linking=False, bus=bus, timeout_s=1.0)
        assert not ready.ready and ready.checks["bus"] in ("unreachable", "timeout")
        assert ready.to_dict()["leases"] == {}
    finally:
        await bus.close(step_timeout_s=1.0)
