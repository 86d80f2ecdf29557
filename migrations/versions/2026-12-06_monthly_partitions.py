"""Monthly partitions of the tables that grow with time.

Revision ID: c1a0e5a19001
Revises: c1a0e5a18002
Create Date: 2026-12-06 08:00:00+00:00

Converts, in place, the history of cases (`case_transition`, by `at`), reports (`report`, by
`created_at`), the in-app inbox (`notification`, by `created_at`) and the webhook delivery log
(`webhook_attempt`, by `at`) into tables partitioned by range, one partition per calendar month
of the city's time zone (`<table>_pYYYY_MM`, pg_partman's naming) plus a DEFAULT partition, so
nothing is ever refused: months from the oldest row to three months ahead; the next migration
(2026-12-06_pg_partman) hands the tables to pg_partman, which adds the next ones when
`citygrid db partitions maintain` (daily, by the scheduler) runs its maintenance.

How, per table: under an EXCLUSIVE lock (reads go on, writes wait) a partitioned copy is built
beside the table (`LIKE` it: columns, defaults, checks), filled, given its keys, indexes, foreign
keys and triggers (read from the catalogue, so later indexes come along); then, all tables
built, the swap under ACCESS EXCLUSIVE: the id sequences move over, the old tables go and the
new ones take their names. Reads wait only for the swap (figures: bench/scale.py).

Keys that partitioning constrains, redesigned:
- Primary keys become (id, partition column); ids still come from the one sequence, so `id`
  alone stays unique in practice, and the models map `id` as the identity.
- `report.report_uuid` (intake's idempotency key) must stay unique across partitions: the new
  table `report_key` (report_uuid PRIMARY KEY, created_at) is the authority. Intake inserts
  the key with ON CONFLICT DO NOTHING and the report only from what that returned (one
  statement, as before); a trigger on `report` writes the key for every other writer and
  refuses a UUID that already has a report. `report_uuid` cannot change (the trigger refuses
  it); when `created_at` (the partition key) is corrected the row moves to its month and the
  trigger moves the key's created_at with it, so the key always points at the report's
  partition.
- Foreign keys pointing at a partitioned table's `id` (case_photo.report_id,
  case_photo.transition_id and any other found) cannot exist (the unique key has the partition
  column too): each becomes a constraint trigger of the same name, checked at the end of the
  statement like a foreign key (`citygrid_reference_exists`). History and reports are never
  deleted (a trigger refuses it); `citygrid db archive` leaves months with such references alone.

Downgrade builds plain tables back the same way and turns those triggers back into foreign keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from alembic import op
from sqlalchemy import Connection

revision: str = "c1a0e5a19001"
down_revision: str | None = "c1a0e5a18002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CITY_ZONE = "Asia/Shanghai"  # months are the city's; citygrid.partitions uses the setting
MONTHS_AHEAD = 3
TABLES = (
    ("case_transition", "at"),
    ("report", "created_at"),
    ("notification", "created_at"),
    ("webhook_attempt", "at"),
)
NEW = "__partitioned"
OLD = "__plain"

REFERENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION citygrid_reference_exists() RETURNS trigger
LANGUAGE plpgsql AS $$
-- A foreign key to a partitioned table's id: TG_ARGV = (table, column, referencing column).
DECLARE
    value text := to_jsonb(NEW) ->> TG_ARGV[2];
    found boolean;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1::bigint)', TG_ARGV[0], TG_ARGV[1])
        INTO found USING value;
    IF NOT found THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('insert or update on table "%s" violates foreign key constraint "%s"',
                             TG_TABLE_NAME, TG_NAME),
            DETAIL = format('Key (%s)=(%s) is not present in table "%s".',
                            TG_ARGV[2], value, TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$
"""
REPORT_KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION report_key_written() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Every report has its key in report_key (unique across partitions). Intake writes the key
-- itself (ON CONFLICT DO NOTHING) in the statement that inserts the report; other writers get
-- it here. A UUID whose key exists is refused when a report already carries it.
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.report_uuid IS DISTINCT FROM OLD.report_uuid THEN
            RAISE EXCEPTION 'a report''s report_uuid never changes'
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN  -- the row moves: so does its key
            UPDATE report_key SET created_at = NEW.created_at WHERE report_uuid = NEW.report_uuid;
        END IF;
        RETURN NEW;
    END IF;
    INSERT INTO report_key (report_uuid, created_at) VALUES (NEW.report_uuid, NEW.created_at)
    ON CONFLICT (report_uuid) DO NOTHING;
    -- The key was there: intake's own (no report yet), or a report moving to another month
    -- (same id); another report with the UUID is a duplicate.
    IF NOT FOUND AND EXISTS (SELECT 1 FROM report WHERE report_uuid = NEW.report_uuid
                                                 AND id <> NEW.id) THEN
        RAISE unique_violation USING
            MESSAGE = 'duplicate key value violates unique constraint "pk_report_key"',
            DETAIL = format('Key (report_uuid)=(%s) already exists.', NEW.report_uuid);
    END IF;
    RETURN NEW;
