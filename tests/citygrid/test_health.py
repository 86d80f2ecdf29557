"""Health, the API docs, and the settings a production server refuses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from citygrid.settings import DEMO_SECRET, Settings


def test_health_says_the_database_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/grid/locate" in client.get("/openapi.json").json()["paths"]


def test_demo_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="demo secret is refused"):
        Settings(env="production", secret_key=DEMO_SECRET)
    assert Settings(env="production", secret_key="a-real-secret").env == "production"
