"""Auto-dispatch rules and the proposals their `propose` action makes (mission/dispatch/).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "dispatch_rule" not in have:
        op.create_table(
            "dispatch_rule",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(length=128), nullable=False),
            sa.Column("categories", sa.JSON(), nullable=True),
            sa.Column("min_severity", sa.Integer(), nullable=False),
            sa.Column("sources", sa.JSON(), nullable=True),
            sa.Column("zone_ids", sa.JSON(), nullable=True),
            sa.Column("action", sa.String(length=16), nullable=False),
            sa.Column("confirm_s", sa.Float(), nullable=False),
            sa.Column("on_timeout", sa.String(length=16), nullable=False),
            sa.Column("enabled", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        )
    if "dispatch_proposal" not in have:
        op.create_table(
            "dispatch_proposal",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("rule_id", sa.Integer(), nullable=False),
            sa.Column("incident_id", sa.Integer(), nullable=False),
            sa.Column("mission_id", sa.Integer(), nullable=False),
            sa.Column("drone_id", sa.Integer(), nullable=False),
            sa.Column("eta_s", sa.Float(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("on_timeout", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
            sa.Column("decided_at", sa.DateTime(), nullable=True),
            sa.Column("decided_by", sa.String(length=128), nullable=True),
            sa.Column("reason", sa.String(length=1000), nullable=False),
        )
        op.create_index("ix_dispatch_proposal_rule_id", "dispatch_proposal", ["rule_id"])
        op.create_index("ix_dispatch_proposal_incident_id", "dispatch_proposal",
                        ["incident_id"])
        op.create_index("ix_dispatch_proposal_status", "dispatch_proposal", ["status"])
        op.create_index("ix_dispatch_proposal_expires_at", "dispatch_proposal",
                        ["expires_at"])


def downgrade() -> None:
    op.drop_table("dispatch_proposal")
    op.drop_table("dispatch_rule")
