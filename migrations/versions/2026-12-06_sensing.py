"""Sensing: devices, readings (partitioned by month from the start), rule state, HTTP alarm
sources, alarms and the cases devices filed.

sensing_reading is PARTITIONED BY RANGE (at): monthly partitions from 2026-11 to 2027-12 and a
DEFAULT partition, so no reading is ever refused; migration 2026-12-06_pg_partman
(c1a0e5a19002) hands the table to pg_partman, which makes the months after these.

Revision ID: c1a0e5a18001
Revises: c1a0e5a17004
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c1a0e5a18001"
down_revision: str | None = "c1a0e5a17004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_MONTH = (2026, 11)
MONTHS = 14  # 2026-11 … 2027-12
OUTCOMES = (
    "'filed', 'folded', 'review', 'confirmed', 'rejected', 'damped', 'maintenance', "
    "'attached', 'unattached', 'unfiled'"
)


def _months() -> list[tuple[str, str, str]]:
    year, month = FIRST_MONTH
    out = []
    for _ in range(MONTHS):
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        out.append(
            (
                f"sensing_reading_p{year:04d}_{month:02d}",
                f"{year:04d}-{month:02d}-01",
                f"{next_year:04d}-{next_month:02d}-01",
            )
        )
        year, month = next_year, next_month
    return out


def upgrade() -> None:
    op.create_table(
        "sensing_device",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4326, from_text="ST_GeomFromEWKT", name="geometry"
            ),
            nullable=False,
        ),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("component_id", sa.BigInteger(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column(
            "thresholds",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("hold_s", sa.Float(), nullable=True),
        sa.Column("heartbeat_s", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('active', 'maintenance', 'retired')",
            name=op.f("ck_sensing_device_status_known"),
        ),
        sa.CheckConstraint(
            "hold_s IS NULL OR hold_s >= 0", name=op.f("ck_sensing_device_hold_not_negative")
        ),
        sa.CheckConstraint(
            "heartbeat_s IS NULL OR heartbeat_s > 0",
            name=op.f("ck_sensing_device_heartbeat_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_sensing_device_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_sensing_device_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["component.id"],
            name=op.f("fk_sensing_device_component_id_component"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensing_device")),
    )
    op.create_index(op.f("ix_sensing_device_cell_id"), "sensing_device", ["cell_id"])
    op.create_index(op.f("ix_sensing_device_component_id"), "sensing_device", ["component_id"])
    op.create_index(op.f("ix_sensing_device_device_type"), "sensing_device", ["device_type"])

    op.create_table(
        "sensing_reading",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "body",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('telemetry', 'alarm', 'heartbeat')",
            name=op.f("ck_sensing_reading_kind_known"),
        ),
        sa.PrimaryKeyConstraint("device_id", "message_id", "at", name=op.f("pk_sensing_reading")),
        postgresql_partition_by="RANGE (at)",
    )
    for name, start, end in _months():
        op.execute(
            f"CREATE TABLE {name} PARTITION OF sensing_reading "
            f"FOR VALUES FROM ('{start} 00:00+08') TO ('{end} 00:00+08')"
        )
    op.execute("CREATE TABLE sensing_reading_default PARTITION OF sensing_reading DEFAULT")

    op.create_table(
        "sensing_rule_state",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["sensing_device.id"],
            name=op.f("fk_sensing_rule_state_device_id_sensing_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_sensing_rule_state")),
    )

    op.create_table(
        "sensing_source",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("confidence_threshold", sa.Float(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "confidence_threshold >= 0 AND confidence_threshold <= 1",
            name=op.f("ck_sensing_source_threshold_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensing_source")),
        sa.UniqueConstraint("code", name=op.f("uq_sensing_source_code")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_sensing_source_key_hash")),
    )

    op.create_table(
        "sensing_alarm",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("algorithm", sa.String(length=64), nullable=True),
        sa.Column("algorithm_version", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("bbox", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("snapshot_key", sa.Uuid(), nullable=True),
        sa.Column("snapshot_type", sa.String(length=32), nullable=True),
        sa.Column("snapshot_size", sa.Integer(), nullable=True),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("report_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('alarm', 'recovery', 'offline', 'online')",
            name=op.f("ck_sensing_alarm_kind_known"),
        ),
        sa.CheckConstraint(f"outcome IN ({OUTCOMES})", name=op.f("ck_sensing_alarm_outcome_known")),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
            name=op.f("ck_sensing_alarm_confidence_range"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_sensing_alarm_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["sensing_device.id"],
            name=op.f("fk_sensing_alarm_device_id_sensing_device"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_sensing_alarm_report_id_report")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["app_user.id"], name=op.f("fk_sensing_alarm_reviewed_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sensing_source.id"],
            name=op.f("fk_sensing_alarm_source_id_sensing_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensing_alarm")),
    )
    op.create_index(op.f("ix_sensing_alarm_case_id"), "sensing_alarm", ["case_id"])
    op.create_index("ix_sensing_alarm_device_at", "sensing_alarm", ["device_id", "at"])
    op.create_index(
        "ix_sensing_alarm_review",
        "sensing_alarm",
        ["id"],
        postgresql_where=sa.text("outcome = 'review'"),
    )
    op.create_index(
        "ux_sensing_alarm_device_message",
        "sensing_alarm",
        ["device_id", "message_id"],
        unique=True,
        postgresql_where=sa.text("source_id IS NULL"),
    )
    op.create_index(
        "ux_sensing_alarm_source_message",
        "sensing_alarm",
        ["source_id", "message_id"],
        unique=True,
        postgresql_where=sa.text("source_id IS NOT NULL"),
    )

    op.create_table(
        "sensing_case",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("alarm_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_alarm_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alarm_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redetection", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification", sa.String(length=16), nullable=True),
        sa.Column("verification_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "reason IN ('alarm', 'offline')", name=op.f("ck_sensing_case_reason_known")
        ),
        sa.CheckConstraint(
            "verification IS NULL OR verification IN ('pending', 'passed', 'failed')",
            name=op.f("ck_sensing_case_verification_known"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_sensing_case_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["sensing_device.id"],
            name=op.f("fk_sensing_case_device_id_sensing_device"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_sensing_case")),
    )
    op.create_index("ix_sensing_case_device_reason", "sensing_case", ["device_id", "reason"])


def downgrade() -> None:
    op.drop_table("sensing_case")
    op.drop_table("sensing_alarm")
    op.drop_table("sensing_source")
    op.drop_table("sensing_rule_state")
    op.drop_table("sensing_reading")  # its partitions go with it
    op.drop_table("sensing_device")
