"""Rate limits shared by every replica through Redis (the bus's), in-process without a bus.

Two replicas with per-process buckets allowed twice the limit; with a bus (NAZORAT_BUS_URL)
the buckets of the intake keys, the report page, the Telegram chats and the sign-in budget per
address live in Redis, each one a hash under `P:limit:{name}:{sha256(key)}` (P: the bus
prefix; the key is hashed so that no address or user name is stored in Redis), updated by one
Lua script so that two replicas hitting one bucket at once cannot both take its last token.
The semantics are mission/ratelimit.py's, exactly: a bucket of `capacity` refilled
`capacity` per `period_s`, `hit()` answers the wait (0: allowed, a token taken), `refund()`
gives tokens back up to the capacity. The clock is Redis's (`TIME`), so replicas with skewed
clocks share one bucket correctly. A bucket expires once it would be full again (a missing
bucket is a full one).

When Redis fails (unreachable, or silent beyond `timeout_s`), the limits fall back to this
process's own buckets (mission/ratelimit.py) for `retry_after_s` before Redis is tried again:
each replica then enforces the configured limit by itself, so during an outage N replicas allow
at most N times the limit, never unlimited, and nobody is locked out because Redis is gone. The
switch is logged as a warning (and the way back), counted (`fallbacks`) and shown in
`/api/health` (`limits`). A Redis that answers slowly costs a request at most `timeout_s`, once
per `retry_after_s`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mission.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV: capacity, rate (tokens/s), cost, mode (hit | refund).
# Returns the wait in seconds as a string (Lua numbers come back truncated to integers).
_BUCKET = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1])
if tokens == nil then
  if ARGV[4] == 'refund' then return '0' end
  tokens = cap
else
  tokens = math.min(cap, tokens + math.max(0, now - tonumber(v[2])) * rate)
end
local wait = 0
if ARGV[4] == 'refund' then
  tokens = math.min(cap, tokens + cost)
elseif tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class SharedStore:
    """Redis for the shared limits, with the fallback bookkeeping: `run()` answers a script's
    result, or None when Redis cannot be used now (the caller then uses its local state).

    `client`: the Redis client (the bus's; raising before the bus has started counts as
    unavailable); `prefix`: the bus's key prefix."""

    def __init__(self, client: Callable[[], aioredis.Redis], prefix: str, *,
                 timeout_s: float = 0.5, retry_after_s: float = 5.0) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.fallbacks = 0  # calls answered locally because Redis failed or was down
        self._down_until = 0.0
        self._down = False

    def key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    @property
    def degraded(self) -> bool:
        """Redis failed recently: limits are per process until it answers again."""
        return self._down

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any | None:
        if self._down and time.monotonic() < self._down_until:
            self.fallbacks += 1
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self.client().eval(script, len(keys), *keys, *args)
        except (RedisError, OSError, TimeoutError, RuntimeError) as e:
            self.fallbacks += 1
            self._down_until = time.monotonic() + self.retry_after_s
            if not self._down:
                self._down = True
                log.warning("shared limits: Redis failed (%s); limits are per process "
                            "(each replica enforces them alone) until it answers again",
                            type(e).__name__ if isinstance(e, TimeoutError) else e)
            return None
        if self._down:
            self._down = False
            log.warning("shared limits: Redis answers again; limits are shared")
        return result

    def stats(self) -> dict[str, Any]:
        return {"shared": True, "degraded": self.degraded, "fallbacks": self.fallbacks}


class Limiter:
    """One kind of limit (`name`: intake, report, telegram, login), shared through `store`
    when there is one, else (and while Redis fails) in this process."""

    def __init__(self, name: str, capacity: float, period_s: float,
                 store: SharedStore | None = None) -> None:
        self.name = name
        self.local = RateLimiter(capacity, period_s)
        self.store = store

    async def hit(self, key: str, *, cost: float = 1.0, capacity: float | None = None,
                  period_s: float | None = None) -> float:
        """Take `cost` tokens: 0.0 when allowed, else the seconds until they are there."""
        if self.store is not None:
            cap = float(capacity) if capacity is not None else self.local.capacity
            rate = cap / (float(period_s) if period_s is not None else self.local.period_s)
            got = await self.store.run(_BUCKET, [self._key(key)], [cap, rate, cost, "hit"])
            if got is not None:
                return float(got)
        return self.local.hit(key, cost=cost, capacity=capacity, period_s=period_s)

    async def refund(self, key: str, *, cost: float = 1.0) -> None:
        """Give back tokens taken by hit() (up to the capacity). A refund that cannot reach
        Redis is lost: the bucket refills by itself."""
        if self.store is not None:
            got = await self.store.run(
                _BUCKET, [self._key(key)],
                [self.local.capacity, self.local.capacity / self.local.period_s, cost,
                 "refund"])
            if got is not None:
                return
        self.local.refund(key, cost=cost)

    def _key(self, key: str) -> str:
        assert self.store is not None
        return self.store.key("limit", self.name, self.store.digest(key))