END $$
"""


def run(connection: Connection, sql: str, parameters: tuple[object, ...] | None = None) -> Any:
    """exec_driver_sql; without parameters a literal % (format() in PL/pgSQL) stays as it is."""
    if parameters is None:
        return connection.exec_driver_sql(sql.replace("%", "%%"))
    return connection.exec_driver_sql(sql, parameters)


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return month_start(month_start(moment) + timedelta(days=32))


def months_between(connection: Connection, table: str, column: str) -> list[datetime]:
    """Month starts (naive, city time) from the oldest row's month to MONTHS_AHEAD ahead."""
    oldest, now = run(
        connection,
        f"SELECT (min({column}) AT TIME ZONE '{CITY_ZONE}'), (now() AT TIME ZONE '{CITY_ZONE}')"
        f" FROM {table}",
    ).one()
    month = month_start(oldest if oldest is not None and oldest < now else now)
    last = month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    months = []
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def bound(month: datetime) -> str:
    return f"'{month:%Y-%m-%d} 00:00:00 {CITY_ZONE}'"


def create_partitions(
    connection: Connection, parent: str, name: str, months: list[datetime]
) -> None:
    for month in months:
        run(
            connection,
            f"CREATE TABLE {name}_p{month:%Y_%m} PARTITION OF {parent} "
            f"FOR VALUES FROM ({bound(month)}) TO ({bound(next_month(month))})",
        )
    run(connection, f"CREATE TABLE {name}_default PARTITION OF {parent} DEFAULT")


def catalogue(connection: Connection, table: str) -> dict[str, list[tuple[str, str]]]:
    """The table's indexes (but the primary key), foreign keys, triggers, and the foreign keys
    of other tables pointing at it, as (name, definition)."""

    def rows(sql: str) -> list[tuple[str, str]]:
        return [(name, sql_text) for name, sql_text in run(connection, sql, (table,))]

    return {
        "indexes": rows(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype = 'p' "
            "WHERE x.indrelid = %s::regclass AND c.oid IS NULL ORDER BY i.relname"
        ),
        "foreign_keys": rows(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' AND conparentid = 0 ORDER BY conname"
        ),
        "triggers": rows(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0 "
            "ORDER BY tgname"
        ),
        "referenced_by": rows(
            "SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f' "
            "AND conparentid = 0 AND conrelid <> confrelid ORDER BY 1"
        ),
    }


def copy_structure(
    connection: Connection,
    table: str,
    column: str,
    *,
    partitioned: bool,
    found: dict[str, list[tuple[str, str]]],
) -> None:
    """Builds `table`+NEW (partitioned) or `table`+OLD (plain) beside `table`, filled, with its
    keys, indexes, foreign keys and triggers under temporary names (suffix `__new`)."""
    copy = table + (NEW if partitioned else OLD)
    run(connection, f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    partition_by = f" PARTITION BY RANGE ({column})" if partitioned else ""
    run(
        connection,
        f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS){partition_by}",
    )
    if partitioned:
        create_partitions(connection, copy, table, months_between(connection, table, column))
    run(connection, f"INSERT INTO {copy} SELECT * FROM {table}")
    key = f"id, {column}" if partitioned else "id"
    run(connection, f"ALTER TABLE {copy} ADD CONSTRAINT pk_{table}__new PRIMARY KEY ({key})")
    for name, definition in found["indexes"]:
        if partitioned and table == "report" and name == "uq_report_report_uuid":
            definition = definition.replace("CREATE UNIQUE INDEX uq_", "CREATE INDEX ix_")
            name = "ix_report_report_uuid"
        if not partitioned and table == "report" and name == "ix_report_report_uuid":
            run(
                connection,
                f"ALTER TABLE {copy} ADD CONSTRAINT uq_report_report_uuid__new UNIQUE (report_uuid)",
            )
            continue
        head, _, tail = definition.partition(f" ON public.{table} ")
        if not tail:
            head, _, tail = definition.partition(f" ON ONLY public.{table} ")
        head = head.rsplit(" ", 1)[0]  # CREATE [UNIQUE] INDEX
        run(connection, f"{head} {name}__new ON {copy} {tail}")
    for name, definition in found["foreign_keys"]:
        run(connection, f"ALTER TABLE {copy} ADD CONSTRAINT {name}__new {definition}")
    run(connection, f"ANALYZE {copy}")  # before the swap: readers never wait for it
    for name, definition in found["triggers"]:
        definition = definition.replace(f" ON public.{table} ", f" ON {copy} ")
        run(connection, definition.replace(f"TRIGGER {name} ", f"TRIGGER {name}__new "))


