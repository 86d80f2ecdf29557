"""Monthly partitions: the migration in place, the keys it redesigned, pruning, maintenance and
the archive round trip, on real PostGIS."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from citygrid import archive, db, partitions
from citygrid import cli as citygrid_cli
from citygrid.cli import migrate
from citygrid.settings import get_settings
from dispatch.evaluation.service import INSPECTOR_SQL
from events.intake.statements import EXISTING_REPORT
from events.lifecycle import OPEN_STATUSES, CaseStatus
from events.open311.service import UPDATES
from tests.partitions.conftest import PLAIN_REVISION, SEEDED_COUNTS

PARTITIONED = {
    "case_transition": "at",
    "report": "created_at",
    "notification": "created_at",
    "webhook_attempt": "at",
}
ZONE = get_settings().city_zone


def counts(connection: Connection) -> dict[str, int]:
    return {
        table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        for table in SEEDED_COUNTS
    }


def relkind(connection: Connection, table: str) -> str:
    return str(
        connection.scalar(text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table})
    )


def scanned_partitions(connection: Connection, sql: str, parameters: dict[str, object]) -> set[str]:
    """The partitions the plan of `sql` reads (from EXPLAIN's JSON)."""
    plan = connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"), parameters).scalar()
    names: set[str] = set()

    def walk(node: dict[str, object]) -> None:
        relation = node.get("Relation Name")
        if isinstance(relation, str):
            names.add(relation)
        for child in node.get("Plans", []):  # type: ignore[attr-defined]
            walk(child)

    walk(plan[0]["Plan"])  # type: ignore[index]
    return names


def month_of(moment: datetime) -> datetime:
    return partitions.month_start(moment, ZONE)


def partman_config(connection: Connection) -> dict[str, tuple[Any, ...]]:
    """pg_partman's part_config rows of citygrid's tables."""
    rows = connection.execute(
        text(
            "SELECT parent_table, partition_type, partition_interval, premake, "
            "infinite_time_partitions, ignore_default_data, retention, template_table "
            "FROM partman.part_config"
        )
    ).all()
    return {row[0].removeprefix("public."): tuple(row[1:]) for row in rows}


REGISTERED = (
    "native",
    "1 mon",
    3,
    True,
    True,
    None,
)


# --- the migration in place ------------------------------------------------------------------


def test_the_migration_converts_a_database_with_data_in_place(seeded_url: str) -> None:
    engine = create_engine(seeded_url)
    with engine.connect() as connection:
        assert counts(connection) == SEEDED_COUNTS
        for table, column in PARTITIONED.items():
            assert relkind(connection, table) == "p"
            key = connection.scalar(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"
                ),
                {"t": table},
            )
            assert key == f"PRIMARY KEY (id, {column})"
            # Each row sits in the partition of its month (the city's), none in the default.
            in_default = connection.scalar(text(f"SELECT count(*) FROM {table}_default"))
            assert in_default == 0
        # Every report has its key, with the report's partition key.
        assert (
            connection.scalar(
                text(
                    "SELECT count(*) FROM report r JOIN report_key k "
                    "ON k.report_uuid = r.report_uuid AND k.created_at = r.created_at"
                )
            )
            == SEEDED_COUNTS["report"]
        )
        # The ids go on from the same sequences.
        next_id = connection.scalar(
            text("SELECT nextval(pg_get_serial_sequence('case_transition', 'id'))")
        )
        assert next_id == 301
        # The append-only history trigger came along.
        with pytest.raises(ProgrammingError, match="case history is append-only"):
            connection.execute(text("DELETE FROM case_transition WHERE case_id = 2"))
        connection.rollback()
        # Migration 2026-12-06_pg_partman handed every table to pg_partman: monthly, premake
        # counted from today, the DEFAULT partition's rows ignored, no retention, each with
        # its (empty) template table; the existing months and DEFAULT partitions kept.
        config = partman_config(connection)
        assert set(config) == {*PARTITIONED, "sensing_reading"}
        for table, row in config.items():
            assert row == (*REGISTERED, f"partman.template_public_{table}")
        oldest = month_of(datetime.now(UTC) - timedelta(days=200))  # case 100's month
        for table in PARTITIONED:
            assert relkind(connection, f"{table}_default") == "r"
            assert relkind(connection, f"{table}_p{oldest:%Y_%m}") == "r"
    engine.dispose()


