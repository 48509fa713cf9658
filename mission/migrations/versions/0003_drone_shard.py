"""Drones get a link shard (which process links them when several share a bus; "" is the
default shard, so existing drones keep being linked as before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString: the type of SQLModel str columns
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by `create_all` before migrations existed may have the column already
    # (it is stamped 0001 from its tables); then there is nothing to add.
    if "shard" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("drone")}:
        return
    with op.batch_alter_table("drone") as batch:
        batch.add_column(sa.Column("shard", sqlmodel.sql.sqltypes.AutoString(length=64),
                                   nullable=False, server_default=sa.text("''")))
        batch.create_index("ix_drone_shard", ["shard"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("drone") as batch:
        batch.drop_index("ix_drone_shard")
        batch.drop_column("shard")
