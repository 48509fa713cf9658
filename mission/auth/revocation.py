"""Ended sessions are honoured by every replica within a second: a revocation on one replica is
broadcast on the bus, and the others drop their cache of checked tokens (mission/auth/service.py
keeps a checked token for CACHE_TTL_S so that a request does not cost a query; without this a
session ended on replica A was still accepted by replica B for up to that long).

The channel is `P:auth:revoked` (P: the bus prefix), each message sealed like every bus message
(telemetry/busauth.py: HMAC with the deployment's secret; a forged one is dropped and counted,
a replayed one only empties a cache once more). The message names no token: any revocation
(logout, password or role change, deactivation, deletion, key revocation) empties the whole
cache, which refills from the database, the truth, at one query per token.

Pub/sub delivers at most once, so a replica must know when it may have missed a message: it
pings Redis on its subscriber connection every `ping_s` and counts the connection as live
while an answer (pong or message) came within `fresh_s`. While it is not live the cache is not
used (every request is checked against the database); when the subscription is made again the
cache is emptied (messages may have been lost in between). So a revocation is honoured within
`fresh_s` (0.6 s) even when this replica's link to Redis fails silently.
What is not covered: the revoking replica itself unable to reach Redis (its publish fails,
logged); the others then honour it when their cached entry expires (CACHE_TTL_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from telemetry.bus import BusNode
from telemetry.busauth import BusAuthError

log = logging.getLogger(__name__)


class RevocationChannel:
    """`run()` (a task of the runtime) listens; `publish()` tells the others; `fresh` says
    whether this replica would have heard a revocation by now."""

    def __init__(self, bus: BusNode, on_revoked: Callable[[], None], *,
                 ping_s: float = 0.25, fresh_s: float = 0.6) -> None:
        self.bus = bus
        self.on_revoked = on_revoked
        self.ping_s = ping_s
        self.fresh_s = fresh_s
        self.channel = bus.key("auth", "revoked")
        self.received = 0
        self.refused = 0
        self._alive_at = float("-inf")
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._alive_at < self.fresh_s

    def publish(self) -> None:
        """Tell the other replicas (never waits: a task; a failure is logged)."""
        task = asyncio.get_running_loop().create_task(self.send(), name="auth-revoked")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self) -> bool:
        """Publish now; False (logged) when Redis could not be reached."""
        try:
            async with asyncio.timeout(3.0):
                await self.bus.redis.publish(self.channel, self.bus.auth.seal(
                    self.channel, {"o": self.bus.node}))
        except (RedisError, OSError, TimeoutError, RuntimeError) as e:
            log.warning("auth: session revocation not broadcast (%s): other replicas honour "
                        "it when their cached check expires", e or type(e).__name__)
            return False
        return True

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
            except (RedisError, OSError, RuntimeError) as e:
                self._alive_at = float("-inf")
                log.warning("auth: revocation channel failed (%s); sessions are checked "
                            "against the database until it is back", e)
            await asyncio.sleep(self.ping_s)

    async def _listen(self) -> None:
        pubsub = self.bus.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            self.on_revoked()  # anything sent while we were not subscribed is lost: start afresh
            next_ping = 0.0
            while True:
                now = time.monotonic()
                if now >= next_ping:
                    await pubsub.ping()
                    next_ping = now + self.ping_s
                msg = await pubsub.get_message(timeout=self.ping_s)
                if msg is None:
                    continue
                self._alive_at = time.monotonic()
                if msg["type"] == "message":
                    self._on_message(str(msg["data"]))
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await pubsub.aclose()

    def _on_message(self, data: str) -> None:
        try:
            msg = self.bus.auth.open(self.channel, data, once=False)
        except (BusAuthError, ValueError) as e:
            self.refused += 1
            log.warning("auth: revocation message dropped (%s)", e)
            return
        if msg.get("o") == self.bus.node:
            return  # ours: the cache was emptied when it was sent
        self.received += 1
        self.on_revoked()

    def stats(self) -> dict[str, Any]:
        return {"fresh": self.fresh, "received": self.received, "refused": self.refused}