def test_references_to_partitioned_ids_are_still_checked(seeded_url: str) -> None:
    """case_photo.report_id and transition_id: constraint triggers of the foreign keys' names."""
    engine = create_engine(seeded_url)
    with engine.connect() as connection:
        triggers = set(
            connection.scalars(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'case_photo'::regclass "
                    "AND NOT tgisinternal"
                )
            )
        )
        assert {
            "fk_case_photo_report_id_report",
            "fk_case_photo_transition_id_case_transition",
        } <= triggers
        insert = text(
            "INSERT INTO case_photo (case_id, report_id, storage_key, content_type, size_bytes, "
            "sha256) VALUES (2, :report_id, gen_random_uuid(), 'image/jpeg', 1, 'x')"
        )
        report_id = connection.scalar(text("SELECT id FROM report WHERE case_id = 2"))
        connection.execute(insert, {"report_id": report_id})  # an existing report: fine
        with pytest.raises(IntegrityError, match="fk_case_photo_report_id_report"):
            connection.execute(insert, {"report_id": 999_999})
        connection.rollback()
    engine.dispose()


def test_downgrade_gives_plain_tables_back_with_their_keys_and_rows(
    seeded_url: str, server_url: str
) -> None:
    """Down to plain tables (unique report_uuid and the foreign keys back) and up again."""
    migrate(seeded_url, PLAIN_REVISION, down=True)
    engine = create_engine(seeded_url)
    with engine.connect() as connection:
        assert counts(connection) == SEEDED_COUNTS
        for table in PARTITIONED:
            assert relkind(connection, table) == "r"
        constraints = set(
            connection.scalars(
                text(
                    "SELECT conname FROM pg_constraint WHERE conrelid IN "
                    "('report'::regclass, 'case_photo'::regclass)"
                )
            )
        )
        assert {
            "uq_report_report_uuid",
            "fk_case_photo_report_id_report",
            "fk_case_photo_transition_id_case_transition",
        } <= constraints
        assert connection.scalar(text("SELECT to_regclass('report_key')")) is None
        # pg_partman's extension and schema went with the migration that made them.
        assert partitions.partman_schema(connection) is None
        assert connection.scalar(text("SELECT to_regnamespace('partman')")) is None
    engine.dispose()
    migrate(seeded_url)
    engine = create_engine(seeded_url)
    with engine.connect() as connection:
        assert counts(connection) == SEEDED_COUNTS
        assert relkind(connection, "report") == "p"
        assert set(partman_config(connection)) == {*PARTITIONED, "sensing_reading"}
    engine.dispose()


# --- the report's idempotency key across partitions ------------------------------------------


def test_a_report_uuid_is_refused_a_second_time_in_another_month(session: Session) -> None:
    case_id = seed_case(session)
    report_uuid = uuid.uuid4()
    insert = text(
        "INSERT INTO report (report_uuid, case_id, original_case_id, geom, description, "
        "created_at) VALUES (:u, :c, :c, ST_SetSRID(ST_MakePoint(116.4, 39.9), 4326), 'x', :at)"
    )
    now = datetime.now(UTC)
    session.execute(insert, {"u": report_uuid, "c": case_id, "at": now})
    assert (
        session.scalar(
            text("SELECT created_at FROM report_key WHERE report_uuid = :u"), {"u": report_uuid}
        )
        == now
    )
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError, match="pk_report_key"):
        session.execute(insert, {"u": report_uuid, "c": case_id, "at": now - timedelta(days=70)})
    savepoint.rollback()
    # A report moved to another month (a corrected time) takes its key along.
    session.execute(
        text(
            "UPDATE report SET created_at = created_at - interval '40 days' WHERE report_uuid = :u"
        ),
        {"u": report_uuid},
    )
    assert (
        session.scalar(
            text(
                "SELECT count(*) FROM report_key k JOIN report r USING (report_uuid) "
                "WHERE k.created_at = r.created_at AND r.report_uuid = :u"
            ),
            {"u": report_uuid},
        )
        == 1
    )
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError, match="never changes"):
        session.execute(
            text("UPDATE report SET report_uuid = gen_random_uuid() WHERE report_uuid = :u"),
            {"u": report_uuid},
        )
    savepoint.rollback()
    # Still one key: a third report with the UUID is refused.
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError, match="pk_report_key"):
        session.execute(insert, {"u": report_uuid, "c": case_id, "at": now})
    savepoint.rollback()


