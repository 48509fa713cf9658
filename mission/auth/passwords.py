"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile).

Hashing and verifying take tens of milliseconds of CPU on purpose: callers run them in a worker
thread. `verify` of an unknown user still hashes (against a dummy hash), so the answer time does
not tell whether a username exists.

`NAZORAT_INSECURE_FAST_PASSWORD_HASHING=1` (the test suite sets it, as Django's test settings
swap in a fast hasher) keeps argon2id but at 1 pass over 1 MiB: the suite signs users in and
out hundreds of times, and at the real cost that was tens of seconds of its CPU. A deployment
must never set it; the service logs a warning when it is set, and a hash made with it is
rehashed at the real cost on the next sign-in without it (`needs_rehash`).
"""

from __future__ import annotations

import functools
import os
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

FAST_HASHING_ENV = "NAZORAT_INSECURE_FAST_PASSWORD_HASHING"


def insecure_fast_hashing() -> bool:
    return os.environ.get(FAST_HASHING_ENV) == "1"


@functools.cache
def _hasher() -> PasswordHasher:
    """Chosen at the first hash (not at import), once per process."""
    if insecure_fast_hashing():
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Made on first use, not at import: a hash costs ~0.3 s of CPU, and every process that
    imports the service (CLI commands, link workers, each test worker) paid it at start."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; for a missing user pass None (same cost, False)."""
    try:
        return _hasher().verify(stored_hash or _dummy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def generate_password(length: int = 20) -> str:
    """A random password for the first admin of a simulated run (letters and digits only, so
    it can be copied from a terminal without quoting)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
