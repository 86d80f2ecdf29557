"""Read replicas: maps, the evaluation and listings are read from a streaming standby whose
replay lag is under the bound; a client that wrote reads from the primary; a lagging standby is
bypassed.

A private primary cluster (migrated, seeded with the test block) and a standby made of it by
`Standby.create_from` (pg_basebackup, as `citygrid db replica add` does), both torn down after.
An app of the module's own serves, with the private primary behind its sessions and a
ReadRouting to the standby in its state. Which server answered is read from the standby's log:
it logs every statement after its client's application_name, and the read engine's connections
carry `citygrid-read` (pg_stat_activity would show only their last statement, the ROLLBACK that
returns them to the pool).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from bench.crash import new_private_cluster, remove_cluster
from citygrid import db
from citygrid.accounts.roles import Role
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.cluster import Cluster
from citygrid.db import READ_APPLICATION_NAME, ReadRouting, replay_lag_s
from citygrid.replicas import Standby, replication_lag, standbys
from citygrid.settings import get_settings, normalise_database_url
from tests.conftest import token_for
from tests.events.seed import add_category, add_user
from tests.grid.places import BLOCK_EAST, BLOCK_NORTH, BLOCK_SOUTH, BLOCK_WEST, seed_block

DATABASE = "citygrid_replicas"


@pytest.mark.parametrize(
    ("in_recovery", "caught_up", "age_s", "lag_s"),
    [
        (True, True, 3600.0, 0.0),  # an idle primary: caught up, however old its last commit
        (True, False, 2.5, 2.5),  # behind: as stale as its last replayed transaction
        (True, False, None, float("inf")),  # behind and never replayed a transaction
        (False, True, 0.0, None),  # promoted or not a standby: never read from
    ],
)
def test_replay_lag_is_zero_when_caught_up_and_the_last_replay_age_otherwise(
    in_recovery: bool, caught_up: bool, age_s: float | None, lag_s: float | None
) -> None:
    assert replay_lag_s(in_recovery, caught_up, age_s) == lag_s


@dataclass(frozen=True)
class Replicated:
    primary: Cluster
    standby: Standby
    engine: Engine  # the primary's
    category_code: str
    inspector_id: int


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    state_dir = tmp_path_factory.mktemp("replicas") / "state"
    primary = new_private_cluster(state_dir, configured_state=get_settings().state_dir)
    standby = Standby.of(primary, "replica_1")
    try:
        primary.start()
        primary.ensure_database(DATABASE)
        url = primary.sqlalchemy_url(DATABASE)
        migrate(url)
        engine = create_engine(url)
        with Session(engine) as session:
            seed_block(session)
            category = add_category(session)
            inspector = add_user(session, Role.INSPECTOR)
            session.commit()
            seeded = (category.code, inspector.id)
        standby.create_from(primary)
        log_statements_on_standby(Replicated(primary, standby, engine, *seeded))
        yield Replicated(primary, standby, engine, *seeded)
        engine.dispose()
    finally:
        remove_cluster(standby)
        remove_cluster(primary)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """An app of this module's own (its lifespan, with the scheduler, is not run: it would
    work on the configured database)."""
    return create_app()


@pytest.fixture
def routed(app: FastAPI, replicated: Replicated) -> Iterator[tuple[TestClient, ReadRouting]]:
    """The app with the private primary behind its sessions and a fresh ReadRouting to the
    standby (bound 30 s, checked on every request)."""
    primary_session = Session(replicated.engine, expire_on_commit=False)
    routing = ReadRouting(
        lambda: replicated.engine,
        [normalise_database_url(replicated.standby.url(DATABASE))],
        max_lag_s=30.0,
        check_interval_s=0.0,
        pool_size=2,
    )
    app.dependency_overrides.clear()
    app.dependency_overrides[db.get_session] = lambda: primary_session
    app.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(primary_session)
    app.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(primary_session)
    app.state.read_routing = routing
    with replicated.engine.connect() as connection:  # a commit the standby replays: its
        connection.execute(text("SELECT pg_current_xact_id()"))  # replay timestamp is now
        connection.commit()
    wait_until_replayed(replicated)
    try:
        yield TestClient(app), routing
    finally:
        resume_replay(replicated)
        del app.state.read_routing
        app.dependency_overrides.clear()
        routing.dispose()
        primary_session.close()


def standby_dsn(replicated: Replicated) -> str:
    return replicated.standby.libpq_dsn(DATABASE)


def log_statements_on_standby(replicated: Replicated) -> None:
    """Every statement in the standby's log, after the client's application_name."""
    with psycopg.connect(standby_dsn(replicated), autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET log_statement = 'all'")
        connection.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a: '")
        connection.execute("SELECT pg_reload_conf()")


def standby_log_mark(replicated: Replicated) -> int:
    return replicated.standby.log_file.stat().st_size


def reads_on(replicated: Replicated, since: int) -> list[str]:
    """The queries the read engine ran on the standby since the mark (its lag checks and what
    a new connection asks of the catalogue left out)."""
    with replicated.standby.log_file.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    entry = re.compile(rf"app={READ_APPLICATION_NAME}: LOG:  (?:statement|execute [^:]*): (.*)")
    statements: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if line[:4].isdigit():  # a new entry (its timestamp); others continue the last one
            found = entry.search(line)
            current = [found[1]] if found else None
            if current is not None:
                statements.append("")
        elif current is not None:
            current.append(line)
        if current is not None:
            statements[-1] = "\n".join(current)
    return [
        statement
        for statement in statements
        if re.search(r"\bfrom\b", statement, re.IGNORECASE)
        and not re.search(r"\bpg_(type|catalog|is_in_recovery)\b", statement)
    ]


def wait_until_replayed(replicated: Replicated) -> None:
    with replicated.engine.connect() as connection:
        target = connection.scalar(text("SELECT pg_current_wal_lsn()::text"))
    deadline = time.monotonic() + 30
    with psycopg.connect(standby_dsn(replicated), autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT pg_last_wal_replay_lsn() >= CAST(%s AS pg_lsn)", (target,)
            ).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < deadline, "the standby did not catch up in 30 s"
            time.sleep(0.05)


def pause_replay(replicated: Replicated) -> None:
    with psycopg.connect(standby_dsn(replicated), autocommit=True) as connection:
        connection.execute("SELECT pg_wal_replay_pause()")


def resume_replay(replicated: Replicated) -> None:
    with psycopg.connect(standby_dsn(replicated), autocommit=True) as connection:
        connection.execute("SELECT pg_wal_replay_resume()")


def manager() -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(Role.MANAGER)}"}


def file_report(client: TestClient, replicated: Replicated) -> int:
    inspector = {
        "Authorization": f"Bearer {token_for(Role.INSPECTOR, user_id=replicated.inspector_id)}"
    }
    body = {
        "report_uuid": str(uuid.uuid4()),
        "category_code": replicated.category_code,
        "lon": (BLOCK_WEST + BLOCK_EAST) / 2,
        "lat": (BLOCK_SOUTH + BLOCK_NORTH) / 2,
        "description": "replica test: a broken manhole cover 井盖破损",
    }
    response = client.post("/api/reports", json=body, headers=inspector)
    assert response.status_code == 201, response.text
    case_id: int = response.json()["case_id"]
    return case_id


def listed_case_ids(client: TestClient) -> set[int]:
    response = client.get("/api/cases?limit=200", headers=manager())
    assert response.status_code == 200, response.text
    return {int(case["id"]) for case in response.json()["items"]}


@pytest.mark.replicas
def test_a_map_page_and_the_evaluation_are_read_from_the_standby(
    routed: tuple[TestClient, ReadRouting], replicated: Replicated
) -> None:
    client, routing = routed
    mark = standby_log_mark(replicated)
    page = client.get("/maps/heatmap", headers=manager())
    assert page.status_code == 200, page.text
    map_reads = reads_on(replicated, mark)

    mark = standby_log_mark(replicated)
    today = datetime.now(UTC).date()
    period = {"from": f"{today - timedelta(days=30)}T00:00:00Z", "to": f"{today}T00:00:00Z"}
    evaluation = client.get("/api/evaluation", params=period, headers=manager())
    assert evaluation.status_code == 200, evaluation.text
    evaluation_reads = reads_on(replicated, mark)

    assert [check.lag_s for check in routing.last_checks] == [0.0]  # caught up: no lag
    assert any("FROM report" in query or "event_case" in query for query in map_reads), map_reads
    assert any("case_assignment" in query for query in evaluation_reads), evaluation_reads


@pytest.mark.replicas
def test_a_client_that_wrote_reads_its_case_back_while_the_standby_lags(
    routed: tuple[TestClient, ReadRouting], replicated: Replicated
) -> None:
    client, _ = routed
    pause_replay(replicated)  # the standby will not see the new case

    case_id = file_report(client, replicated)
    assert db.PRIMARY_COOKIE in client.cookies  # the write pins this client to the primary

    mark = standby_log_mark(replicated)
    assert case_id in listed_case_ids(client)  # read from the primary: its own write is there
    assert reads_on(replicated, mark) == []
    stranger = TestClient(client.app)  # another client, no write: read from the standby
    assert case_id not in listed_case_ids(stranger)
    assert any("event_case" in query for query in reads_on(replicated, mark))


@pytest.mark.replicas
def test_a_standby_whose_replay_is_paused_is_bypassed_past_the_bound(
    routed: tuple[TestClient, ReadRouting], replicated: Replicated
) -> None:
    client, routing = routed
    routing.max_lag_s = 0.5
    pause_replay(replicated)
    case_id = file_report(TestClient(client.app), replicated)  # another client wrote
    time.sleep(1.0)

    mark = standby_log_mark(replicated)
    assert routing.choose() is None  # behind, and its last replayed commit is older than 0.5 s
    assert case_id in listed_case_ids(client)  # so the listing is read from the primary
    assert reads_on(replicated, mark) == []
    [check] = routing.last_checks
    assert check.lag_s is not None and check.lag_s > 0.5

    resume_replay(replicated)
    wait_until_replayed(replicated)
    assert routing.choose() == "replica_1"  # caught up again: back to the standby


@pytest.mark.replicas
def test_the_standby_is_recorded_and_streams_from_the_primary(replicated: Replicated) -> None:
    [standby] = standbys(replicated.primary)
    assert standby.name == "replica_1" and standby.is_running()
    state, _lag = replication_lag(replicated.primary)["replica_1"]
    assert state == "streaming"
    assert Path(standby.root).name.endswith("-replica_1")


def test_a_standby_that_does_not_answer_is_bypassed(server_url: str, tmp_path: Path) -> None:
    primary = create_engine(server_url)
    routing = ReadRouting(
        lambda: primary,
        [f"postgresql+psycopg://postgres@/citygrid?host={tmp_path}&port=5999"],  # no server
        max_lag_s=5.0,
    )
    try:
        assert routing.choose() is None
        assert [(check.name, check.lag_s) for check in routing.last_checks] == [("replica_1", None)]
    finally:
        routing.dispose()
        primary.dispose()
