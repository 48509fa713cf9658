"""Link leases: at most one process acts for a vehicle at a time, and proves it with a token.

The lease of vehicle `id` is the key `P:owner:{id}` holding `"{token} {node}"` with a TTL (PX).
`token` comes from `INCR P:fence:{id}`, so every new holder of a vehicle's lease has a larger
token than every earlier one (the counter is never deleted; a deleted drone's id is not
reused, issue 13 item 4). Every operation is one Lua script, atomic in Redis:

- acquire: take the key only if nobody holds it (a new token), or extend it if this node
  already holds it (its token unchanged);
- extend (compare-and-extend): push the expiry out only if the key still holds exactly our
  `"{token} {node}"`; 0 means the lease was lost (expired, maybe taken by another node);
- release: delete the key only if it is still ours (a clean stop, an unlinked vehicle);
- check (the fence): the key still holds `"{token} {node}"` *and* has at least `margin_ms` to
  live. Run right before a command goes to the vehicle: a process that was paused (GC, SIGSTOP,
  a VM migration) or cut off from Redis past its lease finds its token stale and refuses.

Why a Redis key rather than a PostgreSQL advisory lock: see telemetry/bus.py (module docstring).

A holder that cannot reach Redis cannot extend: `LeaseTable.holds()` counts its leases lost
once the TTL has passed since the last successful extend, whatever Redis says later, so a
partitioned node stops acting by itself at the same moment its key expires for everybody else.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from telemetry.errors import LinkDown

log = logging.getLogger(__name__)

# KEYS[1] lease, KEYS[2] fence counter; ARGV[1] node, ARGV[2] ttl ms.
# Returns the token held (new or ours already), or 0 when another node holds the lease.
_ACQUIRE = """
local cur = redis.call('get', KEYS[1])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  if sp and string.sub(cur, sp + 1) == ARGV[1] then
    redis.call('pexpire', KEYS[1], ARGV[2])
    return tonumber(string.sub(cur, 1, sp - 1))
  end
  return 0
end
local token = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return token
"""
# KEYS[1] lease; ARGV[1] "token node", ARGV[2] ttl ms. 1 extended, 0 not ours any more.
_EXTEND = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
           "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end")
# KEYS[1] lease; ARGV[1] "token node". 1 deleted, 0 not ours.
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")
# KEYS[1] lease; ARGV[1] "token node", ARGV[2] margin ms. {1, value} current, {0, value} not.
_CHECK = """
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] and redis.call('pttl', KEYS[1]) >= tonumber(ARGV[2]) then
  return {1, cur}
end
return {0, cur or ''}
"""

BUS_ERRORS = (RedisError, OSError)  # what an unreachable Redis raises
FENCE_MARGIN_MS = 300  # a lease about to expire is not good enough to send a command under


class Fenced(LinkDown):
    """Refused without sending: this process no longer holds the vehicle's lease (or the
    requester's fencing token is not the current one). Travels as LinkDown (link_lost)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as its key says."""

    token: int
    node: str

    @staticmethod
    def parse(value: str | bytes | None) -> Holder | None:
        if not value:
            return None
        text = value.decode() if isinstance(value, bytes) else value
        token, _, node = text.partition(" ")
        try:
            return Holder(int(token), node)
        except ValueError:
            return None  # not a lease (a forged or foreign value): treated as nobody's

    def value(self) -> str:
        return f"{self.token} {self.node}"


# The fencing token a bus command carried, set by the bus around the owner's handler so that
# `LeaseTable.fence()` checks the token the requester saw, not just this node's own.
carried_token: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "carried_token", default=None)


