"""add dispatch rules calendars assignments escalation and webhooks

Revision ID: 237a65c1ba55
Revises: 1d239487be59
Create Date: 2026-11-26 09:05:30.859625+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# The calendar every department uses until it is given its own.
DEFAULT_CALENDAR = """
INSERT INTO work_calendar (code, name, periods, weekdays)
VALUES ('default', 'Working days 08:30-12:00 and 13:30-17:30, official holidays',
        '[["08:30", "12:00"], ["13:30", "17:30"]]', '[1, 2, 3, 4, 5]')
"""
# Cases filed and dispatched before this revision keep what their history says: the filing time
# from the history, and their current dispatch as an assignment (evaluation counts assignments).
BACKFILL_FILED_AT = """
UPDATE event_case c SET filed_at = t.at
FROM (SELECT case_id, min(at) AS at FROM case_transition WHERE action = 'file' GROUP BY case_id) t
WHERE t.case_id = c.id
"""
BACKFILL_ASSIGNMENTS = """
INSERT INTO case_assignment (case_id, department_id, dispatched_at, due_at, handled_at,
                             rework_count, postponed_hours, ended_at, end_reason)
SELECT id, department_id, dispatched_at, due_at, handled_at, rework_count, postponed_hours,
       CASE WHEN status IN ('closed', 'cancelled') THEN coalesce(closed_at, updated_at) END,
       CASE WHEN status IN ('closed', 'cancelled') THEN status END