def seed_case(session: Session) -> int:
    cell_id = session.scalar(text("SELECT id FROM grid_cell LIMIT 1"))
    if cell_id is None:
        session.execute(
            text(
                "INSERT INTO grid_region (level, code, name, geom, area_m2) VALUES ('district', "
                "'PD1', '区', ST_Multi(ST_MakeEnvelope(116, 39, 117, 40, 4326)), 1);"
                "INSERT INTO grid_region (level, code, name, geom, area_m2, parent_id) "
                "SELECT 'street', 'PS1', '街道', geom, 1, id FROM grid_region WHERE code = 'PD1';"
                "INSERT INTO grid_region (level, code, name, geom, area_m2, parent_id) "
                "SELECT 'community', 'PC1', '社区', geom, 1, id FROM grid_region WHERE code = 'PS1'"
            )
        )
        cell_id = session.scalar(
            text(
                "INSERT INTO grid_cell (community_id, code, name, geom, area_m2) SELECT id, "
                "'PCELL1', '网格', geom, 1 FROM grid_region WHERE code = 'PC1' RETURNING id"
            )
        )
    return int(
        session.scalar(
            text(
                "INSERT INTO event_case (number, status, category_id, description, geom, cell_id) "
                "SELECT 'P-' || left(md5(random()::text), 16), 'filed', min(id), 'x', "
                "ST_SetSRID(ST_MakePoint(116.4, 39.9), 4326), :cell FROM category "
                "WHERE level = 'minor' RETURNING id"
            ),
            {"cell": cell_id},
        )
        or 0
    )


# --- pruning ------------------------------------------------------------------------------------


def test_the_evaluation_of_inspectors_reads_one_month_of_reports_and_history(
    session: Session,
) -> None:
    month = month_of(datetime.now(UTC))
    parameters = {
        "period_from": month,
        "period_to": partitions.next_month(month),
        "verification_limit_hours": 8.0,
    }
    read = scanned_partitions(session.connection(), INSPECTOR_SQL, parameters)
    suffix = f"_p{month:%Y_%m}"
    assert {name for name in read if name.startswith(("report", "case_transition"))} == {
        "report" + suffix,
        "case_transition" + suffix,
    }


def test_open311_updates_by_period_read_only_their_months(session: Session) -> None:
    month = month_of(datetime.now(UTC))
    parameters = {
        "start_at": month + timedelta(days=3),
        "end_at": month + timedelta(days=5),
        "limit": 50,
        "offset": 0,
    }
    sql = re.sub(r"%\((\w+)\)s", r":\1", UPDATES)
    assert scanned_partitions(session.connection(), sql, parameters) == {
        f"case_transition_p{month:%Y_%m}"
    }


@pytest.mark.parametrize(("table", "column"), sorted(PARTITIONED.items()))
def test_a_period_of_each_partitioned_table_reads_its_months_only(
    session: Session, table: str, column: str
) -> None:
    """Case history, notifications, webhook attempts and reports by period: two months read."""
    month = month_of(datetime.now(UTC))
    following = partitions.next_month(month)
    read = scanned_partitions(
        session.connection(),
        f"SELECT count(*) FROM {table} WHERE {column} >= :start AND {column} < :end",
        {"start": month + timedelta(days=20), "end": following + timedelta(days=3)},
    )
    assert read == {f"{table}_p{month:%Y_%m}", f"{table}_p{following:%Y_%m}"}


# --- maintenance -------------------------------------------------------------------------------


def newest_months(connection: Connection, tables: list[str]) -> dict[str, partitions.Partition]:
    """Each table's newest month partition."""
    return {
        table.name: table.months[-1]
        for table in partitions.partitioned_tables(connection)
        if table.name in tables
    }


