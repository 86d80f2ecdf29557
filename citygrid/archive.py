"""Archiving old months: detach a month's partitions, write them to checked files, drop them;
and put a month back from its files.

`citygrid db archive --before 2024-01` takes every month partition (citygrid.partitions) that
ends on or before the start of that month, table by table:

1. refuses the whole run when `--before` reaches into the current month (the current and
   future months are never touched), and leaves out a month when a case with rows in it is
   still open or changed since the cutoff (the rule: every case with history, reports or
   notifications in an archived month is finished — not filed, closed or cancelled — and was
   last updated before the cutoff; an open case's history must stay whole for its workflow,
   pages and evaluation);
2. detaches the partition (a short lock on the parent, committed at once: readers and writers
   of the other months wait only for that);
3. writes the detached table with COPY (CSV, gzip) to `<partition>.csv.gz` under the state
   folder's `archive/` (or `--to DIR`) with a manifest `<partition>.json`: table, partition,
   bounds, columns, rows, SHA-256 of the file;
4. verifies the file (reads it back whole: gzip's CRC, the SHA-256, the row count against the
   table) and only then drops the detached table.

Report keys (`report_key`) stay: an archived report's UUID is still refused as a new report.
pg_partman, which makes the months (citygrid.partitions), never makes an archived month again:
its maintenance goes forward from the newest month, citygrid fills gaps only from the current
month on, and its retention is off (archiving is the only way old months leave).
`citygrid db archive restore FILE` checks the file's SHA-256 against its manifest, loads it into
a table like the parent and attaches it for its month again.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from citygrid.partitions import Partition, PartitionedTable, month_start, partitioned_tables

logger = logging.getLogger(__name__)

# events.lifecycle's finished statuses (OPEN_STATUSES' complement); the core cannot import
# events, a test checks that the two agree.
FINISHED_STATUSES = ("not_filed", "closed", "cancelled")
MANIFEST_VERSION = 1
COPY_CHUNK = 1 << 20


class ArchiveError(Exception):
    """The archive cannot be made or restored; the message says why."""


@dataclass(frozen=True)
class Archived:
    table: str
    partition: str
    rows: int
    bytes: int
    manifest: Path


@dataclass(frozen=True)
class Skipped:
    table: str
    partition: str
    reason: str


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_cases(connection: Connection, partition: str, before: datetime) -> int:
    """How many cases with rows in the partition are open or changed since `before`."""
    has_case = connection.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
            "AND attname = 'case_id' AND NOT attisdropped)"
        ),
        {"t": partition},
    )
    if not has_case:
        return 0
    return int(
        connection.scalar(
            text(
                f"SELECT count(*) FROM event_case c WHERE c.id IN "
                f"(SELECT DISTINCT case_id FROM {_quote(partition)} WHERE case_id IS NOT NULL) "
                f"AND (c.status <> ALL(:finished) OR c.updated_at >= :before)"
            ),
            {"finished": list(FINISHED_STATUSES), "before": before},
        )
        or 0
    )


def plan(
    connection: Connection, before: datetime, *, now: datetime, zone: ZoneInfo
) -> tuple[list[tuple[PartitionedTable, Partition]], list[Skipped]]:
    """The partitions wholly before `before` that may go, and those left out with why."""
    if before > month_start(now, zone):
        raise ArchiveError(
            f"--before {before:%Y-%m} reaches into the current month "
            f"({now.astimezone(zone):%Y-%m}): only whole past months are archived"
        )
    chosen, skipped = [], []
    for table in partitioned_tables(connection):
        for partition in table.months:
            assert partition.end is not None
            if partition.end > before:
                continue
            open_cases = _open_cases(connection, partition.name, before)
            if open_cases:
                reason = (
                    f"{open_cases} case(s) with rows in it are open or changed since the cutoff"
                )
                skipped.append(Skipped(table.name, partition.name, reason))
                continue
            chosen.append((table, partition))
    return chosen, skipped


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(COPY_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _columns(connection: Connection, table: str) -> list[str]:
    return list(
        connection.scalars(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": table},
        )
    )


@contextmanager
def _raw(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """The pool's psycopg connection (for COPY), given back to the pool afterwards."""
    pooled = engine.raw_connection()
    try:
        yield cast(psycopg.Connection[Any], pooled.driver_connection)
    finally:
        pooled.close()


