"""Alembic migrations: they make exactly the models' schema (on SQLite, and on PostgreSQL when
one is reachable), a database made by `create_all` before migrations existed is stamped and kept,
a partial unknown one is refused, the append-only triggers exist, and `nazorat db` works."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import pg_database
from cli_inprocess import command_env, run_cli
from mission import migrations
from mission.db import Database, make_engine

pytestmark = pytest.mark.timeout(120)
REPO_ROOT = Path(__file__).resolve().parents[1]
_PG_REASON = pg_database.probe()
APPEND_ONLY = ("audit_record", "incident_status_change", "mission_log")


@pytest.fixture(params=[pytest.param("sqlite", marks=pytest.mark.nopg), "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (PostgreSQL skipped when not reachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    if _PG_REASON is not None:
        pytest.skip(f"PostgreSQL not reachable: {_PG_REASON}")
    with pg_database.database() as pg_url:
        yield pg_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    e = make_engine(url)
    yield e
    e.dispose()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": True})
        return list(compare_metadata(ctx, migrations.target_metadata()))


async def test_migrations_make_the_models_schema(url: str, engine: Engine) -> None:
    db = Database(url)
    await db.start()  # upgrade head, in a worker thread
    await db.stop()
    assert migrations.current(engine) == migrations.head()
    assert schema_differences(engine) == []
    # and back down to nothing, and up again
    with engine.begin() as conn:
        command.downgrade(migrations.config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrations.upgrade(engine) == (None, migrations.head())
    assert schema_differences(engine) == []


def test_append_only_triggers(engine: Engine) -> None:
    migrations.upgrade(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_record (at, actor, action, target, outcome) "
                          "VALUES (:at, 'test', 'test.insert', '', 'ok')"), {"at": now})
    for sql in ("UPDATE audit_record SET actor = 'someone else'", "DELETE FROM audit_record"):
        with pytest.raises(DBAPIError, match="audit_record is append-only"), engine.begin() as c:
            c.execute(text(sql))
    if engine.dialect.name == "postgresql":  # statement triggers: even on empty tables
        for table in APPEND_ONLY:
            for verb in ("UPDATE {} SET actor = 'x'", "DELETE FROM {}", "TRUNCATE {}"):
                with pytest.raises(DBAPIError, match=f"{table} is append-only"), \
                        engine.begin() as c:
                    c.execute(text(verb.format(table)))
    # the evidence chain (mission/evidence): its links are never changed or removed
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO evidence_link (drone_id, seq, kind, prev, entry_sha, "
                          "meta, link, at) VALUES (1, 1, 'segment', '0', '1', '{}', '2', 0)"))
    for sql in ("UPDATE evidence_link SET kind = 'x'", "DELETE FROM evidence_link"):
        with pytest.raises(DBAPIError, match="evidence_link is append-only"), \
                engine.begin() as c:
            c.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_record")).scalar_one() == 1
        if engine.dialect.name == "sqlite":  # SQLite's triggers are per row: by name
            names = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            assert names == {f"{t}_no_{verb}" for t in (*APPEND_ONLY, "evidence_link")
                             for verb in ("update", "delete")}


async def test_database_from_before_migrations_is_stamped(url: str, engine: Engine) -> None:
    """A database made by create_all (no alembic_version) keeps its rows and is stamped."""
    SQLModel.metadata.create_all(engine, tables=[
        t for t in migrations.target_metadata().sorted_tables
        if t.name in migrations.BASELINE_TABLES])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO zone (name, kind, geometry, active, description, west, "
                          "south, east, north, created_at, updated_at) VALUES ('old', 'red', "
                          "'{}', true, '', 0, 0, 1, 1, :t, :t)"),
                     {"t": datetime(2026, 1, 1)})
    assert migrations.current(engine) is None
    db = Database(url)
    await db.start()
    await db.stop()
    assert migrations.current(engine) == migrations.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM zone")).scalars().all() == ["old"]
    assert schema_differences(engine) == []


def test_two_legs_under_way_for_one_drone_keep_the_newest(engine: Engine) -> None:
    """0009 makes one leg under way per drone a constraint; a database where a race already
    stored two keeps the newest and fails the older one, saying why."""
    migrations.upgrade(engine, "0006")
    now = datetime(2026, 12, 1)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO patrol_mission (id, name, status, objective, created_by, "
                          "created_at, updated_at, reason) VALUES (1, 'm', 'active', "
                          "'response', 't', :t, :t, '')"), {"t": now})
        for leg_id, drone, status in ((1, 7, "flying"), (2, 7, "paused"), (3, 8, "flying"),
                                      (4, 7, "completed")):
            conn.execute(text(
                "INSERT INTO mission_leg (id, mission_id, drone_id, status, altitude_m, "
                "distance_m, duration_s, battery_used_pct, current_seq, last_item_seq, "
                "revision, reason) VALUES (:i, 1, :d, :s, 0, 0, 0, 0, 0, 0, 0, '')"),
                {"i": leg_id, "d": drone, "s": status})
    migrations.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, reason FROM mission_leg ORDER BY id"))
        got = [(i, st, "migration 0009" in why) for i, st, why in rows]
    assert got == [(1, "failed", True), (2, "paused", False), (3, "flying", False),
                   (4, "completed", False)]
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE mission_leg SET status = 'flying' WHERE id = 4"))


async def test_partial_unknown_database_is_refused(url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE zone (id integer primary key, name varchar(10))"))
    db = Database(url)
    with pytest.raises(migrations.MigrationError, match="refusing"):
        await db.start()
    assert migrations.current(engine) is None


@pytest.mark.nopg  # SQLite; the same code as the PostgreSQL cases above
def test_nazorat_db_cli(tmp_path: Path) -> None:
    """`db upgrade` as a real process (the entry point); the two `db current` in this one."""
    env = command_env({"NAZORAT_DATA_DIR": str(tmp_path)})

    def db(action: str) -> subprocess.CompletedProcess[str]:
        return run_cli(["db", action], env)

    r = db("current")
    assert r.returncode == 1 and "not migrated" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "mission.cli", "db", "upgrade"], cwd=REPO_ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and f"to {migrations.head()}" in r.stdout, r.stdout + r.stderr
    assert (tmp_path / "nazorat.db").is_file()
    r = db("current")
    assert r.returncode == 0 and f"revision {migrations.head()} (head)" in r.stdout, r.stderr
