"""Throw-away PostgreSQL databases for the PostgreSQL lane of the suite.

`NAZORAT_TEST_DATABASE=postgresql` (set by `make test` when PostgreSQL answers) makes every
service the tests start use its own fresh database, `nazorat_t_<random>`, created with the
server's admin user (`NAZORAT_TEST_PG_URL`, default postgresql://postgres@127.0.0.1:5432/postgres)
and dropped when the service is finally stopped; whatever is left at exit (a crash, Ctrl-C) is
dropped by an atexit handler.

`python tests/pg_database.py` is the probe `make test` uses: exit 0 when the server answers and
lets the admin user in, else 1 with the reason on stdout.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

ADMIN_URL = os.environ.get("NAZORAT_TEST_PG_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "nazorat_t_"
_created: set[str] = set()


def enabled() -> bool:
    return os.environ.get("NAZORAT_TEST_DATABASE", "sqlite").lower() in ("postgresql", "pg")


def _connect(timeout: int = 5) -> psycopg.Connection[tuple[object, ...]]:
    import psycopg

    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=timeout)


def sqlalchemy_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=dbname)
    return url.render_as_string(hide_password=False)


def create() -> str:
    """A fresh empty database; returns its SQLAlchemy URL."""
    name = PREFIX + secrets.token_hex(6)
    with _connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _created.add(name)
    return sqlalchemy_url(name)


def drop(url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    if not name.startswith(PREFIX):
        raise ValueError(f"not a test database: {name!r}")
    with _connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _created.discard(name)


@contextlib.contextmanager
def database() -> Iterator[str]:
    url = create()
    try:
        yield url
    finally:
        drop(url)


@atexit.register
def _drop_leftovers() -> None:
    for name in list(_created):
        with contextlib.suppress(Exception):
            drop(sqlalchemy_url(name))


def _where() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_URL)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def probe() -> str | None:
    """None when PostgreSQL answers and lets the admin user in, else why not."""
    try:
        with _connect(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # noqa: BLE001 - any failure means: no PostgreSQL lane
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return first
    return None


if __name__ == "__main__":
    reason = probe()
    if reason is not None:
        print(f"PostgreSQL lane skipped: PostgreSQL at {_where()} not reachable ({reason})")
        sys.exit(1)
    sys.exit(0)
