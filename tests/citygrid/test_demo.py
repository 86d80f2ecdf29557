"""The demo city: Dongcheng District in ~100 m cells, one user per role, idempotent."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

COUNTED_TABLES = ("grid_region", "grid_cell", "app_user", "department")


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

    second = run_cli("demo", "load")
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output
    assert row_counts(session) == counts

    credentials = {"username": "inspector", "password": "inspector-demo"}
    login = client.post("/api/auth/token", data=credentials)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    located = client.get("/api/grid/locate?lon=116.4166&lat=39.9289", headers=headers)
    assert located.status_code == 200, located.text
    body = located.json()
    assert len(body["cell"]["code"]) == 15 and body["cell"]["code"].startswith("110101")
    assert body["district"] == {"code": "110101", "name": "东城区"}
    assert body["snapped"] is False
