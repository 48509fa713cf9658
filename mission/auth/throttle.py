"""Throttling password checks (sign-in and password change) so that abuse costs the abuser.

Three guards, all taken *before* a password is hashed, because the hash is the expensive part
(argon2id, 64 MiB and tens of milliseconds each):

- `Lockout`, per user name *and* client address: `free` failures are allowed, then every
  further failure locks that pair for a delay that doubles each time (up to `max_delay_s`).
  Attempts in flight count as failures until they end, so a burst of parallel attempts gets at
  most `free` of them evaluated. Keyed on the pair, so failures from one address never lock the
  user out from another one (the real user's).
- a per-address budget (mission/sharedlimits.py), its token taken before the check and given
  back when the password was right;
- `HashGate`: at most `limit` password hashes at once in the process; an attempt that finds the
  gate full is refused at once (429) instead of queueing, so a burst cannot pile up 64 MiB
  hashes in memory.

`Lockout` is the in-memory state of one process; with a bus the lockout and the address
budget are shared by every replica through Redis (mission/auth/shared_lockout.py), falling back
to this process's state while Redis fails.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mission.auth.shared_lockout import SharedLockout
    from mission.sharedlimits import Limiter


@dataclass
class _Entry:
    failures: int = 0
    pending: int = 0  # reserved attempts whose password is being checked
    locked_until: float = 0.0
    last: float = 0.0


class Lockout:
    """Failures per key with growing delays; `reserve()` before the check, then exactly one of
    `succeeded()`, `failed()` or `cancel()`."""

    def __init__(self, free: int, *, base_delay_s: float = 1.0, max_delay_s: float = 900.0,
                 forget_after_s: float = 900.0, max_keys: int = 50_000) -> None:
        if free < 1:
            raise ValueError("free must be at least 1")
        self.free = free
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, key: str, now: float) -> _Entry:
        e = self._entries.get(key)
        if e is None:
            e = self._entries[key] = _Entry(last=now)
            if len(self._entries) > self.max_keys:
                self._evict()
        else:
            self._entries.move_to_end(key)
            if (e.pending == 0 and now >= e.locked_until
                    and now - e.last > self.forget_after_s):
                e.failures = 0  # quiet long enough: start afresh
        return e

    def _evict(self) -> None:
        """Drop the least recently used entry that has nothing in flight."""
        for k, e in self._entries.items():
            if e.pending == 0:
                del self._entries[k]
                return

    def reserve(self, key: str, now: float | None = None) -> float:
        """0.0 and one attempt reserved, or the seconds to wait (nothing reserved)."""
        now = time.monotonic() if now is None else now
        e = self._entry(key, now)
        if now < e.locked_until:
            return e.locked_until - now
        if e.failures + e.pending >= self.free and (e.failures < self.free or e.pending > 0):
            # the free attempts are all in flight, or one late attempt already is
            return self.base_delay_s
        e.pending += 1
        e.last = now
        return 0.0

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        e = self._entry(key, now)
        e.pending = max(0, e.pending - 1)
        e.failures += 1
        e.last = now
        if e.failures >= self.free:
            delay = self.base_delay_s * 2.0 ** min(e.failures - self.free, 32)
            e.locked_until = max(e.locked_until, now + min(delay, self.max_delay_s))

    def succeeded(self, key: str) -> None:
        """Good credentials: the failures of this key are forgiven."""
        e = self._entries.get(key)
        if e is not None:
            e.pending = max(0, e.pending - 1)
            e.failures, e.locked_until = 0, 0.0

    def cancel(self, key: str) -> None:
        """The reserved attempt was never checked (refund)."""
        e = self._entries.get(key)
        if e is not None:
            e.pending = max(0, e.pending - 1)


class HashGate:
    """At most `limit` password hashes at once; `try_enter()` never waits."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.busy = 0
        self._sem = asyncio.Semaphore(limit)

    async def try_enter(self) -> bool:
        """Take a slot if one is free (the caller must `leave()`), else False at once. An
        unlocked semaphore's acquire() returns without suspending, so this never waits."""
        if self._sem.locked():
            return False
        await self._sem.acquire()
        self.busy += 1
        return True

    async def enter(self) -> None:
        """Wait for a slot (administrative hashes: creating or resetting a user)."""
        await self._sem.acquire()
        self.busy += 1

    def leave(self) -> None:
        self.busy -= 1
        self._sem.release()


class Throttled(Exception):
    """Refused before any hashing: `reason` is `locked` (too many failures for this user name
    from this address, or from this address at all) or `busy` (the gate is full)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Attempt:
    """One reserved password check; the caller says how it ended (else it is refunded)."""

    def __init__(self) -> None:
        self.outcome = "cancelled"

    def failed(self) -> None:
        self.outcome = "failed"

    def succeeded(self) -> None:
        self.outcome = "succeeded"


class PasswordGuard:
    """Everything taken before a password check: the (user, address) lockout, the address's
    budget across user names (a Limiter), and a slot at the hash gate. The first two are
    shared by every replica through Redis when there is a bus (mission/auth/shared_lockout.py,
    mission/sharedlimits.py); the gate is this process's memory and stays per process."""

    def __init__(self, lockout: SharedLockout, per_address: Limiter, gate: HashGate) -> None:
        self.lockout = lockout
        self.per_address = per_address
        self.gate = gate

    @asynccontextmanager
    async def attempt(self, who: str, address: str) -> AsyncIterator[Attempt]:
        """Reserve, check inside the block, settle on the way out; Throttled before the block
        when the attempt may not be made now."""
        key, akey = f"{who}|{address}", f"addr:{address}"
        wait, held = await self.lockout.reserve(key)
        if held is None:
            raise Throttled("locked", wait)
        wait = await self.per_address.hit(akey)
        if wait > 0:
            await self.lockout.settle(held, "cancelled")
            raise Throttled("locked", wait)
        if not await self.gate.try_enter():
            await self.lockout.settle(held, "cancelled")
            await self.per_address.refund(akey)
            raise Throttled("busy", 1.0)
        attempt = Attempt()
        try:
            yield attempt
        finally:
            self.gate.leave()
            await self.lockout.settle(held, attempt.outcome)
            if attempt.outcome != "failed":
                await self.per_address.refund(akey)
