"""Database engine and sessions (SQLModel on SQLAlchemy), safe to use from async code.

SQLAlchemy's sync API is used from worker threads: `Database.run(fn)` calls `fn(session)` in a
thread (anyio's pool, bounded by a per-database limiter), commits, and returns the result, so no
blocking database call ever runs on the event loop. SQLite is the default (WAL mode, so readers
do not block the recorder's writes); PostgreSQL works by DATABASE_URL
(`postgresql+psycopg://user@host/db`, the `psycopg` driver is a dependency).

The schema is managed by Alembic (mission/migrations): `start()` upgrades the database to the
newest revision before anything uses it, in a worker thread, like every other database call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from mission import migrations
from mission.owneronly import private_file

T = TypeVar("T")

# Integer columns, row ids included, are 32-bit on PostgreSQL: a larger value in a query is an
# error there ("integer out of range"), not an empty result as on SQLite. Inputs that name a row
# are bounded by this, and a bound beyond it ("ids below N") means no bound.
MAX_ID = 2**31 - 1


class Database:
    """Owns the engine. `start()`/`stop()` are called by the app's lifespan."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # SQLite allows one writer at a time; more threads would only queue inside SQLite.
        self._limiter = anyio.CapacityLimiter(4 if self.is_sqlite else 16)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("database not started")
        return self._engine

    async def start(self) -> None:
        """Create the engine and bring the schema to the newest migration (`upgrade head`;
        a database made before migrations existed is stamped first, see mission.migrations)."""
        await anyio.to_thread.run_sync(self._start_sync)

    def _start_sync(self) -> None:
        engine = make_engine(self.url)
        try:
            migrations.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        self._engine = engine

    async def stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await anyio.to_thread.run_sync(engine.dispose)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in a worker thread inside one transaction; commit on success."""
        return await anyio.to_thread.run_sync(self.run_sync, fn, limiter=self._limiter)

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        with Session(self.engine, expire_on_commit=False) as session:
            result = fn(session)
            session.commit()
            return result


def make_engine(url: str) -> Engine:
    """The engine for `url` with this project's settings (SQLite: WAL, foreign keys, a file
    created owner-only in a directory created owner-only, mission/owneronly.py; others:
    pre-ping). Creates no table."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:" \
                and not parsed.database.startswith("file:"):
            private_file(Path(parsed.database))
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
