"""Single-point locate through the real async connection pool, on committed data.

The other locate tests run the same SQL through the test's session (to see uncommitted rows);
this one runs the production path: psycopg's async pool on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.db import AsyncStatements
from tests.conftest import throwaway_database, token_for
from tests.grid.places import CELL_NE, CELL_SW, centre_of, east_of_block, seed_block

HEADERS = {"Authorization": f"Bearer {token_for(Role.INSPECTOR)}"}


@pytest.fixture(scope="module")
def committed_grid_url(server_url: str) -> Iterator[str]:
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = create_engine(url)
        with Session(engine) as session:
            seed_block(session)
            session.commit()
        engine.dispose()
        yield url


def client_reading(url: str, *, timeout_s: float = 5.0) -> TestClient:
    app = create_app()
    app.state.statements = AsyncStatements(url, max_size=2, timeout_s=timeout_s)
    return TestClient(app)


def test_pooled_locate_finds_the_cell_and_snaps(committed_grid_url: str) -> None:
    with client_reading(committed_grid_url) as client:
        for cell in (CELL_NE, CELL_SW):
            lon, lat = centre_of(cell)
            response = client.get(
                "/api/grid/locate", params={"lon": lon, "lat": lat}, headers=HEADERS
            )
            assert response.status_code == 200, response.text
            assert response.json()["cell"]["code"] == cell.code
        lon, lat = east_of_block(10)
        snapped = client.get("/api/grid/locate", params={"lon": lon, "lat": lat}, headers=HEADERS)
        assert snapped.json()["snapped"] is True
        lon, lat = east_of_block(100)
        outside = client.get("/api/grid/locate", params={"lon": lon, "lat": lat}, headers=HEADERS)
        assert outside.status_code == 422
        assert "outside the managed area" in outside.json()["detail"]


def test_pooled_locate_answers_503_when_the_database_is_unreachable() -> None:
    unreachable = "postgresql+psycopg://nobody@/none?host=/nonexistent&port=1"
    with client_reading(unreachable, timeout_s=0.5) as client:
        response = client.get(
            "/api/grid/locate", params={"lon": 116.4, "lat": 39.9}, headers=HEADERS
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
