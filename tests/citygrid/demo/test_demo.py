"""The demo city: Dongcheng District in ~100 m cells, one user per role, idempotent, and a
history that looks like a command centre's real day.

The demo is loaded once for the module (it takes seconds), inside a transaction that is rolled
back at the end; the tests only read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from citygrid import cli as citygrid_cli
from citygrid import db, rate_limit
from dispatch.rules import routing
from events.listing.service import overdue_condition
from events.models import Case

# Loads the whole demo city (20,000 cases).
pytestmark = pytest.mark.heavy

COUNTED_TABLES = (
    "grid_region",
    "grid_cell",
    "app_user",
    "department",
    "event_case",
    "report",
    "case_transition",
    "case_assignment",
)


def row_counts(session: Session) -> dict[str, int]:
    return {
        table: int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        for table in COUNTED_TABLES
    }


@pytest.fixture(scope="module")
def demo_session(engine: Engine) -> Iterator[Session]:
    """One transaction for the module, rolled back at its end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        yield session
        session.close()
        transaction.rollback()


def run_demo_load(session: Session) -> Result:
    """`citygrid demo load` inside the module's transaction."""

    @contextmanager
    def given_session() -> Iterator[Session]:
        yield session

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "open_session", given_session)
        citygrid_cli.register_domain_commands()
        return CliRunner().invoke(citygrid_cli.app, ["demo", "load"])


@pytest.fixture(scope="module")
def first_load(demo_session: Session) -> Result:
    return run_demo_load(demo_session)


@pytest.fixture
def demo_client(
    served: tuple[FastAPI, TestClient], demo_session: Session, first_load: Result
) -> Iterator[TestClient]:
    """The shared app, reading the loaded demo."""
    app, test_client = served
    app.dependency_overrides.clear()
    app.dependency_overrides[db.get_session] = lambda: demo_session
    app.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(demo_session)
    app.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(demo_session)
    test_client.cookies.clear()
    rate_limit.forget_limiters(app.state)
    yield test_client
    app.dependency_overrides.clear()
    test_client.cookies.clear()


def signed_in(client: TestClient, username: str) -> dict[str, str]:
    credentials = {"username": username, "password": f"{username}-demo-dongcheng"}
    login = client.post("/api/auth/token", data=credentials)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def scalar(session: Session, sql: str) -> Any:
    return session.scalar(text(sql))


def test_demo_load_twice_adds_nothing_the_second_time_and_locates_dongcheng(
    first_load: Result, demo_session: Session, demo_client: TestClient
) -> None:
    session = demo_session
    assert first_load.exit_code == 0, first_load.output
    assert "cells added" in first_load.output
    for role in ("inspector", "citizen", "dispatcher", "department", "manager", "admin"):
        assert f"{role}-demo" in first_load.output
    counts = row_counts(session)
    assert 3_800 < counts["grid_cell"] < 4_800  # Dongcheng is ~42 km²
    # Six people who sign in; the service accounts (the sensing system) are inactive.
    assert scalar(session, "SELECT count(*) FROM app_user WHERE is_active") == 6
    streets = scalar(session, "SELECT count(*) FROM grid_region WHERE level = 'street'")
    # Seven specialists, the district government (the hotline's 兜底), a street office per street.
    assert counts["department"] == 8 + streets
    # Every dispatched case has its assignment; every waiting one its routing decision.
    assert (
        scalar(
            session,
            "SELECT count(*) FROM event_case c WHERE c.department_id IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM case_assignment a WHERE a.case_id = c.id)",
        )
        == 0
    )
    assert (
        scalar(
            session,
            "SELECT count(*) FROM event_case c WHERE c.status IN ('filed', 'returned') AND NOT"
            " EXISTS (SELECT 1 FROM routing_decision d WHERE d.case_id = c.id)",
        )
        == 0
    )
    assert scalar(session, "SELECT count(*) FROM rule_set") == 1
    # 90 days of people's reports, one report each; devices' cases beside them (one report
    # per alarm folded in).
    from_people = (
        "SELECT count(*) FROM {table} WHERE NOT EXISTS (SELECT 1 FROM report r"
        " WHERE r.case_id = {case} AND r.channel IN ('sensor', 'video'))"
    )
    assert scalar(session, from_people.format(table="event_case c", case="c.id")) == 20_000
    assert scalar(session, from_people.format(table="report p", case="p.case_id")) == 20_000
    from_devices = scalar(session, "SELECT count(*) FROM sensing_case")
    assert 20 < from_devices < 200 and counts["event_case"] == 20_000 + from_devices
    statuses: dict[str, int] = {
        status: count
        for status, count in session.execute(
            text("SELECT status, count(*) FROM event_case GROUP BY 1")
        )
    }
    # The states of any hour of the day; returned or handled cases may be gone at night.
    assert {
        "reported",
        "filed",
        "not_filed",
        "accepted",
        "suspended",
        "closed",
        "cancelled",
    } <= set(statuses)
    assert statuses["closed"] > 17_000  # most of 90 days' cases are done
    # Concentrated, not uniform: the busiest 5 % of cells hold far more than 5 % of the cases.
    busiest_share = scalar(
        session,
        "WITH per_cell AS (SELECT count(*) AS n FROM event_case GROUP BY cell_id), "
        "ranked AS (SELECT n, ntile(20) OVER (ORDER BY n DESC) AS twentieth FROM per_cell) "
        "SELECT sum(n) FILTER (WHERE twentieth = 1)::float / sum(n) FROM ranked",
    )
    assert busiest_share is not None and busiest_share > 0.3

    second = run_demo_load(session)
    assert second.exit_code == 0, second.output
    assert "demo city already loaded" in second.output
    assert "demo history already loaded" in second.output
    assert row_counts(session) == counts

    headers = signed_in(demo_client, "inspector")
    located = demo_client.get("/api/grid/locate?lon=116.4166&lat=39.9289", headers=headers)
    assert located.status_code == 200, located.text
    body = located.json()
    assert len(body["cell"]["code"]) == 15 and body["cell"]["code"].startswith("110101")
    assert body["district"] == {"code": "110101", "name": "东城区"}
    assert body["snapped"] is False