def archive_partition(
    engine: Engine, table: PartitionedTable, partition: Partition, folder: Path
) -> Archived:
    """Detach, write, verify, drop (see the module's docstring)."""
    assert partition.start is not None and partition.end is not None
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / f"{partition.name}.csv.gz"
    manifest_path = folder / f"{partition.name}.json"
    with engine.begin() as connection:
        connection.execute(
            text(f"ALTER TABLE {_quote(table.name)} DETACH PARTITION {_quote(partition.name)}")
        )
        columns = _columns(connection, partition.name)
    with _raw(engine) as raw, raw.cursor() as cursor:
        expected = cursor.execute(f"SELECT count(*) FROM {_quote(partition.name)}").fetchone()
        with (
            gzip.open(data_path, "wb") as stream,
            cursor.copy(f"COPY {_quote(partition.name)} TO STDOUT (FORMAT csv)") as copy,
        ):
            for block in copy:
                stream.write(block)
        raw.commit()
    rows = int(expected[0]) if expected else 0
    manifest = {
        "version": MANIFEST_VERSION,
        "table": table.name,
        "column": table.column,
        "partition": partition.name,
        "from": partition.start.isoformat(),
        "to": partition.end.isoformat(),
        "columns": columns,
        "rows": rows,
        "file": data_path.name,
        "bytes": data_path.stat().st_size,
        "sha256": _sha256(data_path),
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    verify(manifest_path)  # raises before anything is dropped
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {_quote(partition.name)}"))
    return Archived(table.name, partition.name, rows, data_path.stat().st_size, manifest_path)


def verify(manifest_path: Path) -> dict[str, Any]:
    """The manifest, after checking its file: SHA-256, gzip CRC and the number of CSV rows."""
    try:
        manifest = cast(dict[str, Any], json.loads(manifest_path.read_text()))
        data_path = manifest_path.parent / manifest["file"]
    except (OSError, ValueError, KeyError) as error:
        raise ArchiveError(f"{manifest_path}: not an archive manifest ({error})") from error
    if not data_path.is_file():
        raise ArchiveError(f"{data_path}: missing (named by {manifest_path.name})")
    if _sha256(data_path) != manifest["sha256"]:
        raise ArchiveError(f"{data_path}: its SHA-256 is not the manifest's: the file changed")
    try:
        with gzip.open(data_path, "rt", encoding="utf-8", newline="") as stream:
            rows = sum(1 for _ in csv.reader(stream))
    except (OSError, EOFError, csv.Error) as error:
        raise ArchiveError(f"{data_path}: unreadable ({error})") from error
    if rows != manifest["rows"]:
        raise ArchiveError(f"{data_path}: {rows} rows, the manifest says {manifest['rows']}")
    return manifest


def archive(
    engine: Engine, before: datetime, folder: Path, *, now: datetime, zone: ZoneInfo
) -> tuple[list[Archived], list[Skipped]]:
    """Archives every month partition wholly before `before` that the rule lets go."""
    with engine.connect() as connection:
        chosen, skipped = plan(connection, before, now=now, zone=zone)
    done = [archive_partition(engine, table, partition, folder) for table, partition in chosen]
    return done, skipped


def restore(engine: Engine, manifest_path: Path) -> dict[str, Any]:
    """Loads a month back and attaches it; refuses a file whose checksum does not match, and a
    month that is already there."""
    manifest = verify(manifest_path)
    data_path = manifest_path.parent / manifest["file"]
    table, partition = manifest["table"], manifest["partition"]
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT to_regclass(:p) IS NOT NULL"), {"p": f"public.{partition}"}
        )
        if exists:
            raise ArchiveError(f"{partition} is already in the database")
        if _columns(connection, table) != manifest["columns"]:
            raise ArchiveError(
                f"{table}'s columns changed since {partition} was archived: "
                "restore it on a database at the same schema"
            )
    with _raw(engine) as raw:
        try:
            with raw.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {_quote(partition)} (LIKE {_quote(table)} INCLUDING DEFAULTS "
                    f"INCLUDING CONSTRAINTS INCLUDING STORAGE)"
                )
                with (
                    gzip.open(data_path, "rb") as stream,
                    cursor.copy(f"COPY {_quote(partition)} FROM STDIN (FORMAT csv)") as copy,
                ):
                    while block := stream.read(COPY_CHUNK):
                        copy.write(block)
                cursor.execute(
                    sql.SQL(
                        "ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
                    ).format(
                        sql.Identifier(table),
                        sql.Identifier(partition),
                        sql.Literal(manifest["from"]),
                        sql.Literal(manifest["to"]),
                    )
                )
            raw.commit()
        except psycopg.Error as error:
            raw.rollback()
            raise ArchiveError(f"{partition} could not be attached again: {error}") from error
    logger.info("archive: %s restored into %s (%s rows)", partition, table, manifest["rows"])
    return manifest
