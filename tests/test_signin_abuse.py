"""Sign-in under abuse (issue 10, deliverable 2): one regression test per finding, against the
AuthService on a real database (no HTTP: the address is what the route would pass).

- a burst of parallel wrong passwords was all evaluated (the limit was checked before and
  charged after the hash);
- a burst of sign-ins ran every 64 MiB argon2 hash at once (memory unbounded);
- failures from one address locked the user out from every address;
- the own-password change was not throttled.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from mission.auth import service as auth_service
from mission.auth.models import Role, UserCreate
from mission.auth.service import AuthService, Principal, Refused
from mission.auth.throttle import Lockout
from mission.db import Database

pytestmark = pytest.mark.timeout(120)

PASSWORD = "the right password"


@pytest.fixture
async def auth(database_url: str) -> AsyncIterator[AuthService]:
    db = Database(database_url)
    await db.start()
    svc = AuthService(db, login_failures=10, max_hashes=2)
    await svc.create_user(UserCreate(username="pilot", password=PASSWORD, role=Role.OPERATOR),
                          actor="test")
    try:
        yield svc
    finally:
        await db.stop()


async def outcome(coro: object) -> int:
    """The HTTP status a sign-in would answer: 200, or the Refused's status."""
    try:
        await coro  # type: ignore[misc]
    except Refused as e:
        return e.status
    return 200


async def test_parallel_wrong_passwords_all_checked(
        auth: AuthService) -> None:
    """60 parallel wrong passwords for one user were all checked (the limit was checked before
    and charged after the hash): now at most the limit are."""
    roomy = AuthService(auth.db, login_failures=3, max_hashes=3)  # the limit, not the gate
    got = Counter(await asyncio.gather(*(
        outcome(roomy.login("pilot", f"wrong {i}", address="10.0.0.1")) for i in range(60))))
    assert got[401] == 3 and got[429] == 57, got  # before: 60 x 401


async def test_burst_of_sign_ins_hashes_all_at_once(
        auth: AuthService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt ran its 64 MiB argon2 hash at once (1.9 GiB resident for a burst): now at
    most `max_hashes` do, the rest are refused at once."""
    running, peak, lock = 0, 0, threading.Lock()
    real = auth_service.verify_password

    def counting(stored: str | None, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return real(stored, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(auth_service, "verify_password", counting)
    got = Counter(await asyncio.gather(*(
        outcome(auth.login(f"nobody-{i}", "whatever pw", address=f"10.1.{i}.1"))
        for i in range(40))))
    assert peak <= 2, peak  # max_hashes=2; before: every attempt hashed at once
    assert got[429] > 0 and got[401] + got[429] == 40, got


async def test_one_address_locks_the_user_out_everywhere(
        auth: AuthService) -> None:
    """12 wrong passwords from one address locked the real user out from every address."""
    for i in range(12):
        await outcome(auth.login("pilot", f"wrong {i}", address="203.0.113.9"))
    assert await outcome(auth.login("pilot", PASSWORD, address="203.0.113.9")) == 429
    # the real user, from their own address: before, 429 for 89 s
    assert await outcome(auth.login("pilot", PASSWORD, address="10.0.0.7")) == 200


async def test_password_change_not_throttled(auth: AuthService) -> None:
    """A stolen session could guess the current password without limit."""
    user = (await auth.list_users())[0]
    p = Principal("user", user.id, user.username, user.role)
    codes = [await outcome(auth.change_password(p, f"guess {i}", "a new password 1",
                                                address="10.0.0.8")) for i in range(12)]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429], codes  # before: all 403
    assert await outcome(auth.change_password(p, PASSWORD, "a new password 1",
                                              address="10.0.0.8")) == 429
    assert await outcome(auth.change_password(p, PASSWORD, "a new password 1",
                                              address="10.0.0.9")) == 200


def test_lockout_delays_grow_and_are_forgotten_after_quiet() -> None:
    lock = Lockout(3, base_delay_s=1.0, max_delay_s=60.0, forget_after_s=900.0)
    waits = []
    t = 0.0
    for _ in range(7):
        assert lock.reserve("k", now=t) == 0.0
        lock.failed("k", now=t)
        waits.append(lock.reserve("k", now=t))
        if waits[-1] == 0.0:
            lock.cancel("k")  # only looking
        t += waits[-1]
    assert waits[:2] == [0.0, 0.0] and waits[2:] == [1.0, 2.0, 4.0, 8.0, 16.0], waits
    assert lock.reserve("k", now=t + 2000) == 0.0  # a quiet quarter of an hour: afresh
    lock.failed("k", now=t + 2000)
    assert lock.reserve("k", now=t + 2000) == 0.0


def test_a_cancelled_attempt_is_refunded() -> None:
    lock = Lockout(1)
    assert lock.reserve("k", now=0) == 0.0
    assert lock.reserve("k", now=0) > 0  # the one free attempt is in flight
    lock.cancel("k")
    assert lock.reserve("k", now=0) == 0.0
