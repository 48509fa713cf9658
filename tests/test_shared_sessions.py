"""Two replicas on one database and one Redis (issue 13, item 3): two in-process runtimes in
this test's event loop (tests/inprocess.py), each with its own bus node, on the local Redis
with a key prefix of their own (skipped when Redis does not answer, as tests/test_bus.py).

- a session ended on replica A is refused by replica B within a second (before: up to the
  5 s of B's cache of checked tokens);
- a replica whose revocation channel is not live does not answer from that cache;
- the report page's budget and the sign-in lockout are one for both replicas (before: each
  replica allowed the whole limit).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from inprocess import InProcess, in_process
from mission.auth.models import AuthSession
from mission.cli import _create_admin
from mission.clock import utcnow
from test_bus import BUS_SECRET, REDIS_URL, _redis_reason

pytestmark = pytest.mark.timeout(120)

TG_SECRET = "tg-" + secrets.token_hex(8)
REPORT = {"lat": 39.77, "lon": 64.42, "category": "theft", "description": "bike taken",
          "website": ""}


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[InProcess, InProcess]]:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"nazorat-test-{secrets.token_hex(4)}"
    shared: dict[str, Any] = {"bus_url": REDIS_URL, "bus_secret": BUS_SECRET, "bus_prefix": prefix,
              "report_per_hour": 2.0, "login_max_failures": 3, "telegram_secret": TG_SECRET}
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    try:
        async with in_process(tmp_path / "a", url, shard="a", **shared) as a, \
                in_process(tmp_path / "b", url, after=a, shard="b", **shared) as b:
            for svc in (a, b):  # each hears the other before the test starts
                await svc.until(partial(_live, svc), 10.0, "revocation channel live")
            yield a, b
    finally:
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            r.delete(*keys)


def _live(svc: InProcess) -> bool:
    channel = svc.runtime.revocations
    return channel is not None and channel.fresh


def _anon(svc: InProcess) -> httpx.AsyncClient:
    """A client with no credentials (the public pages, sign-in, a token given per request)."""
    return httpx.AsyncClient(transport=svc._transport, base_url="http://nazorat.test",
                             timeout=30.0)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sign_in(svc: InProcess, name: str, password: str) -> str:
    async with _anon(svc) as c:
        r = await c.post("/api/auth/login", json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token


async def test_two_replicas_share_revocations_and_limits(
        replicas: tuple[InProcess, InProcess]) -> None:
    """One pair of runtimes (starting two costs seconds) for the three findings, in order."""
    a, b = replicas
    await _ended_on_a_is_refused_by_b_within_a_second(a, b)
    await _report_budget_and_sign_in_lockout_are_one(a, b)
    await _a_telegram_redelivery_to_the_other_replica_is_stored_once(a, b)
    await _a_password_reset_from_the_cli_reaches_the_replicas(a, b)
    await _a_replica_that_may_have_missed_a_revocation_asks_the_database(a, b)


async def _ended_on_a_is_refused_by_b_within_a_second(a: InProcess, b: InProcess) -> None:
    await a.sign_in("operator")
    token = await _sign_in(a, "operator-test", a.passwords["operator-test"])
    async with _anon(b) as cb, _anon(a) as ca:
        assert (await cb.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        assert b.runtime.auth._cache  # B answers this token from its cache now
        r = await ca.post("/api/auth/logout", headers=_bearer(token))
        assert r.status_code == 204
        ended = time.monotonic()
        while (status := (await cb.get("/api/auth/me", headers=_bearer(token))).status_code) \
                == 200:
            assert time.monotonic() - ended < 1.0, "replica B still accepts the ended session"
            await asyncio.sleep(0.02)
        assert status == 401
    channel = b.runtime.revocations
    assert channel is not None and channel.received >= 1


async def _a_replica_that_may_have_missed_a_revocation_asks_the_database(
        a: InProcess, b: InProcess) -> None:
    """B's subscription stops (a silent network failure): its cache is no longer used, so a
    session ended with no message at all (here: straight in the database) is refused."""
    await a.sign_in("commander")
    token = await _sign_in(a, "commander-test", a.passwords["commander-test"])
    async with _anon(b) as cb:
        assert (await cb.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        task = next(t for t in b.runtime._tasks if t.get_name() == "auth-revocations")
        task.cancel()
        channel = b.runtime.revocations
        assert channel is not None
        await b.until(lambda: not channel.fresh, 5.0, "B's channel seen as not live")

        def end_all(s: object) -> None:
            from sqlmodel import Session, col, select

            assert isinstance(s, Session)
            for row in s.exec(select(AuthSession).where(col(AuthSession.revoked_at).is_(None))):
                row.revoked_at, row.revoked_reason = utcnow(), "test"
                s.add(row)

        await b.runtime.db.run(end_all)
        assert (await cb.get("/api/auth/me", headers=_bearer(token))).status_code == 401


async def _report_budget_and_sign_in_lockout_are_one(a: InProcess, b: InProcess) -> None:
    async with _anon(a) as ca, _anon(b) as cb:
        codes = [(await c.post("/api/intake/report", json=REPORT)).status_code
                 for c in (ca, cb, ca, cb)]
        assert codes == [202, 202, 429, 429], codes  # 2 an hour per address, both replicas
        await a.sign_in("operator", "pilot")
        wrong = {"username": "pilot", "password": "not the password"}
        codes = [(await c.post("/api/auth/login", json=wrong)).status_code
                 for c in (ca, cb, ca, cb)]
        assert codes == [401, 401, 401, 429], codes  # 3 failures in all, then locked
        right = {"username": "pilot", "password": a.passwords["pilot"]}
        assert (await ca.post("/api/auth/login", json=right)).status_code == 429
    health = await _health(b)
    assert health["limits"] == {"shared": True, "degraded": False, "fallbacks": 0}


async def _a_telegram_redelivery_to_the_other_replica_is_stored_once(
        a: InProcess, b: InProcess) -> None:
    update = {"update_id": 4242, "message": {
        "message_id": 1, "date": 1_700_000_000, "chat": {"id": 5551, "type": "private"},
        "location": {"latitude": 40.38, "longitude": 71.78}}}
    hdr = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    async with _anon(a) as ca, _anon(b) as cb:
        first = (await ca.post("/api/intake/telegram", json=update, headers=hdr)).json()
        again = (await cb.post("/api/intake/telegram", json=update, headers=hdr)).json()
    assert first["incident_id"] and again["incident_id"] is None, (first, again)
    assert again["ignored"] == "duplicate update"


async def _a_password_reset_from_the_cli_reaches_the_replicas(
        a: InProcess, b: InProcess) -> None:
    """`nazorat create-admin NAME --reset` (its own process, with the deployment's bus) ends
    the user's sessions; the replicas stop accepting them at once, not after 5 s."""
    await a.sign_in("operator", "cli-user")
    token = await _sign_in(a, "cli-user", a.passwords["cli-user"])
    async with _anon(b) as cb:
        assert (await cb.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        await _create_admin(b.runtime.settings, "cli-user", secrets.token_urlsafe(16),
                            reset=True)
        ended = time.monotonic()
        while (await cb.get("/api/auth/me", headers=_bearer(token))).status_code == 200:
            assert time.monotonic() - ended < 1.0, "replica B still accepts the ended session"
            await asyncio.sleep(0.02)


async def _health(svc: InProcess) -> dict[str, object]:
    async with svc.http() as c:
        r = await c.get("/api/health")
        assert r.status_code == 200
        body: dict[str, object] = r.json()
        return body