def test_pg_partman_makes_the_next_months_at_city_midnight_from_a_utc_session(
    session: Session,
) -> None:
    """A session in UTC (the server's zone): the months pg_partman makes still start at the
    city's midnight, with the parent's indexes and row triggers; a gap before the newest month
    is filled; a second run makes nothing, and the caller's zone is left as it was."""
    connection = session.connection()
    connection.execute(text("SET LOCAL TIME ZONE 'UTC'"))
    dropped = newest_months(connection, list(PARTITIONED))
    for month in dropped.values():
        connection.execute(text(f"DROP TABLE {month.name}"))
    # A gap before the newest month (run_maintenance counts from the newest): filled too.
    gap = f"notification_p{partitions.next_month(month_of(datetime.now(UTC))):%Y_%m}"
    connection.execute(text(f"DROP TABLE {gap}"))
    created = partitions.maintain(connection, now=datetime.now(UTC), zone=ZONE)
    assert {month.name for month in dropped.values()} | {gap} <= set(created)
    assert connection.scalar(text("SELECT current_setting('TimeZone')")) == "UTC"
    for table in partitions.partitioned_tables(connection):
        if table.name not in dropped:
            continue
        month = next(p for p in table.partitions if p.name == dropped[table.name].name)
        assert (month.start, month.end) == (dropped[table.name].start, dropped[table.name].end)
        assert month.start is not None
        local = month.start.astimezone(ZONE)
        assert (local.day, local.hour, local.minute) == (1, 0, 0)
        # The parent's indexes reach the new month (attached to the parent's), and its row
        # triggers (case history's append-only one, the report key's).
        assert connection.scalar(
            text(
                "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relkind = 'i' AND c.oid IN (SELECT indexrelid FROM pg_index "
                "WHERE indrelid = CAST(:p AS regclass))"
            ),
            {"p": month.name},
        ) == connection.scalar(
            text("SELECT count(*) FROM pg_index WHERE indrelid = CAST(:t AS regclass)"),
            {"t": table.name},
        )
        assert connection.scalar(
            text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:p AS regclass) "
                "AND NOT tgisinternal AND tgparentid <> 0"
            ),
            {"p": month.name},
        ) == connection.scalar(
            text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
                "AND NOT tgisinternal AND tgtype & 1 = 1"
            ),
            {"t": table.name},
        )
    assert partitions.maintain(connection, now=datetime.now(UTC), zone=ZONE) == []
    # A row at 00:30 on the 1st in Beijing (16:30 the day before in UTC) is that month's.
    start = dropped["notification"].start
    assert start is not None
    user_id = connection.scalar(
        text(
            "INSERT INTO app_user (username, display_name, password_hash, role) "
            "VALUES ('partitions-user', 'u', 'x', 'inspector') RETURNING id"
        )
    )
    partition = connection.scalar(
        text(
            "INSERT INTO notification (user_id, kind, title, created_at) "
            "VALUES (:u, 'k', 't', :at) RETURNING tableoid::regclass::text"
        ),
        {"u": user_id, "at": start + timedelta(minutes=30)},
    )
    assert partition == dropped["notification"].name


