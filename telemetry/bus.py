"""The bus between processes: telemetry, link ownership and commands over Redis.

Why Redis (redis-py's `redis.asyncio`) rather than NATS: the deployment already needs Redis-like
shared state for link ownership (a key per vehicle with a TTL, refreshed by its owner), and Redis
gives that, pub/sub fan-out and a cheap "is anybody listening" answer (PUBLISH returns the number
of receivers, so a command to a dead owner fails at once) from one small dependency and one
connection URL. Nothing here needs JetStream's persistence: telemetry is latest-wins and a
command must never be replayed later.

Names (P = the key prefix, `NAZORAT_BUS_PREFIX`, default `nazorat`; pub/sub channels are not
scoped by the Redis database number, so the prefix is what separates deployments and tests):

| name | kind | what |
|---|---|---|
| `P:v:{id}:s` | channel | its whole `VehicleState` after each change (`{"o": node, "s": {}}`) |
| `P:v:{id}:e` | channel | a vehicle's events (`{"o": node, "e": {...}}`) |
| `P:v:{id}:r` | channel | the vehicle was removed from its owner's link |
| `P:owner:{id}` | key, TTL | the vehicle's link lease: `"{token} {node}"`, extended every TTL/3 |
| `P:fence:{id}` | key | the vehicle's fencing-token counter (INCR at each new lease) |
| `P:last:{id}` | key, TTL | its latest state, for a replica that starts later |
| `P:cmd:{node}` | channel | command requests to that node's link |
| `P:reply:{node}` | channel | replies to that node's requests, matched by correlation id |
| `P:changes` | channel | stored objects a node changed (`{"o", "c": [[kind, id], ...], "lost"}`) |

Every message and `last` key is sealed (telemetry/busauth.py: HMAC-SHA256 with the deployment's
shared secret over the channel and the body, a timestamp and a nonce). A command whose MAC is
missing or wrong, that is stale or replayed is logged and never run; only an authentic stale one
is answered (a refusal naming the clocks, unless the same command is still running here). A reply
that does not verify is dropped (the request then times out: never a forged success); an
authentic stale reply is taken only for a request still waiting (clock skew). A state, event or
removal that does not verify never reaches the hub (counted; logged at most every 10 s). The
owner's handler re-checks the command before running it (mission passes its interlocks in).
Not protected: the `owner` keys (plain values): whoever can write to Redis can still claim
a vehicle, and commands to it then fail (never run); the Redis password keeps them out.

Link leases (telemetry/lease.py; issue 13). Every vehicle has at most one owner at a time: the
process holding its lease, a Redis key taken atomically (a Lua SET-if-absent) with a fencing
token from a per-vehicle INCR counter, extended by compare-and-extend every TTL/3 and deleted on
a clean stop. Only the holder publishes the vehicle, records it and runs its commands. Every
command on the bus carries the token the requester read with the owner's name, and the owner
checks it against Redis (token current, TTL left) right before the command goes to the vehicle,
so a process that was paused or cut off past its lease refuses (`Fenced`, outcome link_lost)
instead of acting beside the new owner. A lease lost (taken, expired, or not extended within
the TTL because Redis is unreachable) is reported through `on_lease_lost`; the caller unlinks
the vehicle (mission/runtime/links.py), and a process that reaches the vehicle takes it over
(mission/fleet/takeover.py).

Why a Redis key rather than a PostgreSQL advisory lock: an advisory lock belongs to one database
session, so ownership would follow the health of a database connection (a pooled connection
recycled, a PostgreSQL restart or failover, or SQLite, which has none, would drop or strand
every lease at once), and its holder cannot tell that it lost it without a query; and it has
no expiry, so a paused process keeps its locks as long as its TCP session looks alive. A
Redis key with a TTL expires on a clock everyone shares, the fencing counter is one INCR beside
it, the bus already needs that Redis, and telemetry/ stays free of the database.

`BusNode` is one process's end of the bus. `serve_link()` publishes what the local link does
(only vehicles on that link, so mirrored states never echo back), announces ownership and runs
the commands it is sent through a handler the caller gives (the link does not know command
names). `mirror()` feeds every other node's vehicles into the local `TelemetryHub`, so anything
reading the hub (the WebSocket stream, the REST state, interlocks) works unchanged; a mirrored
vehicle whose owner stops announcing is shown with link `lost` and a `link_lost` event.
`announce_changes()` / `follow_changes()` tell the other nodes which stored objects (missions,
incidents: the bus does not know what they are) one changed, by kind and id only: each node
re-reads them from the shared database and pushes them to its own WebSocket clients, in the view
each client's role has.
`request()` sends a command to the owning node and waits for its typed result: no owner or no
listener fails at once (`OwnerGone`, outcome link_lost), an owner that disappears mid-command or
never answers fails with `CommandFailed` / `CommandTimeout`; never a silent success. A Redis
outage is logged and retried; it never stops the local link.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from telemetry import buscodec as codec
from telemetry.busauth import BusAuth, BusAuthError, StaleMessage
from telemetry.errors import (
    CommandError,
    CommandFailed,
    CommandResult,
    CommandTimeout,
    LinkDown,
    UnknownVehicle,
)
from telemetry.hub import TelemetryHub
from telemetry.lease import Fenced, Holder, LeaseTable, carried_token
from telemetry.link import FleetLink
from telemetry.state import EventKind, LinkState, make_event

log = logging.getLogger(__name__)

# Stored objects changed elsewhere: ([(kind, id), ...], how many more were not named).
ChangesHandler = Callable[[list[tuple[str, int]], int], None]
MAX_NAMED_CHANGES = 1000

# The owner side of a command: (vehicle_id, command name, JSON parameters) -> result, raising a
# CommandError subclass (or ValueError for parameters) exactly as the in-process path does.
CommandHandler = Callable[[int, str, dict[str, Any]], Awaitable[CommandResult]]

# Lease changes, on the event loop; must not block or raise: (vehicle, token) when a lease of
# a vehicle on the link was acquired, (vehicle, reason) when one was lost or refused.
LeaseAcquired = Callable[[int, int], None]
LeaseLost = Callable[[int, str], None]
REPLY_MARGIN_S = 2.0  # the requester waits this much longer than the owner's own bound
# A command must reach Redis within PUBLISH_WINDOW_S of being sealed; it carries that deadline
# ("pd", the sender's wall clock) and the owner refuses one that reaches it later. A publish
# that did not complete in time (Redis stalled, a slow network) may still be delivered once
# the stall ends: without the deadline it then ran after its sender had answered "failed",
# and an operator's retry ran it twice (seen writing tests/test_chaos.py). The sender answers
# only once the deadline has passed by CLOCK_SKEW_S on its own clock (clocks agree within
# that, NTP), so by then the owner refuses it for sure: "not run" is the truth.
PUBLISH_WINDOW_S = 3.0
CLOCK_SKEW_S = 2.0


class OwnerGone(LinkDown):
    """Refused without sending: no live process links the vehicle (or none is listening)."""


class BusNode:
    """One process on the bus. `start()` connects (raises if Redis is unreachable), `close()`
    stops every task and the connection. Everything else is optional and composable."""

    def __init__(self, url: str, *, secret: str | bytes, previous_secret: str | bytes = b"",
                 prefix: str = "nazorat", owner_ttl_s: float = 3.0, node: str | None = None,
                 password: str = "", tls_ca: str = "") -> None:
        self.url = url
        self.auth = BusAuth(secret, previous=previous_secret)
        self.password = password
        self.tls_ca = tls_ca
        self.prefix = prefix
        self.owner_ttl_s = owner_ttl_s
        self.node = node or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._hub: TelemetryHub | None = None
        self._link: FleetLink | None = None
        self._handler: CommandHandler | None = None
        self._remote: dict[int, str] = {}  # mirrored vehicle -> its owner node
        self.published = 0
        self.mirrored = 0
        self.refused = 0  # commands and replies that did not authenticate
        self._serving: set[str] = set()  # ids of the commands running here
        self.refused_telemetry = 0  # states, events and removals that did not authenticate
        self._next_telemetry_warning = 0.0
        self._on_changes: ChangesHandler | None = None
        self.leases = LeaseTable(lambda: self.redis, prefix=prefix, node=self.node,
                                 ttl_s=owner_ttl_s)
        self.on_lease_acquired: LeaseAcquired | None = None
        self.on_lease_lost: LeaseLost | None = None
        self._refused_leases: set[int] = set()  # on the link, lease held elsewhere (told once)
        self.redis_ok = False  # the last lease heartbeat (or start) reached Redis

    # -- names ----------------------------------------------------------------------------------

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("bus not started")
        return self._redis

    # -- lifecycle ------------------------------------------------------------------------------

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of the Redis client besides the URL (a password in the URL wins;
        a CA file only with rediss://, where redis-py verifies the server's certificate)."""
        options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 3.0,
                                   "health_check_interval": 10,
                                   "client_name": f"nazorat-{self.node}"}
        if self.password:
            options["password"] = self.password
        if self.tls_ca:
            if not self.url.startswith("rediss://"):
                raise ValueError("a bus CA file needs a rediss:// URL (TLS)")
            options["ssl_ca_certs"] = self.tls_ca
        return options

    async def start(self) -> None:
        self._redis = aioredis.from_url(self.url, **self.client_options())
        await self._redis.ping()
        self.redis_ok = True
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.key("reply", self.node))
        self._spawn(self._listen(), "bus-listen")
        log.info("bus: node %s on %s (prefix %r)", self.node, _safe_url(self.url), self.prefix)
        if not self.password and "@" not in self.url:
            log.warning("bus: Redis without a password (NAZORAT_BUS_PASSWORD): messages are "
                        "authenticated, but anyone who reaches it can read them and claim "
                        "vehicles (their commands then fail)")

    async def close(self, step_timeout_s: float = 3.0) -> None:
        """Every step bounded (a Redis that went away mid-close, or a task that does not honour
        its cancellation, once held a test's teardown past 30 s); a stuck task is named."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=step_timeout_s)
            for t in stuck:
                log.warning("bus: task %r did not stop within %g s; closing without it",
                            t.get_name(), step_timeout_s)
        if self._redis is not None and self.leases.held:
            # Give up ownership at once so other nodes fail fast instead of waiting for the TTL.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(step_timeout_s):
                    await self.leases.release(list(self.leases.held))
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        for what, conn in (("subscriber", self._pubsub), ("client", self._redis)):
            if conn is None:
                continue
            try:
                async with asyncio.timeout(step_timeout_s):
                    await conn.aclose()
            except TimeoutError:
                log.warning("bus: closing the %s connection took over %g s; left behind",
                            what, step_timeout_s)
            except Exception:  # noqa: BLE001 - a connection that is already broken is closed
                pass
        self._redis = None

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- serving a local link ---------------------------------------------------------------------

    async def serve_link(self, link: FleetLink, handler: CommandHandler | None) -> None:
        """Publish `link`'s vehicles, announce ownership, and run commands sent to this node."""
        self._link = link
        self._handler = handler
        if handler is not None:
            await self._pubsub.subscribe(self.key("cmd", self.node))
        self._spawn(self._forward(link), "bus-forward")
        self._spawn(self._announce(link), "bus-announce")

    def owns(self, vehicle_id: int) -> bool:
        """On the local link and its lease held (extended within the TTL)."""
        link = self._link
        if link is None or not self.leases.holds(vehicle_id):
            return False
        try:
            link.get(vehicle_id)
        except UnknownVehicle:
            return False
        return True

    async def fence(self, vehicle_id: int, command: str = "") -> int:
        """Right before a command goes to the vehicle: this node's lease is current in Redis
        under the token the bus command carried (or its own); else raises Fenced."""
        return await self.leases.fence(vehicle_id, command)

    def lease_tokens(self) -> dict[int, int]:
        """The vehicles this node holds leases for, with their fencing tokens."""
        return {v: t for v in sorted(self.leases.held)
                if (t := self.leases.token(v)) is not None}

    async def _forward(self, link: FleetLink) -> None:
        sent: set[int] = set()
        with link.hub.subscribe(max_events=2048) as sub:
            while not sub.closed:
                await sub.wait(1.0)
                await asyncio.sleep(0.01)  # let a burst of changes coalesce into one pipeline
                states = sub.take_states()
                events, dropped = sub.take_events()
                removed = sub.take_removed()
                if dropped:
                    log.warning("bus: %d events not forwarded (publisher fell behind)", dropped)
                pipe = self.redis.pipeline(transaction=False)
                n = 0
                for vid, st in states.items():
                    if self.owns(vid):
                        ch = self.key("v", vid, "s")
                        pipe.publish(ch, self.auth.seal(
                            ch, {"o": self.node, "s": codec.state_to_wire(st)}))
                        sent.add(vid)
                        n += 1
                for ev in events:
                    if self.owns(ev.vehicle_id):
                        ch = self.key("v", ev.vehicle_id, "e")
                        pipe.publish(ch, self.auth.seal(
                            ch, {"o": self.node, "e": codec.event_to_wire(ev)}))
                        n += 1
                released = [v for v in removed if v in self.leases.held
                            and v not in self.leases.pending]
                for vid in removed & sent:
                    sent.discard(vid)
                    if vid in released:
                        pipe.delete(self.key("last", vid))
                    ch = self.key("v", vid, "r")
                    pipe.publish(ch, self.auth.seal(ch, {"o": self.node}))
                    n += 1
                if released:
                    # Ownership goes first, so whoever sees the removal also finds no owner.
                    try:
                        await self.leases.release(released)
                    except (RedisError, OSError) as e:
                        log.warning("bus: lease release failed (%s); it expires", e)
                if n:
                    try:
                        await pipe.execute()
                        self.published += n
                    except (RedisError, OSError) as e:
                        log.warning("bus: publish failed (%s); continuing", e)
                        await asyncio.sleep(0.5)

    async def _announce(self, link: FleetLink) -> None:
        """Keep the leases of the vehicles on the local link, and their `last` state keys.

        Every TTL/3: compare-and-extend the held leases (a lost one is reported and forgotten);
        a vehicle on the link without a lease takes it only if nobody holds it (never stolen:
        a process that merely has it configured, or that was paused, does not act beside the
        one that holds it); held leases of vehicles no longer linked are released. When Redis
        does not answer for a whole TTL, the leases count as lost here too."""
        ttl_ms = int(self.owner_ttl_s * 1000)
        while True:
            try:
                for vid in await self.leases.extend_all():
                    self._lease_lost(vid, "its link lease was lost (it expired or another "
                                          "process holds it now)")
                self.redis_ok = True
                vehicles = link.vehicles()
                linked = {v.vehicle_id for v in vehicles}
                self._refused_leases &= linked
                for v in vehicles:
                    vid = v.vehicle_id
                    if self.leases.holds(vid) or vid in self._refused_leases:
                        continue
                    token = await self.leases.acquire(vid)
                    if token is not None:
                        if self.on_lease_acquired is not None:
                            self.on_lease_acquired(vid, token)
                        continue
                    holder = await self.leases.holder(vid)
                    self._refused_leases.add(vid)
                    self._lease_lost(vid, "its link lease is held by "
                                          f"{holder.node if holder else 'another process'}")
                stray = [v for v in self.leases.held
                         if v not in linked and v not in self.leases.pending]
                if stray:
                    await self.leases.release(stray)
                pipe = self.redis.pipeline(transaction=False)
                for v in vehicles:
                    if v.attached and self.leases.holds(v.vehicle_id):
                        last = self.key("last", v.vehicle_id)
                        pipe.set(last, self.auth.seal(
                            last, {"o": self.node, "s": codec.state_to_wire(v.state)}),
                            px=ttl_ms * 10)
                await pipe.execute()
            except (RedisError, OSError) as e:
                self.redis_ok = False
                log.warning("bus: lease heartbeat failed (%s); retrying", e)
            for vid in self.leases.expired():
                self._lease_lost(vid, "its link lease could not be extended within "
                                      f"{self.owner_ttl_s:g} s (the bus is unreachable)")
            await asyncio.sleep(self.owner_ttl_s / 3)

    def _lease_lost(self, vehicle_id: int, reason: str) -> None:
        log.warning("bus: vehicle %s: %s; this process stops acting for it", vehicle_id,
                    reason, extra={"drone_id": vehicle_id, "node": self.node})
        if self.on_lease_lost is not None:
            try:
                self.on_lease_lost(vehicle_id, reason)
            except Exception:
                log.exception("bus: lease-lost callback failed")

    # -- mirroring other nodes' vehicles ----------------------------------------------------------

    async def mirror(self, hub: TelemetryHub) -> None:
        """Feed other nodes' vehicles into `hub`: the latest known states now, then live."""
        self._hub = hub
        await self._pubsub.psubscribe(self.key("v", "*"))
        try:
            keys = [k async for k in self.redis.scan_iter(match=self.key("last", "*"), count=500)]
            raws = await self.redis.mget(keys) if keys else []
            for key, raw in zip(keys, raws, strict=True):
                msg = self._open_telemetry(str(key), str(raw)) if raw else None
                if msg is not None:
                    self._on_state(msg)
        except (RedisError, OSError, ValueError) as e:
            log.warning("bus: initial mirror load failed: %s", e)
        self._spawn(self._watch_owners(hub), "bus-watch-owners")

    def _on_state(self, msg: dict[str, Any]) -> None:
        if self._hub is None or msg.get("o") == self.node:
            return
        state = codec.state_from_wire(msg["s"])
        if self.owns(state.vehicle_id):
            return
        self._remote[state.vehicle_id] = str(msg["o"])
        self._hub.publish(state)
        self.mirrored += 1

    def _on_vehicle_message(self, channel: str, data: str) -> None:
        _, vid_text, kind = channel.rsplit(":", 2)
        vid = int(vid_text)
        if self._hub is None or self.owns(vid):
            return  # our own publications come back too: skip them before parsing
        msg = self._open_telemetry(channel, data)
        if msg is None:
            return
        if kind == "s":
            self._on_state(msg)
            return
        if msg.get("o") == self.node:
            return
        if kind == "e":
            self._hub.publish_event(codec.event_from_wire(msg["e"]))
        elif kind == "r" and self._remote.get(vid) == msg.get("o"):
            del self._remote[vid]
            self._hub.remove_vehicle(vid)

    def _open_telemetry(self, channel: str, data: str) -> dict[str, Any] | None:
        """A state, event, removal or `last` key that authenticates; None (counted, logged at
        most every 10 s) for one that does not: forged positions never reach the hub."""
        try:
            return self.auth.open(channel, data, once=False)
        except (BusAuthError, ValueError) as e:
            self.refused_telemetry += 1
            now = time.monotonic()
            if now >= self._next_telemetry_warning:
                self._next_telemetry_warning = now + 10.0
                log.warning("bus: telemetry on %s dropped (%s); %d so far", channel, e,
                            self.refused_telemetry)
            return None

    async def _watch_owners(self, hub: TelemetryHub) -> None:
        """Show a mirrored vehicle as lost when its owner's key has expired (owner gone)."""
        while True:
            await asyncio.sleep(min(1.0, self.owner_ttl_s / 3))
            vids = [v for v in self._remote if not self.owns(v)]
            if not vids:
                continue
            try:
                owners = await self.redis.mget([self.key("owner", v) for v in vids])
            except (RedisError, OSError) as e:
                log.warning("bus: owner check failed: %s", e)
                continue
            now = time.time()
            for vid, owner in zip(vids, owners, strict=True):
                st = hub.latest(vid)
                if owner is None and st is not None and st.link is not LinkState.LOST:
                    reason = (f"no process holds its link lease: {self._remote[vid]} stopped "
                              "renewing it and no process that can reach this drone "
                              "(NAZORAT_LINK_REACH) has taken it over")
                    hub.publish(dataclasses.replace(st, link=LinkState.LOST, updated_at=now,
                                                    link_reason=reason))
                    hub.publish_event(make_event(
                        EventKind.LINK_LOST, vid, reason, now=now, owner=self._remote[vid]))

    # -- commands ---------------------------------------------------------------------------------

    def knows(self, vehicle_id: int) -> bool:
        """A vehicle another node links (or linked: it may be shown as lost now)."""
        return vehicle_id in self._remote

    async def owner_of(self, vehicle_id: int) -> str | None:
        holder = await self.leases.holder(vehicle_id)
        return None if holder is None else holder.node

    async def request(self, vehicle_id: int, command: str, params: dict[str, Any],
                      timeout_s: float) -> CommandResult:
        """Run `command` on the node that links `vehicle_id`; its result or its typed error."""
        try:
            holder: Holder | None = await self.leases.holder(vehicle_id)
        except (RedisError, OSError) as e:
            raise CommandFailed(command, f"the bus is unreachable: {e}") from None
        if holder is None:
            raise OwnerGone(command, f"vehicle {vehicle_id}: no live process links it (no "
                                     "link lease on the bus)")
        owner = holder.node
        cid = secrets.token_hex(8)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        try:
            # "f": the fencing token seen here; the owner acts only while it is still current.
            deadline = time.time() + PUBLISH_WINDOW_S
            req = {"id": cid, "reply": self.key("reply", self.node), "v": vehicle_id,
                   "c": command, "p": params, "t": timeout_s, "f": holder.token,
                   "pd": deadline}
            channel = self.key("cmd", owner)
            try:
                async with asyncio.timeout(PUBLISH_WINDOW_S):
                    listeners = await self.redis.publish(channel, self.auth.seal(channel, req))
            except (TimeoutError, RedisError, OSError) as e:
                # it may still reach Redis and the owner: answer once the owner refuses it
                await asyncio.sleep(max(0.0, deadline + CLOCK_SKEW_S - time.time()))
                why = (f"the bus did not take it within {PUBLISH_WINDOW_S:g} s"
                       if isinstance(e, TimeoutError) else f"the bus is unreachable: {e}")
                raise CommandFailed(command, f"{why}; not run (the owner refuses it if it "
                                             "arrives later)") from None
            if listeners == 0:
                raise OwnerGone(command, f"vehicle {vehicle_id}: its link process {owner} is "
                                         "not listening (stopped or disconnected)")
            return codec.reply_from_wire(await self._await_reply(
                fut, vehicle_id, command, owner, timeout_s + REPLY_MARGIN_S))
        finally:
            self._pending.pop(cid, None)

    async def _await_reply(self, fut: asyncio.Future[dict[str, Any]], vehicle_id: int,
                           command: str, owner: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeout(command, f"no reply from link process {owner} within "
                                              f"{timeout_s:.0f} s")
            done, _ = await asyncio.wait({fut}, timeout=min(0.5, remaining))
            if done:
                return fut.result()
            # The owner's subscription ends with its connection: a killed owner shows here
            # within half a second, long before its ownership key expires.
            with contextlib.suppress(RedisError, OSError):
                numsub = await self.redis.pubsub_numsub(self.key("cmd", owner))
                if not numsub or int(numsub[0][1]) == 0:
                    raise CommandFailed(command, f"link process {owner} went away while the "
                                                 "command was in flight; its outcome is unknown")

    async def _serve_command(self, raw: str) -> None:
        try:
            req = self.auth.open(self.key("cmd", self.node), raw)
        except (BusAuthError, ValueError) as e:
            await self._refuse(e)
            return
        name = str(req.get("c", ""))
        self._serving.add(str(req.get("id")))
        try:
            assert self._handler is not None
            late = time.time() - float(req.get("pd") or float("inf"))
            if late > 0:
                log.warning("bus: command %s for vehicle %s refused, not run: it reached this "
                            "process %.1f s after its sender's deadline (a stalled bus)",
                            name, req.get("v"), late, extra={"outcome": "refused"})
                raise CommandFailed(name, f"it reached link process {self.node} {late:.1f} s "
                                          "after its sender's deadline; not run")
            vid, token = int(req["v"]), req.get("f")
            mine = self.leases.token(vid)
            if not isinstance(token, int) or token != mine:
                raise Fenced(name, f"vehicle {vid}: the command carries fencing token {token}, "
                                   f"but {self.node} holds "
                                   f"{'no lease' if mine is None else f'token {mine}'}; not run")
            carried_token.set(token)  # this task only: the handler's fence checks it
            async with asyncio.timeout(float(req["t"])):
                result = await self._handler(vid, name, dict(req.get("p") or {}))
            reply = codec.result_to_wire(result)
        except TimeoutError:
            reply = codec.error_to_wire(CommandTimeout(name, f"no result within "
                                                             f"{float(req['t']):.0f} s"))
        except UnknownVehicle as e:
            reply = codec.error_to_wire(OwnerGone(name, f"{e} (no longer on {self.node})"))
        except CommandError as e:
            e.command = e.command or name
            reply = codec.error_to_wire(e)
        except ValueError as e:
            reply = codec.invalid_to_wire(str(e))
        except Exception as e:
            log.exception("bus: command %s failed", name)
            reply = codec.error_to_wire(CommandFailed(name, f"{type(e).__name__}: {e}"[:500]))
        finally:
            self._serving.discard(str(req.get("id")))
        await self._reply(req, reply)

    async def _refuse(self, e: ValueError) -> None:
        """Log a command that did not authenticate; it is never run. An authentic but stale one
        (clocks out of step) is answered at once so its sender does not wait for the timeout,
        unless it is a late replay of a command still running here: that one keeps its own
        answer."""
        self.refused += 1
        log.warning("bus: command refused, not run: %s", e,
                    extra={"outcome": "refused", "node": self.node})
        if isinstance(e, StaleMessage) and str(e.body.get("id")) not in self._serving:
            await self._reply(e.body, codec.error_to_wire(CommandFailed(
                str(e.body.get("c", "")), f"refused by link process {self.node}, not run: {e}")))

    async def _reply(self, req: dict[str, Any], reply: dict[str, Any]) -> None:
        reply["id"] = req.get("id")
        try:
            channel = str(req["reply"])
            await self.redis.publish(channel, self.auth.seal(channel, reply))
        except (RedisError, OSError, KeyError) as e:
            log.warning("bus: reply to %s lost: %s", req.get("reply"), e)

    def _on_reply(self, data: str) -> None:
        try:
            msg = self.auth.open(self.key("reply", self.node), data)
        except StaleMessage as e:
            # Authentic and for a request still waiting (its id is random and used once):
            # only the clocks disagree. Anything else stale is dropped.
            if str(e.body.get("id")) not in self._pending:
                self.refused += 1
                log.warning("bus: reply dropped: %s", e)
                return
            log.warning("bus: reply accepted although %s", e)
            msg = e.body
        except (BusAuthError, ValueError) as e:
            self.refused += 1
            log.warning("bus: reply dropped: %s", e)
            return
        fut = self._pending.get(str(msg.get("id")))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    # -- changes of stored objects ----------------------------------------------------------------

    async def follow_changes(self, handler: ChangesHandler) -> None:
        """Hand the changes other nodes announce to `handler` (on the event loop)."""
        self._on_changes = handler
        await self._pubsub.subscribe(self.key("changes"))

    def announce_changes(self, changes: list[tuple[str, int]], lost: int = 0) -> None:
        """Tell the other nodes these objects changed (and `lost` more, not named: more than
        MAX_NAMED_CHANGES at once become a count). Never waits: sent by a task; a failure is
        logged, and those nodes' clients catch up when they next connect."""
        if self._redis is None:
            return
        if len(changes) > MAX_NAMED_CHANGES:
            changes, lost = [], lost + len(changes)
        body = {"o": self.node, "c": [[str(k), int(i)] for k, i in changes], "lost": int(lost)}
        self._spawn(self._publish_changes(body), "bus-changes")

    async def _publish_changes(self, body: dict[str, Any]) -> None:
        ch = self.key("changes")
        try:
            await self.redis.publish(ch, self.auth.seal(ch, body))
            self.published += 1
        except (RedisError, OSError) as e:
            log.warning("bus: changes not announced (%s)", e)

    def _on_changes_message(self, channel: str, data: str) -> None:
        msg = self._open_telemetry(channel, data)  # a replay only makes nodes read again
        if msg is None or msg.get("o") == self.node or self._on_changes is None:
            return
        raw, lost = msg.get("c"), msg.get("lost", 0)
        if not isinstance(raw, list) or not isinstance(lost, int) or lost < 0 \
                or len(raw) > MAX_NAMED_CHANGES:
            raise ValueError("changes: malformed")
        changes: list[tuple[str, int]] = []
        for item in raw:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], int) and not isinstance(item[1], bool)):
                raise ValueError("changes: malformed item")
            changes.append((item[0], item[1]))
        self._on_changes(changes, lost)

    # -- the one subscriber connection ------------------------------------------------------------

    async def _listen(self) -> None:
        reply_chan = self.key("reply", self.node)
        cmd_chan = self.key("cmd", self.node)
        changes_chan = self.key("changes")
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as e:
                log.warning("bus: subscriber connection failed (%s); reconnecting", e)
                await asyncio.sleep(1.0)
                continue
            if msg is None:
                continue
            try:
                channel, data = str(msg["channel"]), str(msg["data"])
                if channel == reply_chan:
                    self._on_reply(data)
                elif channel == cmd_chan:
                    self._spawn(self._serve_command(data), "bus-command")
                elif channel == changes_chan:
                    self._on_changes_message(channel, data)
                elif msg["type"] == "pmessage":
                    self._on_vehicle_message(channel, data)
            except Exception:
                log.exception("bus: bad message on %s", msg.get("channel"))

    def stats(self) -> dict[str, Any]:
        return {"node": self.node, "published": self.published, "mirrored": self.mirrored,
                "remote_vehicles": len(self._remote), "refused": self.refused,
                "refused_telemetry": self.refused_telemetry,
                "leases": sorted(self.lease_tokens())}


def _safe_url(url: str) -> str:
    """The URL without a password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
