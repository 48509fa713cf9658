"""Alembic environment: the target is SQLModel.metadata with every model imported.

Run through mission.migrations (Database.start, `nazorat db upgrade|current`), which passes
an open connection in `config.attributes["connection"]`; `alembic -c ...` with
`sqlalchemy.url` set also works. SQLite gets batch mode (ALTER TABLE by copy)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from mission.db import make_engine
from mission.migrations import target_metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
