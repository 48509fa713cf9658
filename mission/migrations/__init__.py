"""Schema migrations (Alembic), for SQLite and PostgreSQL alike.

`Database.start()` calls `upgrade(engine)` in a worker thread: the database is brought to the
newest revision (`head`) before the service uses it. `nazorat db upgrade|current` does the same
from the command line.

A database made before migrations existed (tables created by `SQLModel.metadata.create_all`, no
`alembic_version` table) holds exactly the schema of the first revision (`BASELINE`): it is
stamped with that revision, then upgraded like any other. A database with only some of those
tables and no version is refused: it is not one this code made, and guessing could lose data.

New revision after a model change (then read and fix the script; see README):

    .venv/bin/alembic -c mission/migrations/alembic.ini revision --autogenerate -m "..."
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

log = logging.getLogger(__name__)
# Alembic says "Context impl ..." at every start; what changed is logged here instead.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
# The tables `create_all` made before migrations existed (= what revision 0001 creates).
BASELINE_TABLES = frozenset({
    "app_user", "audit_record", "auth_session", "commandrecord", "drone", "eventrecord",
    "incident", "incident_status_change", "integration_key", "mission_leg", "mission_log",
    "mission_target", "patrol_mission", "trackpoint", "zone",
})
_PG_LOCK_KEY = 0x6E617A6F  # "nazo": one migrating process at a time per PostgreSQL database


class MigrationError(RuntimeError):
    pass


def target_metadata() -> MetaData:
    """SQLModel.metadata with every table model imported."""
    from sqlmodel import SQLModel

    import mission.audit.models  # noqa: F401
    import mission.auth.models  # noqa: F401
    import mission.dispatch.models  # noqa: F401
    import mission.fleet.models  # noqa: F401
    import mission.incidents.models  # noqa: F401
    import mission.missions.models  # noqa: F401
    import mission.recording.models  # noqa: F401
    import mission.zones.models  # noqa: F401

    return SQLModel.metadata


def config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(config()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    """The database's revision (None: not under migrations yet, or empty)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to `revision`, stamping a pre-migration database first.
    Blocking: call from a worker thread. Returns (revision before, revision after)."""
    with _sqlite_file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        before = MigrationContext.configure(conn).get_current_revision()
        if before is None:
            _stamp_legacy(conn)
        command.upgrade(config(conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("database schema: %s -> %s", before or "empty", after)
    return before, after


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time per SQLite file (replicas or a link worker starting
    together on one file): SQLite's deferred transactions would let two of them read "no
    version" and both create the tables. An exclusive lock on `<file>.migrate-lock`."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _stamp_legacy(conn: Connection) -> None:
    tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    if not tables & BASELINE_TABLES:
        return  # an empty database (or someone else's tables only): upgrade creates ours
    missing = BASELINE_TABLES - tables
    if missing:
        raise MigrationError(
            "the database has some of Nazorat's tables but no alembic_version and lacks "
            f"{', '.join(sorted(missing))}: not a database this version made; refusing to "
            "migrate it (restore a backup or use an empty database)")
    log.warning("database made before migrations (no alembic_version): stamping revision %s",
                BASELINE)
    command.stamp(config(conn), BASELINE)
