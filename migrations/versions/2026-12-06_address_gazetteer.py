"""Address gazetteer (places) for the hotline's address matcher.

Table `place`: standard addresses and points of interest per district, each with its point, the
grid cell it lies in, and its normal form (grid/places/addresses.py). `search_key` is a stored
column computed by `place_search_key`, which spells every non-ASCII character as three letters
(its code point in base 26) so that pg_trgm indexes Chinese whatever the database's LC_CTYPE (in
the C locale pg_trgm drops every Chinese character), with a GIN trigram index (the places
search); GiST on the point; (district, road, number) for the matcher.

Table `place_road`: every road (or point-of-interest name) of a district's places once, with its
search key and a GIN trigram index: the matcher finds the roads an address may name here, then
the places on them with the address's house number.

Revision ID: c1a0e5a17001
Revises: 9b2c3d4e5f6a
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "c1a0e5a17001"
down_revision: str | None = "9b2c3d4e5f6a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_KEY = """
CREATE FUNCTION place_search_key(content text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
        CASE WHEN ascii(ch) < 128 THEN lower(ch)
             ELSE chr(97 + ascii(ch) / 676 % 26) || chr(97 + ascii(ch) / 26 % 26)
                  || chr(97 + ascii(ch) % 26)
        END, '' ORDER BY n), '')
    FROM unnest(string_to_array(content, NULL)) WITH ORDINALITY AS t(ch, n)
$$
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(SEARCH_KEY)
    op.create_geospatial_table(
        "place",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("normalised", sa.Text(), nullable=False),
        sa.Column(
            "search_key",
            sa.Text(),
            sa.Computed("place_search_key(normalised)", persisted=True),
            nullable=False,
        ),
        sa.Column("street_name", sa.Text(), nullable=True),
        sa.Column("community_name", sa.Text(), nullable=True),
        sa.Column("road", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), server_default="", nullable=False),
        sa.Column("building", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=False,
        ),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('address', 'poi')", name=op.f("ck_place_kind_known")),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_place_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["grid_region.id"], name=op.f("fk_place_district_id_grid_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place")),
        sa.UniqueConstraint("district_id", "kind", "normalised", name="uq_place_normalised"),
    )
    op.create_geospatial_index(
        "idx_place_geom",
        "place",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_place_cell_id"), "place", ["cell_id"], unique=False)
    op.create_index(
        "ix_place_search_key",
        "place",
        ["search_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_key": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_place_road_number", "place", ["district_id", "road", "number"], unique=False
    )
    op.create_table(
        "place_road",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("road", sa.Text(), nullable=False),
        sa.Column(
            "search_key",
            sa.Text(),
            sa.Computed("place_search_key(road)", persisted=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["grid_region.id"], name=op.f("fk_place_road_district_id_grid_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_road")),
        sa.UniqueConstraint("district_id", "road", name="uq_place_road_road"),
    )
    op.create_index(
        "ix_place_road_search_key",
        "place_road",
        ["search_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_key": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_place_road_search_key", table_name="place_road", postgresql_using="gin")
    op.drop_table("place_road")
    op.drop_index("ix_place_road_number", table_name="place")
    op.drop_index("ix_place_search_key", table_name="place", postgresql_using="gin")
    op.drop_index(op.f("ix_place_cell_id"), table_name="place")
    op.drop_geospatial_index(
        "idx_place_geom", table_name="place", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("place")
    op.execute("DROP FUNCTION place_search_key(text)")
    # pg_trgm stays: other objects of the database use it (case search).
