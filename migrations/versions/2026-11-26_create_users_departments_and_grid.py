"""create users departments and grid

Revision ID: 87f0c39f1a12
Revises:
Create Date: 2026-11-26 06:11:51.170940+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "87f0c39f1a12"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostGIS is left installed on downgrade: it belongs to the database, not to this schema.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("code", name=op.f("uq_department_code")),
    )
    op.create_geospatial_table(
        "grid_region",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)",
            name=op.f("ck_grid_region_only_districts_lack_parent"),
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community')", name=op.f("ck_grid_region_level_known")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["grid_region.id"], name=op.f("fk_grid_region_parent_id_grid_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_region")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_region_code")),
    )
    op.create_geospatial_index(
        "idx_grid_region_geom",
        "grid_region",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_grid_region_level"), "grid_region", ["level"], unique=False)
    op.create_index(op.f("ix_grid_region_parent_id"), "grid_region", ["parent_id"], unique=False)
    op.create_table(
        "grid_revision",
        sa.Column("id", sa.Integer(), server_default="1", nullable=False),
        sa.Column("token", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_grid_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_revision")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(role = 'department') = (department_id IS NOT NULL)",
            name=op.f("ck_app_user_department_member"),
        ),
        sa.CheckConstraint(
            "role IN ('inspector', 'citizen', 'dispatcher', 'department', 'manager', 'admin')",
            name=op.f("ck_app_user_role_known"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_app_user_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_geospatial_table(
        "grid_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("area_class", sa.String(length=32), nullable=True),
        sa.Column("responsible_party", sa.String(length=200), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["grid_region.id"], name=op.f("fk_grid_cell_community_id_grid_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cell")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_cell_code")),
    )
    op.create_geospatial_index(
        "idx_grid_cell_geom",
        "grid_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_grid_cell_community_id"), "grid_cell", ["community_id"], unique=False)
    op.execute("INSERT INTO grid_revision (id) VALUES (1)")


def downgrade() -> None:
    op.drop_index(op.f("ix_grid_cell_community_id"), table_name="grid_cell")
    op.drop_geospatial_index(
        "idx_grid_cell_geom", table_name="grid_cell", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid_cell")
    op.drop_table("app_user")
    op.drop_table("grid_revision")
    op.drop_index(op.f("ix_grid_region_parent_id"), table_name="grid_region")
    op.drop_index(op.f("ix_grid_region_level"), table_name="grid_region")
    op.drop_geospatial_index(
        "idx_grid_region_geom",
        table_name="grid_region",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("grid_region")
    op.drop_table("department")
