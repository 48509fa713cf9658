"""Incidents get their response timeline: when a dispatch including them started, when that
leg's drone took off, when it had eyes on the scene, and which drone and mission (all NULL
until known; incidents from before have none).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("response_dispatched_at", "response_airborne_at", "response_on_scene_at",
           "response_drone_id", "response_mission_id")


def upgrade() -> None:
    # A database made by `create_all` may have the columns already (see 0003).
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("incident")}
    if set(COLUMNS) <= have:
        return
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("response_dispatched_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("response_airborne_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("response_on_scene_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("response_drone_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("response_mission_id", sa.Integer(), nullable=True))
    op.create_index("ix_incident_response_dispatched_at", "incident",
                    ["response_dispatched_at"])


def downgrade() -> None:
    op.drop_index("ix_incident_response_dispatched_at", "incident")
    with op.batch_alter_table("incident") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
