"""Alembic owns the schema: it goes up and down cleanly and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from citygrid.cli import migrate
from citygrid.table_registry import include_object, metadata


def test_empty_to_head_to_base_to_head(empty_database_url: str) -> None:
    migrate(empty_database_url, "head")
    migrate(empty_database_url, "base", down=True)
    engine = create_engine(empty_database_url)
    left = set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    engine.dispose()
    assert left == set()
    migrate(empty_database_url, "head")
    engine = create_engine(empty_database_url)
    assert {"grid_cell", "grid_region", "app_user"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_autogenerate_finds_no_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": include_object, "compare_type": True},
        )
        assert compare_metadata(context, metadata) == []
