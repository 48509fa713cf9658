"""The sign-in lockout (mission/auth/throttle.py `Lockout`) shared by every replica through
Redis, with the same semantics: `free` failures per user name and address, then waits that
double (up to `max_delay_s`), forgotten after `forget_after_s` quiet; attempts in flight count
as failures until they end.

In Redis a key is a hash `P:lockout:{sha256(key)}` (failures, locked_until, last) and a sorted
set `...:p` of the attempts in flight, each with a lease (`lease_s`, far longer than a password
check): a replica that dies mid-check leaves a reservation that expires, never a pair locked
for good. Each step is one Lua script on Redis's clock. While Redis fails the process's own
`Lockout` answers (mission/sharedlimits.py: per process, logged, counted), and an attempt is
settled where it was reserved.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mission.auth.throttle import Lockout
from mission.sharedlimits import SharedStore

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.17g', x) end
local free, base, maxd, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local pending = redis.call('ZCARD', KEYS[2])
local v = redis.call('HMGET', KEYS[1], 'failures', 'locked_until', 'last')
local failures = tonumber(v[1]) or 0
local locked = tonumber(v[2]) or 0
local last = tonumber(v[3]) or now
if pending == 0 and now >= locked and now - last > forget then failures = 0 end
local function save()
  redis.call('HSET', KEYS[1], 'failures', failures, 'locked_until', fmt(locked),
             'last', fmt(last))
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(locked, now) - now + forget) * 1000)
             + 1000)
end
"""

# ARGV: free, base_delay, max_delay, forget_after, lease, token -> the wait ('0': reserved)
_RESERVE = _NOW + """
if now < locked then return fmt(locked - now) end
if failures + pending >= free and (failures < free or pending > 0) then return fmt(base) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[6])
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[5]) * 1000))
last = now
save()
return '0'
"""

# ARGV: free, base_delay, max_delay, forget_after, outcome, token
_SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[6])
""" + _NOW + """
if ARGV[5] == 'succeeded' then
  failures, locked = 0, 0
elseif ARGV[5] == 'failed' then
  failures = failures + 1
  last = now
  if failures >= free then
    local delay = base * 2 ^ math.min(failures - free, 32)
    locked = math.max(locked, now + math.min(delay, maxd))
  end
else
  return '0'
end
save()
return '0'
"""


@dataclass(frozen=True)
class Held:
    """One reserved attempt: where it was reserved (Redis, or this process's Lockout)."""

    key: str
    token: str
    shared: bool


class SharedLockout:
    """`reserve()` before the check, then `settle(held, outcome)` with exactly one of
    `failed`, `succeeded`, `cancelled`."""

    def __init__(self, local: Lockout, store: SharedStore | None = None, *,
                 lease_s: float = 120.0) -> None:
        self.local = local
        self.store = store
        self.lease_s = lease_s

    def _args(self) -> list[float]:
        lock = self.local
        return [lock.free, lock.base_delay_s, lock.max_delay_s, lock.forget_after_s]

    def _keys(self, key: str) -> list[str]:
        assert self.store is not None
        k = self.store.key("lockout", self.store.digest(key))
        return [k, f"{k}:p"]

    async def reserve(self, key: str) -> tuple[float, Held | None]:
        """(0.0, the attempt reserved) or (seconds to wait, None)."""
        if self.store is not None:
            token = secrets.token_hex(8)
            got = await self.store.run(_RESERVE, self._keys(key),
                                       [*self._args(), self.lease_s, token])
            if got is not None:
                wait = float(got)
                return (wait, None) if wait > 0 else (0.0, Held(key, token, True))
        wait = self.local.reserve(key)
        return (wait, None) if wait > 0 else (0.0, Held(key, "", False))

    async def settle(self, held: Held, outcome: str) -> None:
        if held.shared and self.store is not None:
            got = await self.store.run(_SETTLE, self._keys(held.key),
                                       [*self._args(), outcome, held.token])
            if got is not None:
                return
            # Redis went away mid-attempt: its reservation expires there; a failure is
            # still counted here, so a burst during an outage is not free.
            if outcome == "failed":
                self.local.failed(held.key)
            return
        if outcome == "failed":
            self.local.failed(held.key)
        elif outcome == "succeeded":
            self.local.succeeded(held.key)
        else:
            self.local.cancel(held.key)
