"""Monthly partitions: the tables partitioned by time, their months, and their maintenance.

The tables that grow with time are partitioned by range, one partition per calendar month of
the city's time zone (migration 2026-12-06_monthly_partitions: case_transition, report,
notification, webhook_attempt; the sensing readings table is partitioned from its start), each
with a DEFAULT partition so no row is ever refused. Every RANGE-partitioned table of the schema
whose key is a `timestamptz` column is maintained the same way, found in the catalogue; no list
to keep in step.

`maintain` makes the next months. pg_partman does it (migration 2026-12-06_pg_partman registers
the tables in its `part_config`): `partman.run_maintenance` per table, called here, since its
background worker would need `shared_preload_libraries`. pg_partman 4.x cuts months in the
session's time zone (`date_trunc('month', ...)` on timestamptz), so each call runs under
`SET LOCAL TIME ZONE` to the city's zone, whatever the server's or the caller's. run_maintenance
counts from the newest month, so a month missing between the current one and the newest is
made afterwards with pg_partman's `create_partition_time` (past months are not gaps: archived
months are meant to be missing). A table that is
partitioned but not registered yet (the extension installed after the migration, or a table
partitioned later) is registered here the migration's way. A table pg_partman cannot extend
(the month's rows already sit in the DEFAULT partition, or the lock timed out) is left as it
is and said in the log; the others go on.

Where the database has no pg_partman extension (`DATABASE_URL` at a PostGIS without it),
citygrid creates the months itself (`create_missing_months`: this month and the next
`months_ahead`, pg_partman's names and bounds), the documented fallback. The in-process
scheduler runs `maintain` once a day (`maintain_if_due`), and `citygrid db partitions maintain`
runs it by hand.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from citygrid import db

logger = logging.getLogger(__name__)

MONTHS_AHEAD = 3
MAINTENANCE_EVERY = timedelta(days=1)
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
PARTITIONS_SQL = """
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = CAST(:table AS regclass)
    ORDER BY c.relname
"""
PARTMAN_SCHEMA_SQL = """
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_partman'
"""
DEFAULT_ROWS_HINT = (
    " (rows of that month already sit in the DEFAULT partition: pg_partman makes no later month"
    " of this table until they are moved, see README, Monthly partitions)"
)
BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    """One partition of a month (or the DEFAULT one: start and end None)."""

    name: str
    start: datetime | None
    end: datetime | None

    @property
    def is_default(self) -> bool:
        return self.start is None


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    column: str
    partitions: tuple[Partition, ...]

    @property
    def months(self) -> list[Partition]:
        return sorted((p for p in self.partitions if not p.is_default), key=lambda p: p.start)  # type: ignore[arg-type,return-value]

    @property
    def default(self) -> Partition | None:
        return next((p for p in self.partitions if p.is_default), None)

    def name_for(self, month: datetime) -> str:
        """pg_partman's naming (`<table>_p2024_01`), or the table's own where it has another
        (`<table>_p202401`)."""
        compact = any(re.search(r"_p\d{6}$", p.name) for p in self.partitions)
        return f"{self.name}_p{month:%Y%m}" if compact else f"{self.name}_p{month:%Y_%m}"


def parse_timestamp(value: str) -> datetime:
    """A bound as PostgreSQL prints it ('2024-01-01 00:00:00+08')."""
    if re.search(r"[+-]\d{2}$", value):
        value += ":00"
    return datetime.fromisoformat(value)


def partitioned_tables(connection: Connection) -> list[PartitionedTable]:
    tables = []
    for name, column in connection.execute(text(PARTITIONED_TABLES_SQL)).all():
        partitions = []
        for child, bound in connection.execute(text(PARTITIONS_SQL), {"table": name}).all():
            found = BOUNDS.search(bound or "")
            if found:
                start, end = parse_timestamp(found.group(1)), parse_timestamp(found.group(2))
                partitions.append(Partition(child, start, end))
            elif bound == "DEFAULT":
                partitions.append(Partition(child, None, None))
        tables.append(PartitionedTable(name, column, tuple(partitions)))
    return tables


def month_start(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)


def parse_month(value: str, zone: ZoneInfo) -> datetime:
    """'2024-01' → 2024-01-01 00:00 in the city's zone; ValueError naming the format."""
    if not re.fullmatch(r"\d{4}-\d{2}", value):
        raise ValueError(f"a month is written YYYY-MM, e.g. 2024-01, not {value!r}")
    year, month = int(value[:4]), int(value[5:])
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month} in {value!r}")
    return datetime(year, month, 1, tzinfo=zone)


def _covered(table: PartitionedTable, start: datetime, end: datetime) -> bool:
    return any(
        p.start is not None and p.end is not None and p.start < end and start < p.end
        for p in table.partitions
    )


