"""In-memory token buckets: per integration key, per address, per Telegram chat, per login.

One process holds these buckets; a restart forgets them. With a bus the runtime's limits are
shared by every replica through Redis with these same semantics (mission/sharedlimits.py),
which falls back to these buckets while Redis fails. A bucket holds `capacity` tokens and
refills `capacity` tokens every `period_s`, so it allows a burst of `capacity` and then
`capacity / period_s` a second. `hit()` answers how long to wait
(0: allowed, and a token was taken), which becomes the Retry-After of a 429.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float
    capacity: float
    rate: float  # tokens per second


class RateLimiter:
    def __init__(self, capacity: float, period_s: float, *, max_keys: int = 50_000) -> None:
        if capacity <= 0 or period_s <= 0:
            raise ValueError("capacity and period_s must be positive")
        self.capacity = float(capacity)
        self.period_s = float(period_s)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str, now: float, capacity: float | None,
                period_s: float | None) -> _Bucket:
        cap = float(capacity) if capacity is not None else self.capacity
        rate = cap / (float(period_s) if period_s is not None else self.period_s)
        b = self._buckets.get(key)
        if b is None:
            b = _Bucket(cap, now, cap, rate)
            self._buckets[key] = b
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the least recently used key
        else:
            self._buckets.move_to_end(key)
            b.tokens = min(cap, b.tokens + (now - b.at) * b.rate)
            b.at, b.capacity, b.rate = now, cap, rate
        return b

    def hit(self, key: str, *, cost: float = 1.0, capacity: float | None = None,
            period_s: float | None = None, now: float | None = None) -> float:
        """Take `cost` tokens: 0.0 when allowed, else the seconds until they are there."""
        b = self._bucket(key, time.monotonic() if now is None else now, capacity, period_s)
        if b.tokens >= cost:
            b.tokens -= cost
            return 0.0
        return (cost - b.tokens) / b.rate

    def check(self, key: str, *, cost: float = 1.0, now: float | None = None) -> float:
        """Like hit() but takes nothing."""
        b = self._bucket(key, time.monotonic() if now is None else now, None, None)
        return 0.0 if b.tokens >= cost else (cost - b.tokens) / b.rate

    def refund(self, key: str, *, cost: float = 1.0) -> None:
        """Give back tokens taken by hit() for something that turned out not to count (a
        token reserved before an expensive check that succeeded): up to the capacity."""
        b = self._buckets.get(key)
        if b is not None:
            b.tokens = min(b.capacity, b.tokens + cost)

    def reset(self, key: str) -> None:
        self._buckets.pop(key, None)


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
