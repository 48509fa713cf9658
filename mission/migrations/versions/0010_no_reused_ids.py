"""Ids are never reused: SQLite tables whose ids are named elsewhere get AUTOINCREMENT.

Without AUTOINCREMENT SQLite hands out max(id) + 1, so deleting the newest drone (or rule, or
zone) gives its id to the next one: a stale owner key on the bus, an audit entry, a cached
principal or a console holding the old id then points at a different object. With
AUTOINCREMENT the largest id ever used is kept in `sqlite_sequence` and never handed out again.
PostgreSQL needs nothing: its SERIAL sequences never go back (not on delete, not on rollback).

SQLite cannot add AUTOINCREMENT to a table, so each table is rebuilt by SQLite's own procedure
(https://sqlite.org/lang_altertable.html, "other kinds of table schema changes"): the new table
from the old one's exact DDL with the key made `PRIMARY KEY AUTOINCREMENT`, rows copied, the old
one dropped, the new one renamed, and every index and trigger recreated from its stored SQL
(so nothing a later migration added is lost). Foreign keys are off while it runs and checked
before the commit (mission/migrations/__init__.py). `sqlite_sequence` starts above the largest
id found in the table *or in rows that refer to it*, so an id deleted before this migration is
not handed out again either where something still names it.

Tables: those whose ids leave the row (URLs, audit targets, bus messages, other rows):
drones, missions and their legs and targets, incidents, zones, dispatch rules and proposals,
users, sessions, integration keys. Not the append-only logs (nothing is deleted from them) nor
the high-volume records (commands, events, track points: named by nothing else).

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-06 01:40:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the (table, column) pairs that refer to its ids (to start its sequence above them)
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "drone": (("mission_leg", "drone_id"), ("commandrecord", "drone_id"),
              ("trackpoint", "drone_id"), ("eventrecord", "drone_id"),
              ("dispatch_proposal", "drone_id"), ("mission_target", "drone_id"),
              ("mission_log", "drone_id"), ("incident", "response_drone_id")),
    "patrol_mission": (("mission_leg", "mission_id"), ("mission_target", "mission_id"),
                       ("mission_log", "mission_id"), ("dispatch_proposal", "mission_id"),
                       ("incident", "response_mission_id")),
    "mission_leg": (),
    "mission_target": (),
    "incident": (("incident_status_change", "incident_id"),
                 ("dispatch_proposal", "incident_id")),
    "zone": (),
    "dispatch_rule": (("dispatch_proposal", "rule_id"),),
    "dispatch_proposal": (),
    "app_user": (("auth_session", "user_id"),),
    "auth_session": (),
    "integration_key": (),
}

_PK_CONSTRAINT = re.compile(r',\s*(CONSTRAINT\s+\S+\s+)?PRIMARY KEY\s*\(\s*"?id"?\s*\)', re.I)
_ID_COLUMN = re.compile(r'(\(\s*|,\s*)("?id"?\s+INTEGER\s+NOT\s+NULL)(?=\s*,)', re.I)


def autoincrement_ddl(create_sql: str, table: str) -> str:
    """The table's CREATE statement with `id` made `INTEGER PRIMARY KEY AUTOINCREMENT` (SQLite
    allows it only as a column constraint), for a temporary name. Raises if the DDL is not the
    shape SQLAlchemy writes (`id INTEGER NOT NULL, ..., PRIMARY KEY (id)`): better to stop than
    to guess."""
    if re.search(r"AUTOINCREMENT", create_sql, re.I):
        raise ValueError(f"{table}: already AUTOINCREMENT")
    body, n_pk = _PK_CONSTRAINT.subn("", create_sql, count=1)
    body, n_id = _ID_COLUMN.subn(r"\1\2 PRIMARY KEY AUTOINCREMENT", body, count=1)
    if n_pk != 1 or n_id != 1:
        raise ValueError(f"{table}: unexpected schema, cannot add AUTOINCREMENT: {create_sql}")
    head = re.match(r'\s*CREATE\s+TABLE\s+("?)' + re.escape(table) + r'\1', body, re.I)
    if head is None:
        raise ValueError(f"{table}: unexpected CREATE statement: {create_sql}")
    return f'CREATE TABLE "_new_{table}"' + body[head.end():]


def _rebuild(conn: sa.Connection, table: str, refs: tuple[tuple[str, str], ...],
             have: dict[str, set[str]]) -> None:
    create_sql = conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    if re.search(r"AUTOINCREMENT", create_sql, re.I):
        return
    extras = [r[0] for r in conn.execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE tbl_name = :t AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL"), {"t": table})]
    columns = ", ".join(f'"{c["name"]}"' for c in sa.inspect(conn).get_columns(table))
    conn.exec_driver_sql(autoincrement_ddl(create_sql, table))
    conn.exec_driver_sql(f'INSERT INTO "_new_{table}" ({columns}) SELECT {columns} '
                         f'FROM "{table}"')
    conn.exec_driver_sql(f'DROP TABLE "{table}"')
    conn.exec_driver_sql(f'ALTER TABLE "_new_{table}" RENAME TO "{table}"')
    for sql in extras:
        conn.exec_driver_sql(sql)
    highest = [f'SELECT MAX(id) FROM "{table}"'] + [
        f'SELECT MAX("{col}") FROM "{t}"' for t, col in refs if col in have.get(t, ())]
    seq = 0
    for q in highest:
        value = conn.exec_driver_sql(q).scalar()
        if value is not None:
            seq = max(seq, int(value))
    conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
    if seq:
        conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"),
                     {"t": table, "s": seq})


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL: SERIAL sequences are never reused
    inspector = sa.inspect(conn)
    have = {t: {c["name"] for c in inspector.get_columns(t)}
            for t in inspector.get_table_names()}
    for table, refs in TABLES.items():
        if table in have:
            _rebuild(conn, table, refs, have)


def downgrade() -> None:
    """Nothing to undo that matters: AUTOINCREMENT tables hold the same rows and columns."""