def test_the_queue_holds_last_nights_and_todays_reports_and_a_few_dozen_are_overdue(
    first_load: Result, demo_session: Session
) -> None:
    session = demo_session
    # Waiting to be filed since the report, to be dispatched since the filing (as the
    # dispatch queue counts it): last night's and today's, none for days.
    waiting = session.execute(
        text(
            "SELECT count(*) AS n, max(now() - coalesce(filed_at, created_at)) AS oldest"
            " FROM event_case WHERE status IN ('reported', 'filed', 'returned')"
        )
    ).one()
    assert 5 <= waiting.n <= 300
    assert waiting.oldest < timedelta(hours=48)
    overdue = session.scalar(select(func.count()).select_from(Case).where(overdue_condition()))
    assert 5 <= (overdue or 0) <= 150
    # Handled cases waiting for the inspector's check: tens, not hundreds.
    assert scalar(session, "SELECT count(*) FROM event_case WHERE status = 'handled'") < 100
    older_open = scalar(
        session,
        "SELECT count(*) FILTER (WHERE status NOT IN ('closed', 'not_filed', 'cancelled'))::float"
        " / count(*) FROM event_case WHERE created_at < now() - interval '14 days'",
    )
    assert older_open < 0.02  # older cases are mostly closed


def test_grades_spread_and_every_department_has_cases_in_the_last_90_days(
    demo_client: TestClient, demo_session: Session
) -> None:
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(days=90)).isoformat(), "to": now.isoformat()}
    answer = demo_client.get(
        "/api/evaluation", params=period, headers=signed_in(demo_client, "manager")
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    streets = scalar(demo_session, "SELECT count(*) FROM grid_region WHERE level = 'street'")
    assert len(rows) == 8 + streets
    # Every unit has its share of grid cases, but the district government: it is the hotline's
    # unit of last resort (兜底) and gets only tickets nobody else accepted.
    idle = [row["key"] for row in rows if not row["dispatched"]]
    assert set(idle) <= {"110101-ZF"}
    assert len({row["grade"] for row in rows}) >= 3
    offices = [row for row in rows if row["key"].startswith("110101-JD-")]
    assert len(offices) == streets
    by_key = {row["key"]: row for row in rows}
    assert by_key["110101-LD"]["dispatched"] > 100 and by_key["110101-SZ"]["dispatched"] > 100


def test_component_cases_stand_at_a_component_and_go_to_its_maintainer(
    first_load: Result, demo_session: Session
) -> None:
    mismatched = demo_session.execute(
        text(
            "SELECT count(*) FILTER (WHERE c.component_id IS NOT NULL) AS at_component,"
            " count(*) FILTER (WHERE cp.maintainer_department_id IS NOT NULL"
            "   AND first.department_id <> cp.maintainer_department_id) AS elsewhere,"
            " max(c.component_distance_m) AS farthest_m"
            " FROM event_case c JOIN category cat ON cat.id = c.category_id"
            " LEFT JOIN component cp ON cp.id = c.component_id"
            " JOIN LATERAL (SELECT a.department_id FROM case_assignment a"
            "   WHERE a.case_id = c.id ORDER BY a.dispatched_at LIMIT 1) first ON true"
            " WHERE cat.kind = 'component' AND cat.code IN ('0101', '0102', '0103', '0118')"
        )
    ).one()
    assert mismatched.at_component > 500
    assert mismatched.elsewhere == 0
    assert mismatched.farthest_m <= 5.0


def test_each_case_went_first_where_the_routing_rules_send_it(
    first_load: Result, demo_session: Session
) -> None:
    firsts: dict[int, int] = {
        case_id: department_id
        for case_id, department_id in demo_session.execute(
            text(
                "SELECT DISTINCT ON (a.case_id) a.case_id, a.department_id"
                " FROM case_assignment a JOIN event_case c ON c.id = a.case_id"
                " WHERE c.id % 40 = 0 ORDER BY a.case_id, a.dispatched_at"
            )
        )
    }
    assert len(firsts) > 400
    with demo_session.begin_nested() as routed:  # decisions are stored: undo them
        decisions = routing.decide_routes(demo_session, list(firsts), at=datetime.now(UTC))
        routed.rollback()
    assert {case_id: decisions[case_id].department_id for case_id in firsts} == firsts