def test_a_month_whose_rows_sit_in_the_default_partition_is_left_and_logged(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """pg_partman cannot attach a month over rows of the DEFAULT partition: that table is left
    (logged, with what to do) and the other tables get their months."""
    connection = session.connection()
    case_id = seed_case(session)
    dropped = newest_months(connection, ["case_transition", "report"])
    for month in dropped.values():
        connection.execute(text(f"DROP TABLE {month.name}"))
    month = dropped["case_transition"]
    assert month.start is not None
    connection.execute(
        text(
            "INSERT INTO case_transition (case_id, action, to_status, at) "
            "VALUES (:c, 'note', 'filed', :at)"
        ),
        {"c": case_id, "at": month.start + timedelta(days=2)},
    )
    with caplog.at_level(logging.WARNING, logger="citygrid.partitions"):
        created = partitions.maintain(connection, now=datetime.now(UTC), zone=ZONE)
    assert month.name not in created
    assert dropped["report"].name in created
    assert "case_transition" in caplog.text and "DEFAULT partition" in caplog.text
    # The transaction goes on (the failed table's savepoint was rolled back).
    assert connection.scalar(text("SELECT count(*) FROM case_transition_default")) == 1


def test_without_pg_partman_citygrid_makes_the_months_and_adopts_it_once_installed(
    session: Session,
) -> None:
    """A database without the extension: citygrid's own months (pg_partman's names, the
    city's bounds). Once the extension is installed, `maintain` hands every table to it."""
    connection = session.connection()
    connection.execute(text("DROP EXTENSION pg_partman"))
    # The month after the newest, seen from a day in it: that month and the next two.
    newest = newest_months(connection, ["notification"])["notification"].start
    assert newest is not None
    first = partitions.next_month(newest.astimezone(ZONE))
    second, third = (
        partitions.next_month(first),
        partitions.next_month(partitions.next_month(first)),
    )
    later = first + timedelta(days=14, hours=12)
    created = partitions.maintain(connection, now=later, zone=ZONE, months_ahead=2)
    for table in PARTITIONED:
        assert {f"{table}_p{month:%Y_%m}" for month in (first, second, third)} <= set(created)
    assert partitions.maintain(connection, now=later, zone=ZONE, months_ahead=2) == []
    made = next(
        p
        for table in partitions.partitioned_tables(connection)
        for p in table.partitions
        if p.name == f"notification_p{second:%Y_%m}"
    )
    assert (made.start, made.end) == (second, third)
    assert made.start is not None and made.start.astimezone(ZONE).hour == 0
    connection.execute(text("CREATE EXTENSION pg_partman SCHEMA partman"))
    partitions.maintain(connection, now=datetime.now(UTC), zone=ZONE)
    config = partman_config(connection)
    assert set(config) == {*PARTITIONED, "sensing_reading"}
    assert config["report"][:-1] == REGISTERED
    assert relkind(connection, "report_default") == "r"


def test_the_finished_statuses_are_the_lifecycle_s() -> None:
    assert set(archive.FINISHED_STATUSES) == {s.value for s in set(CaseStatus) - OPEN_STATUSES}


# --- archive and restore ----------------------------------------------------------------------


def test_archive_and_restore_a_month_round_trip(seeded_url: str, tmp_path: Path) -> None:
    engine = create_engine(seeded_url)
    now = datetime.now(UTC)
    cutoff = month_of(now - timedelta(days=60))
    with engine.connect() as connection:
        before = counts(connection)
        in_old_months = {
            table: int(
                connection.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE {column} < :cutoff"),
                    {"cutoff": cutoff},
                )
                or 0
            )
            for table, column in PARTITIONED.items()
        }
    assert all(in_old_months.values())
    with pytest.raises(archive.ArchiveError, match="current month"):
        archive.archive(engine, partitions.next_month(month_of(now)), tmp_path, now=now, zone=ZONE)
    done, skipped = archive.archive(engine, cutoff, tmp_path, now=now, zone=ZONE)
    assert {item.table for item in done} == set(PARTITIONED)
    assert skipped == []  # case 1, the open one, is in the current month
    with engine.connect() as connection:
        after = counts(connection)
        for table in PARTITIONED:
            assert after[table] == before[table] - in_old_months[table]
            assert (
                connection.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE {PARTITIONED[table]} < :c"),
                    {"c": cutoff},
                )
                == 0
            )
    # pg_partman's maintenance neither makes the archived months again nor trips over them.
    with engine.begin() as connection:
        assert partitions.maintain(connection, now=now, zone=ZONE) == []
    manifests = sorted(tmp_path.glob("*.json"))
    assert len(manifests) == len(done)
    first = json.loads(manifests[0].read_text())
    assert set(first) >= {"table", "partition", "from", "to", "rows", "sha256", "columns"}
    # A changed file is refused before anything is loaded.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / manifests[0].name).write_text(manifests[0].read_text())
    (tampered / first["file"]).write_bytes((tmp_path / first["file"]).read_bytes() + b"\0")
    with pytest.raises(archive.ArchiveError, match="SHA-256"):
        archive.restore(engine, tampered / manifests[0].name)
    for manifest in manifests:
        archive.restore(engine, manifest)
    with engine.connect() as connection:
        assert counts(connection) == before
        assert (
            connection.scalar(
                text("SELECT count(*) FROM report r JOIN report_key k USING (report_uuid)")
            )
            == before["report"]
        )
    with pytest.raises(archive.ArchiveError, match="already"):
        archive.restore(engine, manifests[0])
    engine.dispose()


