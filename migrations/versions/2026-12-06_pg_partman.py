"""Monthly partitions maintained by pg_partman.

Revision ID: c1a0e5a19002
Revises: c1a0e5a18003
Create Date: 2026-12-06 11:00:00+00:00

Hands every RANGE-partitioned table of the public schema whose key is a `timestamptz` column
(case_transition, report, notification, webhook_attempt, sensing_reading: found in the
catalogue) to pg_partman 4.x, which from then on makes their next months
(`partman.run_maintenance`, called by citygrid's scheduler and `citygrid db partitions
maintain`: no background worker, so no `shared_preload_libraries`).

- The extension: `CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman` when the
  server has it and this role may create it; an extension already installed (in any schema) is
  used as it is. A server without it (`DATABASE_URL` at a PostGIS without pg_partman) is left
  to citygrid's own month creation, said in a warning; once an administrator installs the
  extension, `citygrid db partitions maintain` hands the tables over the same way.
- Months are the city's: pg_partman 4.x truncates months (`date_trunc('month', ...)`) and names
  them (`to_char(..., 'YYYY_MM')`) in the session's time zone, so every call runs under
  `SET LOCAL TIME ZONE` to the city's zone.
- The tables are registered by `create_parent(p_type => 'native', p_interval => 'monthly',
  p_premake => 3)` from their newest existing month, which adopts the existing months (they
  carry pg_partman's names, `<table>_pYYYY_MM`; it skips a child that exists). create_parent
  always makes its own `<table>_default`, so the existing DEFAULT partition (and its rows) is
  detached and renamed aside for the call and attached again afterwards in place of the empty
  one. part_config then gets `infinite_time_partitions` (premake counts from today, not from the
  newest row: quiet tables get their months too) and `ignore_default_data` (a reading dated
  2099 in the DEFAULT partition must not make pg_partman create every month up to it).
  Retention stays off: `citygrid db archive` detaches old months itself.
- pg_partman's template table (`partman.template_public_<table>`) is created by create_parent
  and stays empty: on PostgreSQL 15 the parent's indexes, foreign keys and row triggers reach a
  new month by themselves when it is attached.

Downgrade takes the tables out of part_config (their template tables too); the partitions stay
as they are, and the extension and its schema go when this migration created them and no other
table is registered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "c1a0e5a19002"
down_revision: str | None = "c1a0e5a18003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CITY_ZONE = "Asia/Shanghai"  # months are the city's; citygrid.partitions uses the setting
PREMAKE = 3
OURS = "created by citygrid (migration c1a0e5a19002)"
PARTITIONED_TABLES_SQL = """
    SELECT c.relname, a.attname
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partstrat = 'r' AND p.partnatts = 1
      AND c.relnamespace = 'public'::regnamespace
      AND a.atttypid = 'timestamptz'::regtype
      AND NOT c.relispartition
    ORDER BY c.relname
"""
CHILDREN_SQL = """
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = CAST(:table AS regclass)
"""
logger = logging.getLogger("alembic.runtime.migration")


def partman_schema(connection: Connection) -> str | None:
    schema: str | None = connection.scalar(
        text(
            "SELECT n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'"
        )
    )
    return schema


def install(connection: Connection) -> str | None:
    """The extension's schema, after creating it where the server has it and we may."""
    schema = partman_schema(connection)
    if schema is not None:
        return schema
    available, superuser = connection.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
    ).one()
    if not available or not superuser:
        logger.warning(
            "pg_partman is %s: citygrid creates the monthly partitions itself. Install the "
            "server package postgresql-<version>-partman, run CREATE SCHEMA partman; CREATE "
            "EXTENSION pg_partman SCHEMA partman; as a superuser, then citygrid db partitions "
            "maintain hands the tables to it.",
            "not installed on this server" if not available else "not installable by this role",
        )
        return None
    connection.execute(text("CREATE SCHEMA IF NOT EXISTS partman"))
    connection.execute(text("CREATE EXTENSION pg_partman SCHEMA partman"))
    connection.execute(text(f"COMMENT ON EXTENSION pg_partman IS '{OURS}'"))
    return "partman"


def register(connection: Connection, schema: str, table: str, column: str) -> None:
    """create_parent from the newest existing month, keeping the existing DEFAULT partition."""
    children = connection.execute(text(CHILDREN_SQL), {"table": table}).all()
    months = sorted(
        found.group(1).replace("_", "-")
        for name, _ in children
        if (found := re.fullmatch(rf"{re.escape(table)}_p(\d{{4}}_\d{{2}})", name))
    )
    default = next((name for name, is_default in children if is_default), None)
    aside = f"{table}_default_adopted"
    if default is not None:
        connection.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION "{default}"'))
        connection.execute(text(f'ALTER TABLE "{default}" RENAME TO "{aside}"'))
    connection.execute(
        text(
            f"SELECT {schema}.create_parent(p_parent_table => :parent, p_control => :column, "
            "p_type => 'native', p_interval => 'monthly', p_premake => :premake, "
            "p_start_partition => coalesce(:start, date_trunc('month', now())::text), "
            "p_jobmon => false)"
        ),
        {
            "parent": f"public.{table}",
            "column": column,
            "premake": PREMAKE,
            "start": f"{months[-1]}-01" if months else None,
        },
    )
    if default is not None:
        # create_parent's own DEFAULT partition (empty, made only when it made a month).
        connection.execute(text(f'DROP TABLE IF EXISTS "{table}_default"'))
        connection.execute(text(f'ALTER TABLE "{aside}" RENAME TO "{default}"'))
        connection.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION "{default}" DEFAULT'))
    connection.execute(
        text(
            f"UPDATE {schema}.part_config SET infinite_time_partitions = true, "
            "ignore_default_data = true, retention = NULL WHERE parent_table = :parent"
        ),
        {"parent": f"public.{table}"},
    )


def upgrade() -> None:
    connection = op.get_bind()
    schema = install(connection)
    if schema is None:
        return
    registered = set(connection.scalars(text(f"SELECT parent_table FROM {schema}.part_config")))
    previous = connection.execute(
        text("SELECT current_setting('TimeZone'), current_setting('client_min_messages')")
    ).one()
    # City months; and quiet: create_parent warns when every month it would make exists.
    connection.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": CITY_ZONE})
    connection.execute(text("SELECT set_config('client_min_messages', 'error', true)"))
    for table, column in connection.execute(text(PARTITIONED_TABLES_SQL)).all():
        if f"public.{table}" not in registered:
            register(connection, schema, table, column)
    connection.execute(
        text(
            "SELECT set_config('TimeZone', :zone, true), "
            "set_config('client_min_messages', :m, true)"
        ),
        {"zone": previous[0], "m": previous[1]},
    )


def downgrade() -> None:
    connection = op.get_bind()
    schema = partman_schema(connection)
    if schema is None:
        return
    for template in connection.scalars(
        text(
            f"DELETE FROM {schema}.part_config WHERE parent_table LIKE 'public.%' "
            "RETURNING template_table"
        )
    ).all():
        if template:
            connection.execute(text(f"DROP TABLE IF EXISTS {template}"))
    others = connection.scalar(text(f"SELECT count(*) FROM {schema}.part_config"))
    comment = connection.scalar(
        text(
            "SELECT obj_description(oid, 'pg_extension') FROM pg_extension "
            "WHERE extname = 'pg_partman'"
        )
    )
    if not others and comment == OURS:
        connection.execute(text("DROP EXTENSION pg_partman"))
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema}"))
