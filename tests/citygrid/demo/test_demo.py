"""The demo city: Dongcheng District in ~100 m cells, one user per role, idempotent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

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
)


def row_counts(session: Session) -> dict[str, int]:
    return {
        table: int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        for table in COUNTED_TABLES
    }


def test_demo_load_twice_adds_nothing_the_second_time_and_locates_dongcheng(
    run_cli: Callable[..., Result], session: Session, client: TestClient
) -> None:
    first = run_cli("demo", "load")
    assert first.exit_code == 0, first.output
    assert "cells added" in first.output
    for role in ("inspector", "citizen", "dispatcher", "department", "manager", "admin"):
        assert f"{role}-demo" in first.output
    counts = row_counts(session)
    assert 3_800 < counts["grid_cell"] < 4_800  # Dongcheng is ~42 km²
    assert counts["app_user"] == 6
    streets = session.scalar(text("SELECT count(*) FROM grid_region WHERE level = 'street'"))
    assert counts["department"] == 8 + streets  # a street office per street
    # Every dispatched case has its assignment; every waiting one its routing decision.
    assert (
        session.scalar(
            text(
                "SELECT count(*) FROM event_case c WHERE c.department_id IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM case_assignment a WHERE a.case_id = c.id)"
            )
        )
        == 0
    )
    assert (
        session.scalar(
            text(
                "SELECT count(*) FROM event_case c WHERE c.status IN ('filed', 'returned') AND NOT"
                " EXISTS (SELECT 1 FROM routing_decision d WHERE d.case_id = c.id)"
            )
        )
        == 0
    )
    assert session.scalar(text("SELECT count(*) FROM rule_set")) == 1
    assert counts["event_case"] == counts["report"] == 20_000
    statuses: dict[str, int] = dict(
        (row[0], row[1])
        for row in session.execute(text("SELECT status, count(*) FROM event_case GROUP BY 1"))
    )
    assert set(statuses) == {
        "reported",
        "filed",
        "not_filed",
        "dispatched",
        "returned",
        "accepted",
        "handled",
        "rework",
        "suspended",
        "closed",
        "cancelled",
    }
    assert statuses["closed"] > 10_000  # most of 90 days' cases are done
    # Concentrated, not uniform: the busiest 5 % of cells hold far more than 5 % of the cases.
    busiest_share = session.scalar(
        text(
            "WITH per_cell AS (SELECT count(*) AS n FROM event_case GROUP BY cell_id), "
            "ranked AS (SELECT n, ntile(20) OVER (ORDER BY n DESC) AS twentieth FROM per_cell) "
            "SELECT sum(n) FILTER (WHERE twentieth = 1)::float / sum(n) FROM ranked"
        )
    )
    assert busiest_share is not None and busiest_share > 0.3

    second = run_cli("demo", "load")
    assert second.exit_code == 0, second.output
    assert "demo city already loaded" in second.output
    assert "demo history already loaded" in second.output
    assert row_counts(session) == counts

    credentials = {"username": "inspector", "password": "inspector-demo-dongcheng"}
    login = client.post("/api/auth/token", data=credentials)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    located = client.get("/api/grid/locate?lon=116.4166&lat=39.9289", headers=headers)
    assert located.status_code == 200, located.text
    body = located.json()
    assert len(body["cell"]["code"]) == 15 and body["cell"]["code"].startswith("110101")
    assert body["district"] == {"code": "110101", "name": "东城区"}
    assert body["snapped"] is False
