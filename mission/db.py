"""Database engine and sessions (SQLModel on SQLAlchemy), safe to use from async code.

SQLAlchemy's sync API is used from worker threads: `Database.run(fn)` calls `fn(session)` in a
thread (anyio's pool, bounded by a per-database limiter), commits, and returns the result, so no
blocking database call ever runs on the event loop. SQLite is the default (WAL mode, so readers
do not block the recorder's writes); PostgreSQL works by DATABASE_URL
(`postgresql+psycopg://...`; install the `psycopg` driver).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

T = TypeVar("T")


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
        """Create the engine and the tables (models must be imported before this)."""
        await anyio.to_thread.run_sync(self._start_sync)

    def _start_sync(self) -> None:
        url = make_url(self.url)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        for attempt in range(3):
            try:
                SQLModel.metadata.create_all(engine)
                break
            except DBAPIError:
                # Several processes on one database starting together (replicas, link workers):
                # between create_all's check and its CREATE another one made the table. The
                # next pass skips what exists.
                if attempt == 2:
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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