def create_missing_months(
    connection: Connection, *, now: datetime, zone: ZoneInfo, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Without pg_partman: creates the missing partitions of this month and the next
    `months_ahead`; answers their names. A month whose rows already sit in the DEFAULT partition
    is left there (said in the log): creating its partition would have to move them under a
    lock."""
    created = []
    first = month_start(now, zone)
    for table in partitioned_tables(connection):
        month = first
        for _ in range(months_ahead + 1):
            end = next_month(month)
            if not _covered(table, month, end):
                if table.default is not None and connection.scalar(
                    text(
                        f'SELECT EXISTS (SELECT 1 FROM "{table.default.name}" '
                        f'WHERE "{table.column}" >= :start AND "{table.column}" < :end)'
                    ),
                    {"start": month, "end": end},
                ):
                    logger.warning(
                        "partitions: %s has rows of %s in its default partition; "
                        "its month partition is not created",
                        table.name,
                        f"{month:%Y-%m}",
                    )
                else:
                    name = table.name_for(month)
                    connection.execute(
                        text(
                            f'CREATE TABLE "{name}" PARTITION OF "{table.name}" '
                            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
                        )
                    )
                    created.append(name)
            month = end
    return created


def partman_schema(connection: Connection) -> str | None:
    """The schema of the pg_partman extension, None when the database does not have it."""
    schema = connection.scalar(text(PARTMAN_SCHEMA_SQL))
    return None if schema is None else str(schema)


def registered(connection: Connection, schema: str) -> dict[str, int]:
    """The tables of the public schema in pg_partman's part_config, with their premake."""
    return {
        parent.removeprefix("public."): premake
        for parent, premake in connection.execute(
            text(
                f'SELECT parent_table, premake FROM "{schema}".part_config '
                "WHERE parent_table LIKE 'public.%'"
            )
        ).all()
    }


@contextmanager
def _in_zone(connection: Connection, zone: ZoneInfo, name: str) -> Iterator[None]:
    """A savepoint with the session's time zone set to the city's (SET LOCAL): pg_partman's
    months are the session zone's. Released (the caller's zone back) or rolled back."""
    connection.execute(text(f"SAVEPOINT {name}"))
    previous = connection.scalar(text("SELECT current_setting('TimeZone')"))
    connection.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": zone.key})
    try:
        yield
    except DBAPIError:
        connection.execute(text(f"ROLLBACK TO SAVEPOINT {name}"))  # the zone goes back too
        connection.execute(text(f"RELEASE SAVEPOINT {name}"))
        raise
    connection.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": previous})
    connection.execute(text(f"RELEASE SAVEPOINT {name}"))


def register(connection: Connection, schema: str, table: PartitionedTable, premake: int) -> None:
    """Hands a partitioned table to pg_partman the way migration 2026-12-06_pg_partman does:
    `create_parent` from its newest month (it adopts the existing months, which carry its
    names), the existing DEFAULT partition kept (create_parent always makes its own), premake
    counted from today, the DEFAULT partition's rows ignored, no retention. Runs in the city's
    zone (the caller's `_in_zone`)."""
    newest = table.months[-1].start if table.months else None
    default = table.default
    aside = f"{table.name}_default_adopted"
    if default is not None:
        connection.execute(text(f'ALTER TABLE "{table.name}" DETACH PARTITION "{default.name}"'))
        connection.execute(text(f'ALTER TABLE "{default.name}" RENAME TO "{aside}"'))
    # create_parent warns when every month it would make exists already: the usual case here.
    quiet = connection.scalar(
        text(
            "SELECT current_setting('client_min_messages'), "
            "set_config('client_min_messages', 'error', true)"
        )
    )
    connection.execute(
        text(
            f'SELECT "{schema}".create_parent(p_parent_table => :parent, p_control => :column, '
            "p_type => 'native', p_interval => 'monthly', p_premake => :premake, "
            "p_start_partition => coalesce(:start, date_trunc('month', now())::text), "
            "p_jobmon => false)"
        ),
        {
            "parent": f"public.{table.name}",
            "column": table.column,
            "premake": premake,
            "start": newest.isoformat() if newest else None,
        },
    )
    connection.execute(text("SELECT set_config('client_min_messages', :m, true)"), {"m": quiet})
    if default is not None:
        # create_parent's own DEFAULT partition (empty; made only when it made a month).
        connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}_default"'))
        connection.execute(text(f'ALTER TABLE "{aside}" RENAME TO "{default.name}"'))
        connection.execute(
            text(f'ALTER TABLE "{table.name}" ATTACH PARTITION "{default.name}" DEFAULT')
        )
    connection.execute(
        text(
            f'UPDATE "{schema}".part_config SET infinite_time_partitions = true, '
            "ignore_default_data = true, retention = NULL WHERE parent_table = :parent"
        ),
        {"parent": f"public.{table.name}"},
    )
    logger.info("partitions: %s handed to pg_partman", table.name)


def _reason(error: DBAPIError) -> str:
    """PostgreSQL's message, with what to do when a month's rows sit in the DEFAULT partition."""
    diag = getattr(error.orig, "diag", None)
    message = str(getattr(diag, "message_primary", None) or error.orig).strip()
    if "default partition" in message:
        message += DEFAULT_ROWS_HINT
    return message


