"""Users: logging in, adding users (API and CLI), disabling them, logging them out everywhere,
and changing one's password."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from citygrid.accounts.schemas import UserCreate
from citygrid.accounts.service import create_user
from tests.citygrid.accounts.sign_in_support import (
    STRONG,
    Clock,
    audit_rows,
    bearer,
    log_in,
    token_of,
)
from tests.events.seed import PASSWORD, add_user


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


def test_a_disabled_user_is_refused_and_cannot_log_in(
    client: TestClient, session: Session, clock: Clock
) -> None:
    admin = add_user(session, Role.ADMIN)
    user = add_user(session, Role.INSPECTOR, username="zhao")
    token = token_of(user)
    changed = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, headers=bearer(token_of(admin))
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_active"] is False
    refused = client.get("/api/users/me", headers=bearer(token))
    assert (refused.status_code, refused.json()["detail"]) == (401, "the user is disabled")
    assert log_in(client, "zhao").status_code == 401
    [disabled] = audit_rows(session, "user_disabled")
    assert disabled.user_id == user.id and disabled.details["by_user_id"] == admin.id
    [failed] = audit_rows(session, "login_failed")
    assert failed.details["reason"] == "disabled user"


def test_an_admin_cannot_disable_themselves(client: TestClient, session: Session) -> None:
    admin = add_user(session, Role.ADMIN)
    answer = client.patch(
        f"/api/users/{admin.id}", json={"is_active": False}, headers=bearer(token_of(admin))
    )
    assert answer.status_code == 409 and answer.json()["field"] == "is_active"


def test_log_out_everywhere_refuses_only_older_tokens(client: TestClient, session: Session) -> None:
    admin = add_user(session, Role.ADMIN)
    user = add_user(session, Role.DEPARTMENT)
    old = token_of(user, now=datetime.now(UTC) - timedelta(seconds=5))
    answer = client.patch(
        f"/api/users/{user.id}", json={"log_out_everywhere": True}, headers=bearer(token_of(admin))
    )
    assert answer.status_code == 200, answer.text
    assert client.get("/api/users/me", headers=bearer(old)).status_code == 401
    assert client.get("/api/users/me", headers=bearer(token_of(user))).status_code == 200
    assert len(audit_rows(session, "tokens_reset")) == 1


def test_changing_ones_password(client: TestClient, session: Session) -> None:
    user = add_user(session, Role.CITIZEN, username="chen.li")
    old = token_of(user, now=datetime.now(UTC) - timedelta(seconds=1))
    change = {"current_password": PASSWORD, "new_password": "password123"}
    weak = client.post("/api/users/me/password", json=change, headers=bearer(old))
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    change = {"current_password": "not-my-password", "new_password": STRONG}
    wrong = client.post("/api/users/me/password", json=change, headers=bearer(old))
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    change = {"current_password": PASSWORD, "new_password": STRONG}
    changed = client.post("/api/users/me/password", json=change, headers=bearer(old))
    assert changed.status_code == 200, changed.text
    assert client.get("/api/users/me", headers=bearer(old)).status_code == 401
    new = changed.json()["access_token"]
    assert client.get("/api/users/me", headers=bearer(new)).status_code == 200
    assert len(audit_rows(session, "password_changed")) == 1
