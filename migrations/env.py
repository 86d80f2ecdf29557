"""Alembic environment: GeoAlchemy2's helpers render spatial columns and GiST indexes right."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, create_engine, pool

from citygrid.settings import get_settings
from citygrid.table_registry import include_object, metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # Tests hand over their own connection; the CLI and ./dev use the configured database.
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_with(connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_online()
