"""Health, logging in, and tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.auth import Principal, Role, issue_token
from citygrid.accounts.users import UserCreate, create_user
from citygrid.settings import DEMO_SECRET, Settings, get_settings


def test_health_says_the_database_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/grid/locate" in client.get("/openapi.json").json()["paths"]


def test_log_in_and_ask_who_i_am(client: TestClient, session: Session) -> None:
    create_user(
        session, UserCreate(username="li.wei", password="correct horse", role=Role.INSPECTOR)
    )
    response = client.post(
        "/api/auth/token", data={"username": "li.wei", "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "li.wei"
    assert me.json()["role"] == "inspector"


def test_wrong_password_is_refused(client: TestClient, session: Session) -> None:
    create_user(
        session, UserCreate(username="li.wei", password="correct horse", role=Role.INSPECTOR)
    )
    response = client.post(
        "/api/auth/token", data={"username": "li.wei", "password": "wrong horse"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_expired_token_is_refused(client: TestClient) -> None:
    principal = Principal(1, "old", Role.ADMIN, None)
    token = issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(seconds=-1))
    response = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_signed_with_another_secret_is_refused(client: TestClient) -> None:
    token = issue_token(
        Principal(1, "x", Role.ADMIN, None),
        secret="another-secret-of-thirty-two-bytes!",
        ttl=timedelta(minutes=1),
    )
    response = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_passwords_are_stored_hashed_with_argon2(session: Session) -> None:
    user = create_user(
        session, UserCreate(username="wang", password="s3cret-passage-of-lilacs", role=Role.MANAGER)
    )
    assert user.password_hash.startswith("$argon2")
    assert "s3cret-passage-of-lilacs" not in user.password_hash


def test_admin_creates_a_department_member_who_needs_a_department(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = {"username": "zhao", "password": "long enough", "role": "department"}
    response = client.post("/api/users", json=body, headers=auth(Role.ADMIN))
    assert response.status_code == 422
    assert response.json()["field"] == "department_code"


def test_users_create_on_the_cli(run_cli: Callable[..., Result], session: Session) -> None:
    result = run_cli("users", "create", "chen", "--role", "dispatcher", "--password", "pass-word-1")
    assert result.exit_code == 0, result.output
    assert "created user chen (dispatcher)" in result.output
    duplicate = run_cli(
        "users", "create", "chen", "--role", "dispatcher", "--password", "pass-word-1"
    )
    assert duplicate.exit_code == 1
    assert "taken" in duplicate.output


def test_demo_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="demo secret is refused"):
        Settings(env="production", secret_key=DEMO_SECRET)
    assert Settings(env="production", secret_key="a-real-secret").env == "production"