FROM event_case
WHERE department_id IS NOT NULL AND dispatched_at IS NOT NULL
"""

revision: str = "237a65c1ba55"
down_revision: str | None = "1d239487be59"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "time_zone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False
        ),
        sa.Column("periods", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("weekdays", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("official_holidays", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_calendar")),
        sa.UniqueConstraint("code", name=op.f("uq_work_calendar_code")),
    )
    op.create_table(
        "calendar_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["work_calendar.id"],
            name=op.f("fk_calendar_day_calendar_id_work_calendar"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_calendar_day_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_day")),
        sa.UniqueConstraint("calendar_id", "day", name="one_override_per_day"),
    )
    op.create_index(
        op.f("ix_calendar_day_calendar_id"), "calendar_day", ["calendar_id"], unique=False
    )
    op.create_table(
        "department_supervisor",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_department_supervisor_department_id_department"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_department_supervisor_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("department_id", "user_id", name=op.f("pk_department_supervisor")),
    )
    op.create_table(
        "rule_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "auto_dispatch",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "escalation",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_rule_set_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_set")),
        sa.UniqueConstraint("version", name=op.f("uq_rule_set_version")),
    )
    op.create_index(
        op.f("ix_rule_set_effective_from"), "rule_set", ["effective_from"], unique=False
    )
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column(
            "event_kinds",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_webhook_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    op.create_geospatial_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_set_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("category_level", sa.String(length=8), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("urgency", sa.String(length=8), nullable=True),
        sa.Column("area_kind", sa.String(length=16), nullable=False),
        sa.Column("area_region_id", sa.Integer(), nullable=True),
        sa.Column("area_cell_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "area_geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "area_kind IN ('cell', 'cells', 'community', 'street', 'district', 'polygon', 'citywide')",
            name=op.f("ck_routing_rule_area_kind_known"),
        ),
        sa.CheckConstraint(
            "category_level IN ('minor', 'major', 'any')",
            name=op.f("ck_routing_rule_category_level_known"),
        ),
        sa.CheckConstraint(
            "urgency IS NULL OR urgency IN ('normal', 'urgent')",
            name=op.f("ck_routing_rule_urgency_known"),
        ),
        sa.ForeignKeyConstraint(
            ["area_region_id"],
            ["grid_region.id"],
            name=op.f("fk_routing_rule_area_region_id_grid_region"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_routing_rule_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_routing_rule_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_set_id"],
            ["rule_set.id"],
            name=op.f("fk_routing_rule_rule_set_id_rule_set"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
        sa.UniqueConstraint("rule_set_id", "ordinal", name="one_rule_per_ordinal"),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_webhook_delivery_delivery_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook.id"],
            name=op.f("fk_webhook_delivery_webhook_id_webhook"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("webhook_id", "event_id", name="one_delivery_per_event"),
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "routing_rule_key",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_set_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("area_key", sa.BigInteger(), nullable=False),
        sa.Column("category_key", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=True),
        sa.Column("partial", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["routing_rule.id"],
            name=op.f("fk_routing_rule_key_rule_id_routing_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_set_id"],
            ["rule_set.id"],
            name=op.f("fk_routing_rule_key_rule_set_id_rule_set"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule_key")),
    )
    op.create_index(
        "ix_routing_rule_key_lookup",
        "routing_rule_key",
        ["rule_set_id", "area_key", "category_key"],
        unique=False,
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
    )
    op.create_index(
        op.f("ix_webhook_attempt_delivery_id"), "webhook_attempt", ["delivery_id"], unique=False
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column(
            "body",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_notification_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_notification_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        "ix_notification_user_created", "notification", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "routing_lookup",
        sa.Column("rule_set_id", sa.Integer(), nullable=False),
        sa.Column("lookup_key", sa.BigInteger(), nullable=False),
        sa.Column("normal_ordinal", sa.Integer(), nullable=True),
        sa.Column("urgent_ordinal", sa.Integer(), nullable=True),
        sa.Column("partial_ordinals", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_set_id"],
            ["rule_set.id"],
            name=op.f("fk_routing_lookup_rule_set_id_rule_set"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_set_id", "lookup_key", name=op.f("pk_routing_lookup")),
    )
    op.create_table(
        "routing_decision",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_set_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("auto_dispatch", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_routing_decision_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_routing_decision_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["routing_rule.id"], name=op.f("fk_routing_decision_rule_id_routing_rule")
        ),
        sa.ForeignKeyConstraint(
            ["rule_set_id"], ["rule_set.id"], name=op.f("fk_routing_decision_rule_set_id_rule_set")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decision")),
    )
    op.create_index(
        op.f("ix_routing_decision_case_id"), "routing_decision", ["case_id"], unique=False
    )
    op.create_table(
        "case_assignment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("routing_decision_id", sa.BigInteger(), nullable=True),
        sa.Column("dispatched_by", sa.Integer(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limit_hours", sa.Float(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_provisional", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handling_hours", sa.Float(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("postponement_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("postponed_hours", sa.Float(), server_default="0", nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_hours", sa.Float(), server_default="0", nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_case_assignment_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_case_assignment_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["dispatched_by"],
            ["app_user.id"],
            name=op.f("fk_case_assignment_dispatched_by_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["routing_decision_id"],
            ["routing_decision.id"],
            name=op.f("fk_case_assignment_routing_decision_id_routing_decision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assignment")),
    )
    op.create_index(
        op.f("ix_case_assignment_case_id"), "case_assignment", ["case_id"], unique=False
    )
    op.create_index(
        "ix_case_assignment_current",
        "case_assignment",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_case_assignment_department_dispatched",
        "case_assignment",
        ["department_id", "dispatched_at"],
        unique=False,
    )
    op.create_index(
        "ix_case_assignment_dispatched_at", "case_assignment", ["dispatched_at"], unique=False
    )
    op.create_index(
        "ix_case_assignment_open_warn_at",
        "case_assignment",
        ["warn_at"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NULL AND handled_at IS NULL"),
    )
    op.create_table(
        "escalation",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("assignment_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("threshold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["case_assignment.id"],
            name=op.f("fk_escalation_assignment_id_case_assignment"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_escalation_case_id_event_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint("assignment_id", "step", name="once_per_step"),
    )
    op.create_index(op.f("ix_escalation_case_id"), "escalation", ["case_id"], unique=False)
    op.add_column("department", sa.Column("contact", sa.Text(), nullable=True))
    op.add_column("department", sa.Column("calendar_id", sa.Integer(), nullable=True))
    op.add_column(
        "department", sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False)
    )
    op.create_foreign_key(
        op.f("fk_department_calendar_id_work_calendar"),
        "department",
        "work_calendar",
        ["calendar_id"],
        ["id"],
    )
    op.add_column("event_case", sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("event_case", sa.Column("rule_set_id", sa.Integer(), nullable=True))
    op.add_column("event_case", sa.Column("routing_rule_id", sa.Integer(), nullable=True))
    op.add_column("event_case", sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "event_case",
        sa.Column("due_provisional", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "event_case", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(op.f("ix_event_case_closed_at"), "event_case", ["closed_at"], unique=False)
    op.create_index(op.f("ix_event_case_filed_at"), "event_case", ["filed_at"], unique=False)
    op.create_foreign_key(
        op.f("fk_event_case_rule_set_id_rule_set"),
        "event_case",
        "rule_set",
        ["rule_set_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_event_case_routing_rule_id_routing_rule"),
        "event_case",
        "routing_rule",
        ["routing_rule_id"],
        ["id"],
    )
    op.execute(DEFAULT_CALENDAR)
    op.execute(BACKFILL_FILED_AT)
    op.execute(BACKFILL_ASSIGNMENTS)


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_event_case_routing_rule_id_routing_rule"), "event_case", type_="foreignkey"
    )
    op.drop_constraint(op.f("fk_event_case_rule_set_id_rule_set"), "event_case", type_="foreignkey")
    op.drop_index(op.f("ix_event_case_filed_at"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_closed_at"), table_name="event_case")
    op.drop_column("event_case", "suspended_at")
    op.drop_column("event_case", "due_provisional")
    op.drop_column("event_case", "warn_at")
    op.drop_column("event_case", "routing_rule_id")
    op.drop_column("event_case", "rule_set_id")
    op.drop_column("event_case", "filed_at")
    op.drop_constraint(
        op.f("fk_department_calendar_id_work_calendar"), "department", type_="foreignkey"
    )
    op.drop_column("department", "is_active")
    op.drop_column("department", "calendar_id")
    op.drop_column("department", "contact")
    op.drop_index(op.f("ix_escalation_case_id"), table_name="escalation")
    op.drop_table("escalation")
    op.drop_index(
        "ix_case_assignment_open_warn_at",
        table_name="case_assignment",
        postgresql_where=sa.text("ended_at IS NULL AND handled_at IS NULL"),
    )
    op.drop_index("ix_case_assignment_dispatched_at", table_name="case_assignment")
    op.drop_index("ix_case_assignment_department_dispatched", table_name="case_assignment")
    op.drop_index(
        "ix_case_assignment_current",
        table_name="case_assignment",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_index(op.f("ix_case_assignment_case_id"), table_name="case_assignment")
    op.drop_table("case_assignment")
    op.drop_index(op.f("ix_routing_decision_case_id"), table_name="routing_decision")
    op.drop_table("routing_decision")
    op.drop_table("routing_lookup")
    op.drop_index("ix_notification_user_created", table_name="notification")
    op.drop_table("notification")
    op.drop_index(op.f("ix_webhook_attempt_delivery_id"), table_name="webhook_attempt")
    op.drop_table("webhook_attempt")
    op.drop_index("ix_routing_rule_key_lookup", table_name="routing_rule_key")
    op.drop_table("routing_rule_key")
    op.drop_index(
        "ix_webhook_delivery_due",
        table_name="webhook_delivery",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("webhook_delivery")
    op.drop_geospatial_table("routing_rule")
    op.drop_table("webhook")
    op.drop_index(op.f("ix_rule_set_effective_from"), table_name="rule_set")
    op.drop_table("rule_set")
    op.drop_table("department_supervisor")
    op.drop_index(op.f("ix_calendar_day_calendar_id"), table_name="calendar_day")
    op.drop_table("calendar_day")
    op.drop_table("work_calendar")
