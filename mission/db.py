"""Database engine and sessions (SQLModel on SQLAlchemy), safe to use from async code.

SQLAlchemy's sync API is used from worker threads: `Database.run(fn)` calls `fn(session)` in a
thread (anyio's pool, bounded by a per-database limiter), commits, and returns the result, so no
blocking database call ever runs on the event loop. SQLite is the default (WAL mode, so readers
do not block the recorder's writes); PostgreSQL works by DATABASE_URL
(`postgresql+psycopg://user@host/db`, the `psycopg` driver is a dependency).

Committed changes (mission/live/changes.py): `watch(Model, kind, key)` names the rows whose
changes are announced; every flush inside `run` notes the (kind, key) of each such row it
inserted, changed or deleted, and only once the transaction has committed are they handed to
the `on_commit` listeners, on the event loop. A transaction that raises (rolled back) or whose
commit fails hands over nothing: a change that did not happen is never announced. No writer
calls anything for this, so nothing that writes those rows can forget it.

The schema is managed by Alembic (mission/migrations): `start()` upgrades the database to the
newest revision before anything uses it, in a worker thread, like every other database call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine

from mission import migrations
from mission.owneronly import private_file

T = TypeVar("T")

# Integer columns, row ids included, are 32-bit on PostgreSQL: a larger value in a query is an
# error there ("integer out of range"), not an empty result as on SQLite. Inputs that name a row
# are bounded by this, and a bound beyond it ("ids below N") means no bound.
MAX_ID = 2**31 - 1

# (kind, key) of a changed object, e.g. ("mission", 3)
Change = tuple[str, int]
ChangeListener = Callable[[set[Change]], None]
_CHANGES = "nazorat.changes"


class Database:
    """Owns the engine. `start()`/`stop()` are called by the app's lifespan."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # SQLite allows one writer at a time; more threads would only queue inside SQLite.
        self._limiter = anyio.CapacityLimiter(4 if self.is_sqlite else 16)
        self._watched: dict[type, tuple[str, Callable[[Any], int | None]]] = {}
        self._listeners: list[ChangeListener] = []
        self._sessions = sessionmaker(class_=Session, expire_on_commit=False)
        event.listen(self._sessions, "after_flush", self._note_flush)

    def watch(self, model: type, kind: str, key: Callable[[Any], int | None]) -> None:
        """Announce committed inserts, updates and deletes of `model` rows as (kind, key(row))
        (key None: not announced). Call before the first `run` that may write such rows."""
        self._watched[model] = (kind, key)

    def on_commit(self, listener: ChangeListener) -> None:
        """Call `listener(changes)` on the event loop after each committed `run` that changed
        watched rows. It must not block or raise (an exception is the caller's)."""
        self._listeners.append(listener)

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
        """Run `fn(session)` in a worker thread inside one transaction; commit on success.
        The watched rows it changed are handed to the listeners on this event loop, scheduled
        by the thread right after the commit: also when the caller was cancelled meanwhile."""
        loop = asyncio.get_running_loop()
        return await anyio.to_thread.run_sync(self._run_noting, fn, loop, limiter=self._limiter)

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        """`run` for callers that are not on the event loop (the CLI): changes it commits are
        not announced (no listener runs on a worker thread)."""
        return self._run_noting(fn, None)

    def _run_noting(self, fn: Callable[[Session], T],
                    loop: asyncio.AbstractEventLoop | None) -> T:
        with self._sessions(bind=self.engine) as session:
            changes: set[Change] = set()
            if self._watched and loop is not None:
                session.info[_CHANGES] = changes
            result = fn(session)
            session.commit()
        if changes and loop is not None and self._listeners:
            # a loop closed meanwhile (shutdown) has nobody left to tell: the commit stands
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._hand_over, changes)
        return result

    def _hand_over(self, changes: set[Change]) -> None:
        for listener in self._listeners:
            listener(changes)

    def _note_flush(self, session: Session, _context: Any) -> None:
        """after_flush: the flushed rows still list as new/dirty/deleted, with their ids."""
        changes: set[Change] | None = session.info.get(_CHANGES)
        if changes is None:
            return
        watched = self._watched
        for row in (*session.new, *session.deleted):
            self._note(changes, watched.get(type(row)), row)
        for row in session.dirty:
            spec = watched.get(type(row))
            if spec is not None and session.is_modified(row):
                self._note(changes, spec, row)

    @staticmethod
    def _note(changes: set[Change],
              spec: tuple[str, Callable[[Any], int | None]] | None, row: Any) -> None:
        if spec is not None:
            key = spec[1](row)
            if key is not None:
                changes.add((spec[0], key))


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
