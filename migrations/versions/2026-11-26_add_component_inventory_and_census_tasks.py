"""Add the component inventory (部件普查): components, their change history, imports and census
tasks; the case's matched component; the component behind a routing decision; per-category
match radius.

Revision ID: 897dde234f7f
Revises: 65ea8ca1b311
Create Date: 2026-11-26 11:50:24.718426+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "897dde234f7f"
down_revision: str | None = "65ea8ca1b311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "component_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("source_crs", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_component_import_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component_import")),
    )
    op.create_geospatial_table(
        "component",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=17), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="in_use", nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("owner_department_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_department_id", sa.Integer(), nullable=True),
        sa.Column("maintainer_department_id", sa.Integer(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("import_id", sa.Integer(), nullable=True),
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
        sa.CheckConstraint(
            "code ~ '^[0-9]{16,17}$'", name=op.f("ck_component_code_16_or_17_digits")
        ),
        sa.CheckConstraint(
            "status IN ('in_use', 'damaged', 'removed')", name=op.f("ck_component_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_component_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_component_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["component_import.id"],
            name=op.f("fk_component_import_id_component_import"),
        ),
        sa.ForeignKeyConstraint(
            ["maintainer_department_id"],
            ["department.id"],
            name=op.f("fk_component_maintainer_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_department_id"],
            ["department.id"],
            name=op.f("fk_component_owner_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_department_id"],
            ["department.id"],
            name=op.f("fk_component_supervisor_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component")),
        sa.UniqueConstraint("code", name=op.f("uq_component_code")),
    )
    op.create_geospatial_index(
        "idx_component_geom",
        "component",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_component_category_id"), "component", ["category_id"], unique=False)
    op.create_index(op.f("ix_component_cell_id"), "component", ["cell_id"], unique=False)
    op.create_index(
        op.f("ix_component_maintainer_department_id"),
        "component",
        ["maintainer_department_id"],
        unique=False,
    )
    op.create_table(
        "component_change",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["app_user.id"], name=op.f("fk_component_change_changed_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["component.id"],
            name=op.f("fk_component_change_component_id_component"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["component_import.id"],
            name=op.f("fk_component_change_import_id_component_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component_change")),
    )
    op.create_index(
        op.f("ix_component_change_component_id"), "component_change", ["component_id"], unique=False
    )
    op.create_geospatial_table(
        "census_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
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
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("component_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'dismissed')", name=op.f("ck_census_task_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_census_task_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_census_task_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["component.id"], name=op.f("fk_census_task_component_id_component")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_census_task_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_census_task")),
    )
    op.create_index(op.f("ix_census_task_case_id"), "census_task", ["case_id"], unique=False)
    op.add_column("category", sa.Column("component_radius_m", sa.Float(), nullable=True))
    op.add_column("event_case", sa.Column("component_id", sa.BigInteger(), nullable=True))
    op.add_column("event_case", sa.Column("component_distance_m", sa.Float(), nullable=True))
    op.add_column("event_case", sa.Column("component_match", sa.String(length=16), nullable=True))
    op.create_index(
        op.f("ix_event_case_component_id"), "event_case", ["component_id"], unique=False
    )
    op.create_foreign_key(
        op.f("fk_event_case_component_id_component"),
        "event_case",
        "component",
        ["component_id"],
        ["id"],
    )
    op.add_column("routing_decision", sa.Column("component_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_routing_decision_component_id_component"),
        "routing_decision",
        "component",
        ["component_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_routing_decision_component_id_component"), "routing_decision", type_="foreignkey"
    )
    op.drop_column("routing_decision", "component_id")
    op.drop_constraint(
        op.f("fk_event_case_component_id_component"), "event_case", type_="foreignkey"
    )
    op.drop_index(op.f("ix_event_case_component_id"), table_name="event_case")
    op.drop_column("event_case", "component_match")
    op.drop_column("event_case", "component_distance_m")
    op.drop_column("event_case", "component_id")
    op.drop_column("category", "component_radius_m")
    op.drop_index(op.f("ix_census_task_case_id"), table_name="census_task")
    op.drop_geospatial_table("census_task")
    op.drop_index(op.f("ix_component_change_component_id"), table_name="component_change")
    op.drop_table("component_change")
    op.drop_index(op.f("ix_component_maintainer_department_id"), table_name="component")
    op.drop_index(op.f("ix_component_cell_id"), table_name="component")
    op.drop_index(op.f("ix_component_category_id"), table_name="component")
    op.drop_geospatial_index(
        "idx_component_geom", table_name="component", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("component")
    op.drop_table("component_import")
