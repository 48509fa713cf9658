"""Initial schema: exactly what SQLModel.metadata.create_all made before migrations existed.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 13:17:41.629604
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # AutoString: the type of SQLModel str columns
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers the models' `after_create` DDL made (mission/*/models.py): SQLite refuses updates
# and deletes of these tables; PostgreSQL (one statement trigger) of the audit log.
APPEND_ONLY_SQLITE = ("audit_record", "incident_status_change", "mission_log")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_app_user_username", "app_user", ["username"], unique=True)

    op.create_table(
        "audit_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=True),
        sa.Column("mission_id", sa.Integer(), nullable=True),
        sa.Column("command", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_record_action", "audit_record", ["action"], unique=False)
    op.create_index("ix_audit_record_actor", "audit_record", ["actor"], unique=False)
    op.create_index("ix_audit_record_at", "audit_record", ["at"], unique=False)
    op.create_index("ix_audit_record_drone_id", "audit_record", ["drone_id"], unique=False)
    op.create_index("ix_audit_record_mission_id", "audit_record", ["mission_id"], unique=False)

    op.create_table(
        "commandrecord",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_commandrecord_drone_id", "commandrecord", ["drone_id"], unique=False)
    op.create_index(
        "ix_commandrecord_requested_at", "commandrecord", ["requested_at"], unique=False
    )

    op.create_table(
        "drone",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("sysid", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discovered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "eventrecord",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eventrecord_drone_id", "eventrecord", ["drone_id"], unique=False)
    op.create_index("ix_eventrecord_kind", "eventrecord", ["kind"], unique=False)
    op.create_index("ix_eventrecord_t", "eventrecord", ["t"], unique=False)

    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("reporter_contact", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_category", "incident", ["category"], unique=False)
    op.create_index("ix_incident_lat", "incident", ["lat"], unique=False)
    op.create_index("ix_incident_lon", "incident", ["lon"], unique=False)
    op.create_index("ix_incident_reported_at", "incident", ["reported_at"], unique=False)
    op.create_index("ix_incident_status", "incident", ["status"], unique=False)

    op.create_table(
        "integration_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_integration_key_key_hash", "integration_key", ["key_hash"], unique=True)
    op.create_index("ix_integration_key_name", "integration_key", ["name"], unique=True)

    op.create_table(
        "patrol_mission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("objective", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_patrol_mission_status", "patrol_mission", ["status"], unique=False)

    op.create_table(
        "trackpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("alt_amsl", sa.Float(), nullable=False),
        sa.Column("alt_rel", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("ground_speed", sa.Float(), nullable=True),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trackpoint_drone_id", "trackpoint", ["drone_id"], unique=False)
    op.create_index("ix_trackpoint_t", "trackpoint", ["t"], unique=False)

    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("risk_level", sa.Integer(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("min_alt_m", sa.Float(), nullable=True),
        sa.Column("max_alt_m", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("west", sa.Float(), nullable=False),
        sa.Column("south", sa.Float(), nullable=False),
        sa.Column("east", sa.Float(), nullable=False),
        sa.Column("north", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_zone_active", "zone", ["active"], unique=False)
    op.create_index("ix_zone_kind", "zone", ["kind"], unique=False)
    op.create_index("ix_zone_name", "zone", ["name"], unique=False)

    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auth_session_expires_at", "auth_session", ["expires_at"], unique=False)
    op.create_index("ix_auth_session_token_hash", "auth_session", ["token_hash"], unique=True)
    op.create_index("ix_auth_session_user_id", "auth_session", ["user_id"], unique=False)

    op.create_table(
        "incident_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_status_change_at", "incident_status_change", ["at"], unique=False)
    op.create_index(
        "ix_incident_status_change_incident_id",
        "incident_status_change",
        ["incident_id"],
        unique=False,
    )

    op.create_table(
        "mission_leg",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("altitude_m", sa.Float(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("battery_used_pct", sa.Float(), nullable=False),
        sa.Column("current_seq", sa.Integer(), nullable=False),
        sa.Column("last_item_seq", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["patrol_mission.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mission_leg_drone_id", "mission_leg", ["drone_id"], unique=False)
    op.create_index("ix_mission_leg_mission_id", "mission_leg", ["mission_id"], unique=False)
    op.create_index("ix_mission_leg_status", "mission_leg", ["status"], unique=False)

    op.create_table(
        "mission_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("drone_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["patrol_mission.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mission_log_at", "mission_log", ["at"], unique=False)
    op.create_index("ix_mission_log_mission_id", "mission_log", ["mission_id"], unique=False)

    op.create_table(
        "mission_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("incident_ids", sa.JSON(), nullable=True),
        sa.Column("drone_id", sa.Integer(), nullable=True),
        sa.Column("first_seq", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("dropped_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("observed_at", sa.DateTime(), nullable=True),
        sa.Column("observed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["patrol_mission.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mission_target_mission_id", "mission_target", ["mission_id"], unique=False)

    # Append-only tables: the ORM refuses updates and deletes, and so does the database.
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY_SQLITE:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} "
                    f"BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_record is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON audit_record FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS audit_record_append_only()")
    op.drop_index("ix_mission_target_mission_id", table_name="mission_target")

    op.drop_table("mission_target")
    op.drop_index("ix_mission_log_mission_id", table_name="mission_log")
    op.drop_index("ix_mission_log_at", table_name="mission_log")

    op.drop_table("mission_log")
    op.drop_index("ix_mission_leg_status", table_name="mission_leg")
    op.drop_index("ix_mission_leg_mission_id", table_name="mission_leg")
    op.drop_index("ix_mission_leg_drone_id", table_name="mission_leg")

    op.drop_table("mission_leg")
    op.drop_index("ix_incident_status_change_incident_id", table_name="incident_status_change")
    op.drop_index("ix_incident_status_change_at", table_name="incident_status_change")

    op.drop_table("incident_status_change")
    op.drop_index("ix_auth_session_user_id", table_name="auth_session")
    op.drop_index("ix_auth_session_token_hash", table_name="auth_session")
    op.drop_index("ix_auth_session_expires_at", table_name="auth_session")

    op.drop_table("auth_session")
    op.drop_index("ix_zone_name", table_name="zone")
    op.drop_index("ix_zone_kind", table_name="zone")
    op.drop_index("ix_zone_active", table_name="zone")

    op.drop_table("zone")
    op.drop_index("ix_trackpoint_t", table_name="trackpoint")
    op.drop_index("ix_trackpoint_drone_id", table_name="trackpoint")

    op.drop_table("trackpoint")
    op.drop_index("ix_patrol_mission_status", table_name="patrol_mission")

    op.drop_table("patrol_mission")
    op.drop_index("ix_integration_key_name", table_name="integration_key")
    op.drop_index("ix_integration_key_key_hash", table_name="integration_key")

    op.drop_table("integration_key")
    op.drop_index("ix_incident_status", table_name="incident")
    op.drop_index("ix_incident_reported_at", table_name="incident")
    op.drop_index("ix_incident_lon", table_name="incident")
    op.drop_index("ix_incident_lat", table_name="incident")
    op.drop_index("ix_incident_category", table_name="incident")

    op.drop_table("incident")
    op.drop_index("ix_eventrecord_t", table_name="eventrecord")
    op.drop_index("ix_eventrecord_kind", table_name="eventrecord")
    op.drop_index("ix_eventrecord_drone_id", table_name="eventrecord")

    op.drop_table("eventrecord")
    op.drop_table("drone")
    op.drop_index("ix_commandrecord_requested_at", table_name="commandrecord")
    op.drop_index("ix_commandrecord_drone_id", table_name="commandrecord")

    op.drop_table("commandrecord")
    op.drop_index("ix_audit_record_mission_id", table_name="audit_record")
    op.drop_index("ix_audit_record_drone_id", table_name="audit_record")
    op.drop_index("ix_audit_record_at", table_name="audit_record")
    op.drop_index("ix_audit_record_actor", table_name="audit_record")
    op.drop_index("ix_audit_record_action", table_name="audit_record")

    op.drop_table("audit_record")
    op.drop_index("ix_app_user_username", table_name="app_user")

    op.drop_table("app_user")