class LeaseTable:
    """This node's leases: which vehicles it holds and with which token, and the four scripts.
    `redis` is a callable so the table survives the bus reconnecting its client."""

    def __init__(self, redis: Callable[[], aioredis.Redis], *, prefix: str, node: str,
                 ttl_s: float) -> None:
        self._redis = redis
        self.prefix = prefix
        self.node = node
        self.ttl_ms = int(ttl_s * 1000)
        self.held: dict[int, int] = {}  # vehicle -> token
        self._good_until: dict[int, float] = {}  # vehicle -> monotonic end of the last extend
        # acquired and being linked (a takeover in progress): not released for not being linked
        self.pending: set[int] = set()

    def key(self, vehicle_id: int) -> str:
        return f"{self.prefix}:owner:{vehicle_id}"

    def fence_key(self, vehicle_id: int) -> str:
        return f"{self.prefix}:fence:{vehicle_id}"

    def holds(self, vehicle_id: int) -> bool:
        """Held, and extended within the TTL (a node cut off from Redis stops by itself)."""
        return (vehicle_id in self.held
                and time.monotonic() < self._good_until.get(vehicle_id, 0.0))

    def token(self, vehicle_id: int) -> int | None:
        return self.held.get(vehicle_id) if self.holds(vehicle_id) else None

    def _mine(self, vehicle_id: int, token: int) -> str:
        return Holder(token, self.node).value()

    async def acquire(self, vehicle_id: int) -> int | None:
        """The token if this node now holds the lease (new, or already ours), else None."""
        started = time.monotonic()
        token = int(await self._redis().eval(
            _ACQUIRE, 2, self.key(vehicle_id), self.fence_key(vehicle_id), self.node,
            self.ttl_ms))
        if token <= 0:
            return None
        self.held[vehicle_id] = token
        self._good_until[vehicle_id] = started + self.ttl_ms / 1000
        return token

    async def extend_all(self) -> list[int]:
        """Compare-and-extend every held lease (one pipeline); returns the vehicles whose lease
        was lost (forgotten here). Raises RedisError/OSError when Redis does not answer: then
        nothing is extended, and `expired()` says which ones ran out meanwhile."""
        vids = list(self.held)
        if not vids:
            return []
        started = time.monotonic()
        pipe = self._redis().pipeline(transaction=False)
        for vid in vids:
            pipe.eval(_EXTEND, 1, self.key(vid), self._mine(vid, self.held[vid]), self.ttl_ms)
        results = await pipe.execute()
        lost = []
        for vid, ok in zip(vids, results, strict=True):
            if int(ok) == 1:
                self._good_until[vid] = started + self.ttl_ms / 1000
            else:
                lost.append(vid)
                self.forget(vid)
        return lost

    def expired(self) -> list[int]:
        """Held leases not extended within the TTL (Redis unreachable): forgotten here."""
        now = time.monotonic()
        gone = [v for v in self.held if now >= self._good_until.get(v, 0.0)]
        for vid in gone:
            self.forget(vid)
        return gone

    def forget(self, vehicle_id: int) -> None:
        self.held.pop(vehicle_id, None)
        self._good_until.pop(vehicle_id, None)

    async def release(self, vehicle_ids: Iterable[int]) -> None:
        """Give up these leases (only where the key is still ours); forgotten here first, so
        nothing acts for them while Redis answers."""
        pairs = [(v, self.held[v]) for v in list(vehicle_ids) if v in self.held]
        for vid, _ in pairs:
            self.forget(vid)
        for vid, token in pairs:
            await self._redis().eval(
                _RELEASE, 1, self.key(vid), self._mine(vid, token))

    async def holder(self, vehicle_id: int) -> Holder | None:
        return Holder.parse(await self._redis().get(self.key(vehicle_id)))

    async def holders(self, vehicle_ids: list[int]) -> dict[int, Holder | None]:
        if not vehicle_ids:
            return {}
        values = await self._redis().mget([self.key(v) for v in vehicle_ids])
        return {v: Holder.parse(x) for v, x in zip(vehicle_ids, values, strict=True)}

    async def fence(self, vehicle_id: int, command: str = "") -> int:
        """Raise Fenced unless this node's lease of the vehicle is current in Redis right now
        (with FENCE_MARGIN_MS to live) under the token a bus command carried (or, for a
        command of this process, the token held here). Returns the token. Redis unreachable:
        refused too (the lease cannot be proven)."""
        token = carried_token.get()
        mine = self.token(vehicle_id)
        if mine is None:
            raise Fenced(command, f"vehicle {vehicle_id}: this process ({self.node}) no longer "
                                  "holds its link lease; not sent")
        if token is None:
            token = mine
        elif token != mine:
            raise Fenced(command, f"vehicle {vehicle_id}: fencing token {token} is stale (this "
                                  f"process holds token {mine}); not sent")
        try:
            ok, current = await self._redis().eval(
                _CHECK, 1, self.key(vehicle_id), self._mine(vehicle_id, token),
                FENCE_MARGIN_MS)
        except Exception as e:  # noqa: BLE001 - any failure means "not proven"
            raise Fenced(command, f"vehicle {vehicle_id}: its link lease cannot be checked (the "
                                  f"bus is unreachable: {type(e).__name__}); not sent") from None
        if int(ok) != 1:
            now = Holder.parse(current)
            who = ("nobody holds it now" if now is None
                   else f"it is now held by {now.node} with token {now.token}")
            if now is not None and now.token == token:
                who = "it is about to expire"
            raise Fenced(command, f"vehicle {vehicle_id}: fencing token {token} of {self.node} "
                                  f"is no longer current ({who}); not sent")
        return token
