"""One leg under way per drone, in the database: a partial unique index on
`mission_leg(drone_id)` over the active statuses (dispatching, flying, paused, returning), on
SQLite and PostgreSQL alike. The "drone busy" check was a per-process memory; with replicas on
one database, two dispatches of the same drone from two processes could both pass it. Now the
second one's transaction fails, and the service answers 409 naming the drone.

A database where some drone already has two legs under way (the race this closes) keeps the
newest of them; the older ones are failed with a reason saying why, so the index can exist.

And `mission_leg.dispatch_until`: until when the process dispatching a leg answers for it, so
that the drone's owner (any process) can tell a dispatch still going from one whose process
died (NULL for legs dispatched before: judged as before, when a process acquires the drone).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ux_mission_leg_active_drone"
WHERE = "status IN ('dispatching', 'flying', 'paused', 'returning')"
SUPERSEDED = ("failed by migration 0009: another leg of this drone was under way at the same "
              "time (a concurrent dispatch); the newest one was kept")


def upgrade() -> None:
    bind = op.get_bind()
    # A database made by `create_all` may have the column and the index already (see 0003).
    if "dispatch_until" not in {c["name"] for c in sa.inspect(bind).get_columns("mission_leg")}:
        with op.batch_alter_table("mission_leg") as batch:
            batch.add_column(sa.Column("dispatch_until", sa.DateTime(), nullable=True))
    if INDEX in {i["name"] for i in sa.inspect(bind).get_indexes("mission_leg")}:
        return
    # Older duplicates first: the index cannot be made while a drone has two active legs.
    bind.execute(sa.text(
        f"UPDATE mission_leg SET status = 'failed', reason = :why, finished_at = :now "
        f"WHERE {WHERE} AND id < (SELECT MAX(newer.id) FROM mission_leg newer "
        f"WHERE newer.drone_id = mission_leg.drone_id AND newer.{WHERE})"),
        {"why": SUPERSEDED, "now": datetime.now(UTC).replace(tzinfo=None)})  # naive UTC
    op.create_index(INDEX, "mission_leg", ["drone_id"], unique=True,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="mission_leg")
    with op.batch_alter_table("mission_leg") as batch:
        batch.drop_column("dispatch_until")
