"""Ids are never reused (issue 13, item 4): create, delete, create gives a greater id, on SQLite
(AUTOINCREMENT, migration 0010) and on PostgreSQL in its lane (sequences); and the migration
rebuilds an existing SQLite database keeping its rows, indexes and triggers, with the sequence
above ids that only rows elsewhere still name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select

from mission import migrations
from mission.auth.models import AuthSession, User
from mission.clock import utcnow
from mission.db import Database, make_engine
from mission.dispatch.models import DispatchRule
from mission.fleet.models import Drone
from mission.ids import NO_REUSED_IDS
from mission.incidents.models import Incident
from mission.missions.models import MissionLeg, PatrolMission
from mission.zones.models import Zone

pytestmark = pytest.mark.timeout(60)

M0010 = importlib.import_module("mission.migrations.versions.0010_no_reused_ids")

ROWS: dict[str, Callable[[], SQLModel]] = {
    "drone": lambda: Drone(url="tcpout://127.0.0.1:5760", name="d"),
    "patrol_mission": lambda: PatrolMission(created_by="test"),
    "incident": lambda: Incident(lat=41.3, lon=69.2, category="other", severity=3,
                                 source="operator", reported_at=utcnow()),
    "zone": lambda: Zone(name="z", kind="red", geometry={}, west=69.0, south=41.0,
                         east=69.1, north=41.1),
    "dispatch_rule": lambda: DispatchRule(name="r"),
}


def _create_delete_create(s: Session, make: Callable[[], SQLModel]) -> tuple[int, int]:
    first = make()
    s.add(first)
    s.commit()
    first_id = int(first.id)  # type: ignore[attr-defined]
    s.delete(first)
    s.commit()
    second = make()
    s.add(second)
    s.commit()
    return first_id, int(second.id)  # type: ignore[attr-defined]


@pytest.mark.nopg
def test_every_table_of_the_migration_is_declared_on_its_model() -> None:
    declared = {t.name for t in SQLModel.metadata.tables.values()
                if t.dialect_kwargs.get("sqlite_autoincrement")}
    assert declared == set(M0010.TABLES)
    assert NO_REUSED_IDS == {"sqlite_autoincrement": True}


async def test_create_delete_create_gives_a_greater_id(db: Database) -> None:
    """On the test's database (SQLite, or PostgreSQL in its lane): the newest row deleted,
    the next one does not get its id."""
    def check(s: Session) -> dict[str, tuple[int, int]]:
        return {name: _create_delete_create(s, make) for name, make in ROWS.items()}

    got = await db.run(check)
    for name, (first, second) in got.items():
        assert second > first, f"{name}: id {first} reused"

    def legs_and_sessions(s: Session) -> list[tuple[int, int]]:
        m = PatrolMission(created_by="test")
        u = User(username="u1", role="operator", password_hash="x")
        s.add_all([m, u])
        s.commit()
        assert m.id is not None and u.id is not None
        mid, uid = m.id, u.id
        return [
            _create_delete_create(s, lambda: MissionLeg(mission_id=mid, drone_id=1)),
            _create_delete_create(s, lambda: AuthSession(
                token_hash=f"h{id(object())}", user_id=uid, expires_at=m.created_at)),
        ]

    for first, second in await db.run(legs_and_sessions):
        assert second > first


def _schema(conn: Any, table: str) -> tuple[set[str], set[str]]:
    rows = conn.execute(text("SELECT type, name FROM sqlite_master WHERE tbl_name = :t AND "
                             "type IN ('index', 'trigger') AND sql IS NOT NULL"), {"t": table})
    indexes: set[str] = set()
    triggers: set[str] = set()
    for kind, name in rows:
        (indexes if kind == "index" else triggers).add(name)
    return indexes, triggers


@pytest.mark.nopg
def test_migration_rebuilds_an_existing_sqlite_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrations.upgrade(engine, M0010.down_revision)  # just before it
    with Session(engine) as s:
        s.add_all([Drone(id=1, name="a", url="tcpout://h:1"),
                   Drone(id=2, name="b", url="tcpout://h:2"),
                   PatrolMission(id=3, created_by="t")])
        s.commit()
        # drone 7 was deleted before the migration; a leg of mission 3 still names it
        s.add(MissionLeg(id=1, mission_id=3, drone_id=7))
        s.commit()
    with engine.begin() as conn:
        # a trigger a later migration might have added must survive the rebuild
        conn.execute(text("CREATE TRIGGER drone_keep AFTER INSERT ON drone BEGIN "
                          "SELECT 1; END"))
        before = {t: _schema(conn, t) for t in M0010.TABLES}
    migrations.upgrade(engine)
    with engine.connect() as conn:
        for table in M0010.TABLES:
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"),
                               {"t": table}).scalar_one()
            assert "AUTOINCREMENT" in ddl, table
            assert _schema(conn, table) == before[table], table
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        assert [r[0] for r in conn.execute(text("SELECT name FROM drone ORDER BY id"))] == [
            "a", "b"]
    with Session(engine) as s:
        drone = Drone(url="tcpout://h:3")
        mission = PatrolMission(created_by="t")
        s.add_all([drone, mission])
        s.commit()
        assert drone.id == 8  # above the deleted drone 7 that a leg still names
        assert mission.id == 4
        assert s.exec(select(MissionLeg)).one().mission_id == 3
    assert inspect(engine).get_foreign_keys("mission_leg")[0]["referred_table"] == \
        "patrol_mission"
    engine.dispose()


@pytest.mark.nopg
def test_autoincrement_ddl_refuses_an_unexpected_shape() -> None:
    ok = M0010.autoincrement_ddl(
        "CREATE TABLE drone (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(64) NOT NULL, "
        "\n\tPRIMARY KEY (id)\n)", "drone")
    assert ok.startswith('CREATE TABLE "_new_drone"')
    assert "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in ok and "PRIMARY KEY (id)" not in ok
    with pytest.raises(ValueError, match="unexpected schema"):
        M0010.autoincrement_ddl("CREATE TABLE drone (id TEXT, PRIMARY KEY (id))", "drone")