def _missing_months(table: PartitionedTable, now: datetime, zone: ZoneInfo) -> list[datetime]:
    """The months from the current one to the table's newest that have no partition (a gap
    run_maintenance, which counts from the newest month, would never fill). Past months are
    not gaps: archived months are meant to be missing."""
    months = table.months
    missing: list[datetime] = []
    if not months or months[-1].start is None:
        return missing
    month = month_start(now, zone)
    while month < months[-1].start:
        if not _covered(table, month, next_month(month)):
            missing.append(month)
        month = next_month(month)
    return missing


def _each_in_zone(
    connection: Connection,
    zone: ZoneInfo,
    tables: list[PartitionedTable],
    work: str,
    action: Callable[[PartitionedTable], object],
) -> None:
    """`action` for each table inside its own savepoint in the city's zone; a table whose work
    fails is rolled back to its savepoint and logged, and the others go on."""
    for table in tables:
        try:
            with _in_zone(connection, zone, "citygrid_partman"):
                action(table)
        except DBAPIError as error:
            logger.warning(
                "partitions: pg_partman could not %s for %s: %s", work, table.name, _reason(error)
            )


def maintain_with_partman(
    connection: Connection,
    schema: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    months_ahead: int | None = None,
) -> list[str]:
    """`partman.run_maintenance` for each partitioned table (registered first where it is not
    yet), then pg_partman's `create_partition_time` for any month missing between the current
    one and the newest; in the city's zone, each table in its own savepoint (a table pg_partman
    cannot extend is logged and left). Answers the months made. `months_ahead` sets
    pg_partman's premake (kept in part_config)."""
    tables = partitioned_tables(connection)
    before = {p.name for table in tables for p in table.partitions}
    known = registered(connection, schema)

    def extend(table: PartitionedTable) -> None:
        if table.name not in known:
            register(connection, schema, table, months_ahead or MONTHS_AHEAD)
        elif months_ahead and known[table.name] != months_ahead:
            connection.execute(
                text(
                    f'UPDATE "{schema}".part_config SET premake = :premake '
                    "WHERE parent_table = :parent"
                ),
                {"premake": months_ahead, "parent": f"public.{table.name}"},
            )
        connection.execute(
            text(
                f'SELECT "{schema}".run_maintenance(p_parent_table => :parent, p_jobmon => false)'
            ),
            {"parent": f"public.{table.name}"},
        )

    _each_in_zone(connection, zone, tables, "make the next months", extend)
    tables = partitioned_tables(connection)
    managed = registered(connection, schema)
    gaps = {t.name: _missing_months(t, now, zone) for t in tables if t.name in managed}

    def fill(table: PartitionedTable) -> None:
        connection.execute(
            text(
                f'SELECT "{schema}".create_partition_time(:parent, '
                "CAST(:months AS timestamptz[]), false)"
            ),
            {"parent": f"public.{table.name}", "months": gaps[table.name]},
        )

    gapped = [t for t in tables if gaps.get(t.name)]
    _each_in_zone(connection, zone, gapped, "fill the missing months", fill)
    after = {p.name for table in partitioned_tables(connection) for p in table.partitions}
    return sorted(after - before)


def maintain(
    connection: Connection,
    *,
    now: datetime,
    zone: ZoneInfo,
    months_ahead: int | None = None,
) -> list[str]:
    """The next months of every partitioned table, by pg_partman where the database has it
    (its premake counts from the transaction's clock), else by citygrid; answers the
    partitions made."""
    schema = partman_schema(connection)
    if schema is not None:
        return maintain_with_partman(
            connection, schema, now=now, zone=zone, months_ahead=months_ahead
        )
    ahead = MONTHS_AHEAD if months_ahead is None else months_ahead
    return create_missing_months(connection, now=now, zone=zone, months_ahead=ahead)


_last_maintenance: datetime | None = None
_maintenance_lock = threading.Lock()
MAINTENANCE_LOCK_KEY = 0x6367707274  # "cgprt": one process at a time


def maintain_if_due(connection: Connection, *, now: datetime, zone: ZoneInfo) -> list[str]:
    """The scheduler's daily run (once a day per process, one process at a time); the caller
    commits."""
    global _last_maintenance
    with _maintenance_lock:
        if _last_maintenance is not None and now - _last_maintenance < MAINTENANCE_EVERY:
            return []
        if not connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MAINTENANCE_LOCK_KEY}
        ):
            return []
        # A new partition locks its parent: wait briefly, else the next round tries again.
        connection.execute(text("SET LOCAL lock_timeout = '2s'"))
        created = maintain(connection, now=now, zone=zone)
        _last_maintenance = now
    if created:
        logger.info("partitions: created %s", ", ".join(created))
    return created


def run_daily(zone: ZoneInfo) -> None:
    """The scheduler's job: `maintain_if_due` in its own transaction; errors are logged and the
    next round tries again."""
    try:
        with db.open_session() as session:
            maintain_if_due(session.connection(), now=datetime.now(UTC), zone=zone)
            session.commit()
    except Exception:
        logger.exception("partitions: maintenance failed; the next round tries again")
