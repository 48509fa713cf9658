"""Authenticated bus messages: an HMAC over the channel and the body, with a timestamp and a nonce.

Why: anyone who can reach Redis can PUBLISH. Before this, a JSON command on `P:cmd:{node}` ran
on the vehicle as if a replica had validated, checked and recorded it, and anyone could show
false positions on every replica. Every command, reply, state, event and `last` key now carries
`HMAC-SHA256(secret, channel "\\n" body)`; the body carries the sender's wall
clock (`ts`) and a random nonce (`n`). The receiver refuses (and the caller logs, never runs):

- a message without a MAC or with a wrong one (wrong secret, altered body, or a message sealed
  for another channel, i.e. another node: a command captured on its way to one node cannot be
  aimed at another);
- a message older (or newer) than `max_age_s` (a stale capture);
- a nonce seen before within that window (a replay).

Wire form: `<64 hex digits of MAC>.<compact JSON body>`. The secret is shared by every process
of one deployment (NAZORAT_BUS_SECRET); clocks must agree within `max_age_s` (NTP). To rotate it
without stopping the fleet, give every process the new secret and the old one as `previous`
(NAZORAT_BUS_SECRET_PREVIOUS), restart them one by one, then drop the old one: messages are
sealed with the current secret and accepted under either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from telemetry import buscodec as codec

MAX_AGE_S = 30.0  # clock skew plus delivery; replays inside it are caught by the nonce
MIN_SECRET_BYTES = 16


class BusAuthError(ValueError):
    """The message is not authentic, stale or replayed; the text says which (for the log)."""


class StaleMessage(BusAuthError):
    """Authentic (the MAC verifies) but outside the time window: a late replay, or clocks that
    disagree. `body` lets the receiver answer a request with a clear refusal instead of leaving
    it to time out (never run it)."""

    def __init__(self, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = body


class BusAuth:
    """Seals and opens messages for one process. Not thread-safe (one event loop)."""

    def __init__(self, secret: str | bytes, *, previous: str | bytes = b"",
                 max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.time) -> None:
        keys = [k.encode() if isinstance(k, str) else k for k in (secret, previous)]
        if len(keys[0]) < MIN_SECRET_BYTES or 0 < len(keys[1]) < MIN_SECRET_BYTES:
            raise ValueError(f"the bus secret must be at least {MIN_SECRET_BYTES} bytes")
        self._key = keys[0]
        self._keys = [k for k in keys if k]  # accepted: the current one first
        self.max_age_s = max_age_s
        self._clock = clock
        self._seen: dict[str, float] = {}  # nonce -> when it may be forgotten
        self._next_prune = 0.0

    def _mac(self, channel: str, body: str, key: bytes | None = None) -> str:
        return hmac.new(key or self._key, f"{channel}\n{body}".encode(),
                        hashlib.sha256).hexdigest()

    def seal(self, channel: str, body: dict[str, Any]) -> str:
        """`body` stamped with the time and a fresh nonce, and its MAC for `channel`."""
        text = codec.dumps({**body, "ts": self._clock(), "n": secrets.token_hex(16)})
        return f"{self._mac(channel, text)}.{text}"

    def open(self, channel: str, raw: str, *, once: bool = True) -> dict[str, Any]:
        """The body of an authentic, fresh, first-seen message on `channel`; BusAuthError
        otherwise. The MAC is checked before the body is parsed. `once=False` skips the nonce
        (latest-wins telemetry: a replay inside the window only repeats an older state, and a
        thousand states a second would fill the nonce table)."""
        mac, sep, text = raw.partition(".")
        if not sep or len(mac) != 64:
            raise BusAuthError("no MAC")
        if not any(hmac.compare_digest(mac, self._mac(channel, text, k)) for k in self._keys):
            raise BusAuthError("bad MAC (another secret, an altered body or another channel)")
        body = json.loads(text)
        ts, nonce = body.get("ts"), body.get("n")
        if not isinstance(ts, int | float) or not isinstance(nonce, str):
            raise BusAuthError("no timestamp or nonce")
        now = self._clock()
        if abs(now - ts) > self.max_age_s:
            raise StaleMessage(f"stale: sent {now - ts:.1f} s ago (window {self.max_age_s:g} s; "
                               "are the clocks of the two hosts in step?)", dict(body))
        if not once:
            return dict(body)
        self._prune(now)
        if nonce in self._seen:
            raise BusAuthError("replayed (nonce already seen)")
        self._seen[nonce] = ts + self.max_age_s
        return dict(body)

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._seen = {n: until for n, until in self._seen.items() if until >= now}
        self._next_prune = now + 1.0
