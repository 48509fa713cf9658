"""Evidence recordings (mission/evidence/): recordings, their incidents and segments, and the
per-drone hash chain, append-only in the database like the audit log (SQLite: per-row
triggers; PostgreSQL: a statement trigger that also refuses TRUNCATE).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN = "evidence_link"


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "evidence_recording" not in have:
        op.create_table(
            "evidence_recording",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("drone_id", sa.Integer(), nullable=False),
            sa.Column("mission_id", sa.Integer(), nullable=True),
            sa.Column("incident_ids", sa.JSON(), nullable=True),
            sa.Column("operator", sa.String(length=128), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("ended_at", sa.Float(), nullable=False),
            sa.Column("width", sa.Integer(), nullable=False),
            sa.Column("height", sa.Integer(), nullable=False),
            sa.Column("segments", sa.Integer(), nullable=False),
            sa.Column("bytes", sa.BigInteger(), nullable=False),
            sa.Column("directory", sa.String(length=256), nullable=False),
            sa.Column("deleted_at", sa.Float(), nullable=True),
            sa.Column("deleted_by", sa.String(length=128), nullable=True),
            sa.Column("deletion_reason", sa.String(length=32), nullable=True),
        )
        for column in ("drone_id", "mission_id", "status", "started_at", "ended_at"):
            op.create_index(f"ix_evidence_recording_{column}", "evidence_recording", [column])
    if "evidence_recording_incident" not in have:
        op.create_table(
            "evidence_recording_incident",
            sa.Column("recording_id", sa.Integer(), primary_key=True),
            sa.Column("incident_id", sa.Integer(), primary_key=True),
        )
        op.create_index("ix_evidence_recording_incident_incident_id",
                        "evidence_recording_incident", ["incident_id"])
    if "evidence_segment" not in have:
        op.create_table(
            "evidence_segment",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("recording_id", sa.Integer(), nullable=False),
            sa.Column("drone_id", sa.Integer(), nullable=False),
            sa.Column("index", sa.Integer(), nullable=False),
            sa.Column("file", sa.String(length=64), nullable=False),
            sa.Column("sidecar", sa.String(length=64), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("sidecar_sha256", sa.String(length=64), nullable=False),
            sa.Column("bytes", sa.BigInteger(), nullable=False),
            sa.Column("frames", sa.Integer(), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("ended_at", sa.Float(), nullable=False),
            sa.Column("chain_seq", sa.Integer(), nullable=False),
        )
        op.create_index("ix_evidence_segment_recording_id", "evidence_segment",
                        ["recording_id"])
    if CHAIN not in have:
        op.create_table(
            CHAIN,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("drone_id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("prev", sa.String(length=64), nullable=False),
            sa.Column("entry_sha", sa.String(length=64), nullable=False),
            sa.Column("meta", sa.Text(), nullable=False),
            sa.Column("link", sa.String(length=64), nullable=False),
            sa.Column("recording_id", sa.Integer(), nullable=True),
            sa.Column("at", sa.Float(), nullable=False),
            sa.UniqueConstraint("drone_id", "seq", name="uq_evidence_link_drone_seq"),
        )
        op.create_index("ix_evidence_link_recording_id", CHAIN, ["recording_id"])
        _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION nazorat_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(f"CREATE TRIGGER {CHAIN}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   f"ON {CHAIN} FOR EACH STATEMENT EXECUTE FUNCTION nazorat_append_only()")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER IF NOT EXISTS {CHAIN}_no_{verb.lower()} "
                   f"BEFORE {verb} ON {CHAIN} "
                   f"BEGIN SELECT RAISE(ABORT, '{CHAIN} is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {CHAIN}_append_only ON {CHAIN}")
    op.drop_table(CHAIN)
    op.drop_table("evidence_segment")
    op.drop_table("evidence_recording_incident")
    op.drop_table("evidence_recording")
