"""Rate limits and the sign-in lockout shared through Redis (issue 13, item 3), against the local
Redis (skipped when it does not answer, as tests/test_bus.py), each test on its own key prefix:
two "replicas" (two limiters on one store) share one budget with the in-process semantics, a
reservation left by a dead replica expires, and a Redis that refuses connections or never
answers neither locks everyone out nor lifts the limits (each process enforces them alone,
counted, until Redis answers again)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from mission.auth.shared_lockout import SharedLockout
from mission.auth.throttle import Lockout
from mission.sharedlimits import Limiter, SharedStore
from test_bus import REDIS_URL

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(REDIS_URL, decode_responses=True)
    yield c
    await c.aclose()


async def test_two_replicas_share_one_bucket(prefix: str, client: aioredis.Redis) -> None:
    a = Limiter("report", 3, 60.0, SharedStore(lambda: client, prefix))
    b = Limiter("report", 3, 60.0, SharedStore(lambda: client, prefix))
    assert [await a.hit("addr:1"), await b.hit("addr:1"), await a.hit("addr:1")] == [0, 0, 0]
    wait = await b.hit("addr:1")
    assert 19.0 < wait <= 20.0, wait  # 3 a minute: the next token in 20 s, as in memory
    assert await a.hit("addr:2") == 0  # another address has its own bucket
    await a.refund("addr:1")
    assert await b.hit("addr:1") == 0 and await a.hit("addr:1") > 0
    # a per-call capacity (an intake key's own rate), as RateLimiter.hit takes it
    assert await a.hit("key:9", capacity=1, period_s=60.0) == 0
    assert await b.hit("key:9", capacity=1, period_s=60.0) > 59.0
    # nothing of the key in Redis's key names, and every bucket expires
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    assert keys and not [k for k in keys if "addr" in k or "key:9" in k]
    ttls = [await client.pttl(k) for k in keys]
    assert all(0 < t <= 61_000 for t in ttls), ttls


async def test_the_lockout_is_shared_and_a_dead_replicas_attempt_expires(
        prefix: str, client: aioredis.Redis) -> None:
    a = SharedLockout(Lockout(2, base_delay_s=1.0), SharedStore(lambda: client, prefix))
    b = SharedLockout(Lockout(2, base_delay_s=1.0), SharedStore(lambda: client, prefix))
    for side in (a, b):
        wait, held = await side.reserve("user:pilot|10.0.0.1")
        assert wait == 0 and held is not None and held.shared
        await side.settle(held, "failed")
    wait, held = await a.reserve("user:pilot|10.0.0.1")
    assert held is None and 0.9 < wait <= 1.0  # locked after 2 failures on two replicas
    wait, held = await b.reserve("user:pilot|10.0.0.2")  # the same user from elsewhere: free
    assert held is not None
    await b.settle(held, "succeeded")

    short = SharedLockout(Lockout(1), SharedStore(lambda: client, prefix), lease_s=0.3)
    _, held = await short.reserve("user:x|a")
    assert held is not None  # ... and the replica dies before settling it
    wait, again = await short.reserve("user:x|a")
    assert again is None and wait > 0  # the one free attempt is in flight
    deadline = time.monotonic() + 10
    while (await short.reserve("user:x|a"))[1] is None:
        assert time.monotonic() < deadline, "a dead replica's reservation never expired"
        await asyncio.sleep(0.05)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_redis_refusing_connections_leaves_per_process_limits() -> None:
    dead = aioredis.from_url(f"redis://127.0.0.1:{_closed_port()}/0",
                             socket_connect_timeout=1.0)
    store = SharedStore(lambda: dead, "nazorat-test-dead")
    limit = Limiter("report", 2, 3600.0, store)
    got = [await limit.hit("addr:1") for _ in range(3)]
    assert got[:2] == [0, 0] and got[2] > 0  # not open, and not locked for everyone
    assert await limit.hit("addr:2") == 0
    assert store.degraded and store.fallbacks >= 4
    lock = SharedLockout(Lockout(1), store)
    wait, held = await lock.reserve("user:p|a")
    assert held is not None and not held.shared
    await lock.settle(held, "failed")
    assert (await lock.reserve("user:p|a"))[0] > 0  # counted in this process
    await dead.aclose()


async def test_a_silent_redis_costs_one_bounded_wait_then_recovers(
        prefix: str, client: aioredis.Redis) -> None:
    """A Redis that accepts and never answers (paused): the first check waits `timeout_s`,
    the next ones do not wait while it is down, and the limits come back to Redis after it."""
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = aioredis.from_url(f"redis://127.0.0.1:{port}/0")
    use = [silent]
    store = SharedStore(lambda: use[0], prefix, timeout_s=0.3, retry_after_s=0.2)
    limit = Limiter("intake", 60, 60.0, store)
    t0 = time.monotonic()
    assert await limit.hit("key:1") == 0
    first = time.monotonic() - t0
    t1 = time.monotonic()
    assert await limit.hit("key:1") == 0
    second = time.monotonic() - t1
    assert 0.25 < first < 3.0 and second < 0.2, (first, second)
    assert store.degraded
    use[0] = client  # Redis answers again
    deadline = time.monotonic() + 10
    while store.degraded:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
        await limit.hit("key:1")
    assert [k async for k in client.scan_iter(match=f"{prefix}:limit:intake:*")]
    server.close()
    for w in accepted:
        w.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await silent.aclose()
