"""Mission targets get their planned time to eyes on (`eta_s`: seconds from dispatch until the
drone is on station); targets planned before it have none (NULL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by `create_all` may have the column already (see 0003).
    if "eta_s" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("mission_target")}:
        return
    with op.batch_alter_table("mission_target") as batch:
        batch.add_column(sa.Column("eta_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mission_target") as batch:
        batch.drop_column("eta_s")
