"""Monthly partitions: the tables partitioned by time, their months, and their maintenance.

The tables that grow with time are partitioned by range, one partition per calendar month of
the city's time zone (migration 2026-12-06_monthly_partitions: case_transition, report,
notification, webhook_attempt; the sensing readings table is partitioned from its start), each
with a DEFAULT partition so no row is ever refused. Every RANGE-partitioned table of the schema
whose key is a `timestamptz` column is maintained the same way, found in the catalogue; no list
to keep in step.

`maintain` creates the partitions of the current month and the next `months_ahead` where
missing (idempotent; one catalogue query when nothing is missing). It is citygrid's own code
rather than pg_partman's `run_maintenance()`: the same command must run where `DATABASE_URL`
points at a PostGIS without the extension, months are the city's (pg_partman 4.x cuts months in
the time zone of the session that runs its maintenance: a background worker in UTC would cut
partitions overlapping the city's), and `citygrid db archive` detaches months by the same
bounds. The in-process scheduler runs it once a day (`maintain_if_due`), and `citygrid db
partitions maintain` runs it by hand.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

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


def maintain(
    connection: Connection, *, now: datetime, zone: ZoneInfo, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Creates the missing partitions of this month and the next `months_ahead`; answers their
    names. A month whose rows already sit in the DEFAULT partition is left there (said in the
    log): creating its partition would have to move them under a lock."""
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