def swap(
    connection: Connection,
    table: str,
    *,
    partitioned: bool,
    found: dict[str, list[tuple[str, str]]],
) -> None:
    """The copy takes the table's place: sequence, names; the old table goes."""
    copy = table + (NEW if partitioned else OLD)
    run(connection, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    sequence = run(connection, "SELECT pg_get_serial_sequence(%s, 'id')", (table,)).scalar()
    if sequence:
        run(connection, f"ALTER SEQUENCE {sequence} OWNED BY {copy}.id")
    run(connection, f"DROP TABLE {table}")
    run(connection, f"ALTER TABLE {copy} RENAME TO {table}")
    run(connection, f"ALTER TABLE {table} RENAME CONSTRAINT pk_{table}__new TO pk_{table}")
    run(connection, f"ALTER INDEX IF EXISTS pk_{table}__new RENAME TO pk_{table}")
    for name, _ in found["indexes"]:
        if table == "report" and name in ("uq_report_report_uuid", "ix_report_report_uuid"):
            name = "ix_report_report_uuid" if partitioned else "uq_report_report_uuid"
        run(connection, f"ALTER INDEX {name}__new RENAME TO {name}")
    for name, _ in found["foreign_keys"]:
        run(connection, f"ALTER TABLE {table} RENAME CONSTRAINT {name}__new TO {name}")
    for name, _ in found["triggers"]:
        run(connection, f"ALTER TRIGGER {name}__new ON {table} RENAME TO {name}")


def references_to_triggers(
    connection: Connection, table: str, found: dict[str, list[tuple[str, str]]]
) -> None:
    """Foreign keys of other tables to `table`(id) become constraint triggers of the same name."""
    for qualified, definition in found["referenced_by"]:
        holder, name = qualified.rsplit(".", 1)
        local = definition.split("(", 1)[1].split(")", 1)[0]
        target_column = definition.rsplit("(", 1)[1].split(")", 1)[0]
        run(connection, f"ALTER TABLE {holder} DROP CONSTRAINT {name}")
        run(
            connection,
            f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OF {local} ON {holder} "
            f"DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW "
            f"EXECUTE FUNCTION citygrid_reference_exists('{table}', '{target_column}', '{local}')",
        )


def triggers_to_references(connection: Connection) -> None:
    """The constraint triggers made by references_to_triggers, back to foreign keys."""
    found = run(
        connection,
        "SELECT t.tgname, t.tgrelid::regclass::text, "
        "encode(t.tgargs, 'escape') FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE p.proname = 'citygrid_reference_exists' AND t.tgparentid = 0",
    ).all()
    for name, holder, arguments in found:
        target, target_column, local = arguments.split("\\000")[:3]
        run(connection, f"DROP TRIGGER {name} ON {holder}")
        run(
            connection,
            f"ALTER TABLE {holder} ADD CONSTRAINT {name} FOREIGN KEY ({local}) "
            f"REFERENCES {target} ({target_column})",
        )


def upgrade() -> None:
    connection = op.get_bind()
    run(connection, REFERENCE_FUNCTION)
    run(
        connection,
        "CREATE TABLE report_key (report_uuid uuid NOT NULL, created_at timestamptz NOT NULL, "
        "CONSTRAINT pk_report_key PRIMARY KEY (report_uuid))",
    )
    found = {table: catalogue(connection, table) for table, _ in TABLES}
    for table, column in TABLES:
        copy_structure(connection, table, column, partitioned=True, found=found[table])
    run(
        connection,
        "INSERT INTO report_key (report_uuid, created_at) SELECT report_uuid, created_at FROM report",
    )
    for table, _ in TABLES:
        references_to_triggers(connection, table, found[table])
    for table, _ in TABLES:
        swap(connection, table, partitioned=True, found=found[table])
    run(connection, REPORT_KEY_FUNCTION)
    run(
        connection,
        "CREATE TRIGGER report_key_written BEFORE INSERT OR UPDATE ON report "
        "FOR EACH ROW EXECUTE FUNCTION report_key_written()",
    )


def downgrade() -> None:
    connection = op.get_bind()
    run(connection, "DROP TRIGGER report_key_written ON report")
    run(connection, "DROP FUNCTION report_key_written()")
    found = {table: catalogue(connection, table) for table, _ in TABLES}
    for table, column in TABLES:
        copy_structure(connection, table, column, partitioned=False, found=found[table])
    for table, _ in TABLES:
        swap(connection, table, partitioned=False, found=found[table])
    triggers_to_references(connection)
    run(connection, "DROP TABLE report_key")
    run(connection, "DROP FUNCTION citygrid_reference_exists()")
