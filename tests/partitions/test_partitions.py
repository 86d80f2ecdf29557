"""Monthly partitions: the migration in place, the keys it redesigned, pruning, maintenance and
the archive round trip, on real PostGIS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from citygrid import archive, partitions
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
ROOT = Path(__file__).resolve().parents[2]


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
    engine.dispose()
    migrate(seeded_url)
    engine = create_engine(seeded_url)
    with engine.connect() as connection:
        assert counts(connection) == SEEDED_COUNTS
        assert relkind(connection, "report") == "p"
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


def test_maintenance_creates_the_next_months_once(session: Session) -> None:
    """citygrid's own maintenance (no pg_partman needed): the months ahead of every table
    partitioned by time, pg_partman's names; a second run creates nothing."""
    connection = session.connection()
    later = datetime(2031, 5, 15, 12, tzinfo=UTC)
    created = partitions.maintain(connection, now=later, zone=ZONE, months_ahead=2)
    for table in PARTITIONED:
        assert {f"{table}_p2031_05", f"{table}_p2031_06", f"{table}_p2031_07"} <= set(created)
    assert partitions.maintain(connection, now=later, zone=ZONE, months_ahead=2) == []
    # The new partitions are the city's months: a row at 00:30 on 1 June in Beijing is June's.
    user_id = connection.scalar(
        text(
            "INSERT INTO app_user (username, display_name, password_hash, role) "
            "VALUES ('partitions-user', 'u', 'x', 'inspector') RETURNING id"
        )
    )
    partition = connection.scalar(
        text(
            "INSERT INTO notification (user_id, kind, title, created_at) "
            "VALUES (:u, 'k', 't', '2031-06-01 00:30+08') RETURNING tableoid::regclass::text"
        ),
        {"u": user_id},
    )
    assert partition == "notification_p2031_06"


def test_maintenance_leaves_a_month_already_in_the_default_partition(session: Session) -> None:
    connection = session.connection()
    seed_case(session)
    far = datetime(2033, 2, 10, tzinfo=UTC)
    connection.execute(
        text(
            "INSERT INTO case_transition (case_id, action, to_status, at) "
            "SELECT max(id), 'note', 'filed', :at FROM event_case"
        ),
        {"at": far},
    )
    created = partitions.maintain(connection, now=far, zone=ZONE, months_ahead=0)
    assert "case_transition_p2033_02" not in created
    assert "report_p2033_02" in created


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


def citygrid(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [str(ROOT / ".venv/bin/citygrid"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_commands_maintain_list_and_refuse_the_current_month(
    seeded_url: str, tmp_path: Path
) -> None:
    maintained = citygrid(seeded_url, "db", "partitions", "maintain")
    assert maintained.returncode == 0, maintained.stderr
    assert "every partitioned table has its months ready" in maintained.stdout
    listed = citygrid(seeded_url, "db", "partitions", "list")
    assert listed.returncode == 0, listed.stderr
    for table in PARTITIONED:
        assert f"{table} (by {PARTITIONED[table]})" in listed.stdout
    next_month = partitions.next_month(month_of(datetime.now(UTC)))
    refused = citygrid(seeded_url, "db", "archive", "--before", f"{next_month:%Y-%m}")
    assert refused.returncode == 1
    assert "current month" in refused.stderr
    badly = citygrid(seeded_url, "db", "archive", "--before", "2024-13", "--to", str(tmp_path))
    assert badly.returncode == 1
    assert "--before" in badly.stderr
    nothing = citygrid(seeded_url, "db", "archive", "--before", "2001-01", "--to", str(tmp_path))
    assert nothing.returncode == 0, nothing.stderr
    assert "nothing to archive" in nothing.stdout


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
    monkeypatch.setattr(partitions, "_last_maintenance", None)
    connection = session.connection()
    later = datetime(2032, 3, 3, tzinfo=UTC)
    created = partitions.maintain_if_due(connection, now=later, zone=ZONE)
    assert "report_p2032_03" in created
    # The next month's partitions are due, but not before a day has passed.
    next_month = datetime(2032, 4, 1, 1, tzinfo=UTC)
    assert partitions.maintain_if_due(connection, now=later + timedelta(hours=23), zone=ZONE) == []
    assert "report_p2032_07" in partitions.maintain_if_due(connection, now=next_month, zone=ZONE)
