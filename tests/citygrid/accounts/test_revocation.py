"""Token revocation: logout, the in-memory state and its refresh from the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.accounts.auth import SESSION_COOKIE
from citygrid.accounts.revocation import RevocationState, revocations_in
from citygrid.accounts.roles import Role
from tests.citygrid.accounts.sign_in_support import audit_rows, bearer, log_in, token_of
from tests.events.seed import add_user


@pytest.mark.parametrize(
    ("token_id", "user_id", "issued_at", "refused"),
    [
        ("gone", 1, 100.0, "logged out"),
        ("fine", 2, 100.0, "disabled"),
        ("fine", 3, 99.0, "password change or log out everywhere"),
        ("fine", 3, 100.0, None),
        ("fine", 4, 1.0, None),
    ],
)
def test_revocation_state_refuses(
    token_id: str, user_id: int, issued_at: float, refused: str | None
) -> None:
    state = RevocationState()
    state.revoke("gone", expires_at=10**10)
    state.set_user(2, active=False, valid_after=None)
    state.set_user(3, active=True, valid_after=datetime.fromtimestamp(100.0, UTC))
    refusal = state.refusal(user_id=user_id, token_id=token_id, issued_at=issued_at)
    assert (refusal is None) if refused is None else (refusal is not None and refused in refusal)


def test_logout_revokes_the_token(client: TestClient, session: Session) -> None:
    user = add_user(session, Role.INSPECTOR, username="li.wei")
    token = log_in(client, "li.wei").json()["access_token"]
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    refused = client.get("/api/users/me", headers=bearer(token))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert client.get("/api/users/me", headers=bearer(token_of(user))).status_code == 200
    [revoked] = audit_rows(session, "token_revoked")
    assert revoked.user_id == user.id
    [refusal] = audit_rows(session, "token_refused")
    assert refusal.path == "/api/users/me" and "revoked" in refusal.details["reason"]


def test_another_process_reads_the_revocation_from_the_database(
    client: TestClient, session: Session
) -> None:
    user = add_user(session, Role.DISPATCHER)
    token = token_of(user)
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    del client.app.state.revocations  # type: ignore[attr-defined]  # a process that never knew
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 401


def test_the_state_is_re_read_after_its_refresh_interval(session: Session) -> None:
    user = add_user(session, Role.MANAGER)
    state = RevocationState()
    fetch = db.session_fetcher(session)
    asyncio.run(state.ensure_fresh(fetch, max_age_s=60, token_ttl_s=3600))
    user.is_active = False
    session.flush()
    asyncio.run(state.ensure_fresh(fetch, max_age_s=60, token_ttl_s=3600))
    assert state.refusal(user_id=user.id, token_id="t", issued_at=0) is None  # not yet re-read
    asyncio.run(state.ensure_fresh(fetch, max_age_s=0, token_ttl_s=3600))
    assert state.refusal(user_id=user.id, token_id="t", issued_at=0) == "the user is disabled"


def test_page_logout_revokes_the_cookies_token(client: TestClient, session: Session) -> None:
    user = add_user(session, Role.MANAGER)
    token = token_of(user)
    client.cookies.set(SESSION_COOKIE, token)
    answer = client.post("/logout", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    client.cookies.clear()
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 401


def test_revocations_in_makes_one_state_per_app(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    assert revocations_in(app.state) is revocations_in(app.state)
