"""The suite hashes at a test's cost (conftest sets NAZORAT_INSECURE_FAST_PASSWORD_HASHING);
what a deployment gets, and what becomes of a cheap hash there, is checked here with the real
profile."""

from __future__ import annotations

from argon2 import PasswordHasher

from mission.auth import passwords


def test_a_cheap_hash_is_rehashed_at_the_real_cost() -> None:
    real = PasswordHasher()  # what passwords._hasher() is without the variable
    cheap = passwords.hash_password("correct horse 1")
    assert passwords.verify_password(cheap, "correct horse 1")
    assert real.check_needs_rehash(cheap)
    assert not real.check_needs_rehash(real.hash("correct horse 1"))