def test_a_month_with_an_open_case_s_history_is_kept(seeded_url: str, tmp_path: Path) -> None:
    engine = create_engine(seeded_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        # Case 40 (about 80 days old) reopened: its months must stay whole.
        connection.execute(text("UPDATE event_case SET status = 'rework' WHERE id = 40"))
        created = connection.scalar(text("SELECT created_at FROM event_case WHERE id = 40"))
    cutoff = partitions.next_month(month_of(created))
    _, skipped = archive.archive(engine, cutoff, tmp_path, now=now, zone=ZONE)
    kept = {item.partition for item in skipped}
    assert f"case_transition_p{month_of(created):%Y_%m}" in kept
    assert f"report_p{month_of(created):%Y_%m}" in kept
    assert all(item.reason for item in skipped)
    for manifest in sorted(tmp_path.glob("*.json")):
        archive.restore(engine, manifest)
    with engine.begin() as connection:
        connection.execute(text("UPDATE event_case SET status = 'closed' WHERE id = 40"))
        assert counts(connection) == SEEDED_COUNTS | {
            "case_transition": counts(connection)["case_transition"]
        }
    engine.dispose()


# --- the commands ---------------------------------------------------------------------------


def test_the_commands_maintain_list_and_refuse_the_current_month(
    seeded_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`citygrid db partitions …` and `db archive`, in this process (no interpreter start per
    command) on the seeded database."""
    engine = create_engine(seeded_url)
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    citygrid_cli.register_domain_commands()
    runner = CliRunner()

    def citygrid(*args: str) -> Result:
        return runner.invoke(citygrid_cli.app, list(args))

    maintained = citygrid("db", "partitions", "maintain")
    assert maintained.exit_code == 0, maintained.output
    assert "every partitioned table has its months ready (pg_partman)" in maintained.stdout
    # A notification dated far ahead sits in the DEFAULT partition: the list says so.
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO notification (user_id, kind, title, created_at) SELECT id, 'k', "
                "'t', '2099-01-01' FROM app_user LIMIT 1"
            )
        )
    listed = citygrid("db", "partitions", "list")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM notification WHERE created_at = '2099-01-01'"))
    assert listed.exit_code == 0, listed.output
    for table in PARTITIONED:
        assert f"{table} (by {PARTITIONED[table]})" in listed.stdout
    assert listed.stdout.count("pg_partman, 3 months ahead") == len(PARTITIONED) + 1
    assert "notification_default (holds rows dated outside the months" in listed.stdout
    assert listed.stdout.count("holds rows") == 1
    next_month = partitions.next_month(month_of(datetime.now(UTC)))
    refused = citygrid("db", "archive", "--before", f"{next_month:%Y-%m}")
    assert refused.exit_code == 1
    assert "current month" in refused.stderr
    badly = citygrid("db", "archive", "--before", "2024-13", "--to", str(tmp_path))
    assert badly.exit_code == 1
    assert "--before" in badly.stderr
    nothing = citygrid("db", "archive", "--before", "2001-01", "--to", str(tmp_path))
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to archive" in nothing.stdout
    engine.dispose()


def test_intake_finds_an_earlier_report_in_its_month_alone(session: Session) -> None:
    """EXISTING_REPORT (a retried UUID) goes report_key → the report's one partition: the
    other months are pruned while it runs."""
    case_id = seed_case(session)
    report_uuid = uuid.uuid4()
    session.execute(
        text(
            "INSERT INTO report (report_uuid, case_id, original_case_id, geom, description) "
            "VALUES (:u, :c, :c, ST_SetSRID(ST_MakePoint(116.4, 39.9), 4326), 'x')"
        ),
        {"u": report_uuid, "c": case_id},
    )
    sql = re.sub(r"%\((\w+)\)s", r":\1", EXISTING_REPORT)
    plan: Any = session.execute(
        text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), {"report_uuid": report_uuid}
    ).scalar()
    executed: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        relation = node.get("Relation Name")
        if relation and node.get("Actual Loops", 0) > 0:
            executed.add(relation)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    month = month_of(datetime.now(UTC))
    assert {name for name in executed if name.startswith("report")} == {
        "report_key",
        f"report_p{month:%Y_%m}",
    }


def test_the_scheduler_maintains_once_a_day(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's run (pg_partman's run_maintenance under citygrid's lock): once a day."""
    monkeypatch.setattr(partitions, "_last_maintenance", None)
    connection = session.connection()
    now = datetime.now(UTC)
    newest = newest_months(connection, ["report"])["report"]
    connection.execute(text(f"DROP TABLE {newest.name}"))
    assert newest.name in partitions.maintain_if_due(connection, now=now, zone=ZONE)
    connection.execute(text(f"DROP TABLE {newest.name}"))
    # Due again, but not before a day has passed.
    assert partitions.maintain_if_due(connection, now=now + timedelta(hours=23), zone=ZONE) == []
    assert newest.name in partitions.maintain_if_due(
        connection, now=now + timedelta(hours=25), zone=ZONE
    )
