"""add categories reports cases photos and history

Revision ID: 1d239487be59
Revises: 87f0c39f1a12
Create Date: 2026-11-26 07:08:10.671618+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# The history of a case is evidence: the database itself refuses to change or remove it,
# whatever the code (or a person with the application's credentials) tries.
APPEND_ONLY = """
CREATE FUNCTION case_transition_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case history is append-only: % refused on case_transition', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_transition_no_update_delete BEFORE UPDATE OR DELETE ON case_transition
    FOR EACH ROW EXECUTE FUNCTION case_transition_append_only();
CREATE TRIGGER case_transition_no_truncate BEFORE TRUNCATE ON case_transition
    FOR EACH STATEMENT EXECUTE FUNCTION case_transition_append_only();
"""

# Case numbers run per day (20261126-000123) from one sequence per day, made on first use: a
# sequence hands out numbers without a row lock held until commit, so intake does not queue on
# it. A number drawn by an intake that then fails stays unused (rare gaps).
CASE_NUMBERS = """
CREATE FUNCTION case_number_sequence(day date) RETURNS regclass LANGUAGE plpgsql AS $$
DECLARE
    name text := 'case_number_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', name);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another transaction made it meanwhile
        END;
    END IF;
    RETURN name::regclass;
END $$;
CREATE FUNCTION next_case_number(day date) RETURNS text LANGUAGE sql AS $$
    SELECT to_char(day, 'YYYYMMDD') || '-' || lpad(nextval(case_number_sequence(day))::text, 6, '0')
$$;
"""
DROP_CASE_NUMBERS = """
DO $$
DECLARE sequence_name text;
BEGIN
    FOR sequence_name IN SELECT relname FROM pg_class
                         WHERE relkind = 'S' AND relname ~ '^case_number_[0-9]{8}$' LOOP
        EXECUTE format('DROP SEQUENCE %I', sequence_name);
    END LOOP;
END $$;
DROP FUNCTION next_case_number(date);
DROP FUNCTION case_number_sequence(date);
"""

revision: str = "1d239487be59"
down_revision: str | None = "87f0c39f1a12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("standard", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=True),
        sa.Column("limit_hours_normal", sa.Float(), nullable=True),
        sa.Column("limit_hours_urgent", sa.Float(), nullable=True),
        sa.Column("department_type", sa.String(length=64), nullable=True),
        sa.Column("duplicate_radius_m", sa.Float(), nullable=True),
        sa.Column(
            "provenance",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('component', 'event')", name=op.f("ck_category_kind_known")),
        sa.CheckConstraint("level IN ('major', 'minor')", name=op.f("ck_category_level_known")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["category.id"], name=op.f("fk_category_parent_id_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("kind", "code", "standard", name="kind_code_standard"),
    )
    op.create_geospatial_table(
        "event_case",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=8), server_default="normal", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("suspended_from", sa.String(length=16), nullable=True),
        sa.Column("postponement_hours_requested", sa.Float(), nullable=True),
        sa.Column("postponed_hours", sa.Float(), server_default="0", nullable=False),
        sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("return_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('reported', 'filed', 'not_filed', 'dispatched', 'returned', 'accepted', 'handled', 'rework', 'suspended', 'closed', 'cancelled')",
            name=op.f("ck_event_case_status_known"),
        ),
        sa.CheckConstraint(
            "urgency IN ('normal', 'urgent')", name=op.f("ck_event_case_urgency_known")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_event_case_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_event_case_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_event_case_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["event_case.id"],
            name=op.f("fk_event_case_merged_into_id_event_case"),
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["app_user.id"], name=op.f("fk_event_case_reported_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_case")),
        sa.UniqueConstraint("number", name=op.f("uq_event_case_number")),
    )
    op.create_geospatial_index(
        "idx_event_case_geom",
        "event_case",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_event_case_category_id"), "event_case", ["category_id"], unique=False)
    op.create_index(op.f("ix_event_case_cell_id"), "event_case", ["cell_id"], unique=False)
    op.create_index(op.f("ix_event_case_created_at"), "event_case", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_event_case_department_id"), "event_case", ["department_id"], unique=False
    )
    op.create_index(
        op.f("ix_event_case_merged_into_id"), "event_case", ["merged_into_id"], unique=False
    )
    op.create_index(op.f("ix_event_case_reported_by"), "event_case", ["reported_by"], unique=False)
    op.create_index(
        "ix_event_case_status_created_at", "event_case", ["status", "created_at"], unique=False
    )
    op.create_table(
        "case_transition",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_case_transition_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_case_transition_case_id_event_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transition")),
    )
    op.create_index(
        op.f("ix_case_transition_case_id"), "case_transition", ["case_id"], unique=False
    )
    op.create_geospatial_table(
        "report",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("report_uuid", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("original_case_id", sa.BigInteger(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), server_default="app", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("input_crs", sa.String(length=32), server_default="EPSG:4326", nullable=False),
        sa.Column("snapped_m", sa.Float(), server_default="0", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_report_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["original_case_id"],
            ["event_case.id"],
            name=op.f("fk_report_original_case_id_event_case"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["app_user.id"], name=op.f("fk_report_reporter_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("report_uuid", name=op.f("uq_report_report_uuid")),
    )
    op.create_index(op.f("ix_report_case_id"), "report", ["case_id"], unique=False)
    op.create_index(op.f("ix_report_reporter_id"), "report", ["reporter_id"], unique=False)
    op.create_table(
        "case_photo",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=True),
        sa.Column("transition_id", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_case_photo_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_case_photo_report_id_report")
        ),
        sa.ForeignKeyConstraint(
            ["transition_id"],
            ["case_transition.id"],
            name=op.f("fk_case_photo_transition_id_case_transition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photo")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_case_photo_storage_key")),
    )
    op.create_index(op.f("ix_case_photo_case_id"), "case_photo", ["case_id"], unique=False)

    op.execute(APPEND_ONLY)
    op.execute(CASE_NUMBERS)


def downgrade() -> None:
    op.execute(DROP_CASE_NUMBERS)
    op.execute("DROP TRIGGER case_transition_no_truncate ON case_transition")
    op.execute("DROP TRIGGER case_transition_no_update_delete ON case_transition")
    op.execute("DROP FUNCTION case_transition_append_only()")
    op.drop_index(op.f("ix_case_photo_case_id"), table_name="case_photo")
    op.drop_table("case_photo")
    op.drop_index(op.f("ix_report_reporter_id"), table_name="report")
    op.drop_index(op.f("ix_report_case_id"), table_name="report")
    op.drop_geospatial_table("report")
    op.drop_index(op.f("ix_case_transition_case_id"), table_name="case_transition")
    op.drop_table("case_transition")
    op.drop_index("ix_event_case_status_created_at", table_name="event_case")
    op.drop_index(op.f("ix_event_case_reported_by"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_merged_into_id"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_department_id"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_created_at"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_cell_id"), table_name="event_case")
    op.drop_index(op.f("ix_event_case_category_id"), table_name="event_case")
    op.drop_geospatial_index(
        "idx_event_case_geom", table_name="event_case", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("event_case")
    op.drop_table("category")
