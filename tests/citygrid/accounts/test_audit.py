"""The audit log: failed logins, denials and refused tokens are recorded; admins read them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.accounts.roles import Role
from tests.citygrid.accounts.sign_in_support import Clock, audit_rows, bearer, log_in, token_of
from tests.conftest import token_for
from tests.events.seed import add_user


def test_a_failed_login_and_a_denial_are_audited(
    client: TestClient, session: Session, clock: Clock
) -> None:
    add_user(session, Role.INSPECTOR, username="xu")
    assert log_in(client, "xu", "not-the-password").status_code == 401
    inspector = add_user(session, Role.INSPECTOR)
    denied = client.get(
        "/api/users", headers={**bearer(token_of(inspector)), "X-Request-ID": "r-1"}
    )
    assert denied.status_code == 403
    [failed] = audit_rows(session, "login_failed")
    assert (failed.username, failed.client_address, failed.path) == (
        "xu",
        "testclient",
        "/api/auth/token",
    )
    assert failed.details == {"reason": "wrong password"}
    [denial] = audit_rows(session, "permission_denied")
    assert (denial.user_id, denial.method, denial.path, denial.request_id) == (
        inspector.id,
        "GET",
        "/api/users",
        "r-1",
    )
    assert denial.details["role"] == "inspector"


def test_a_denial_raised_by_a_service_is_audited_once(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    # The role check admits department members; the evaluation service refuses them other rows.
    denied = client.get(
        "/api/evaluation?by=street&from=2026-09-01&to=2026-12-01", headers=auth(Role.DEPARTMENT)
    )
    assert denied.status_code == 403
    [denial] = audit_rows(session, "permission_denied")
    assert (denial.method, denial.path, denial.details["role"]) == (
        "GET",
        "/api/evaluation",
        "department",
    )
    assert "by=department" in denial.details["reason"]


def test_a_garbage_token_is_audited(client: TestClient, session: Session) -> None:
    assert client.get("/api/users/me", headers=bearer("not-a-token")).status_code == 401
    [refusal] = audit_rows(session, "token_refused")
    assert refusal.details == {"reason": "the token is not valid"}


def test_a_failed_audit_write_still_answers_403(client: TestClient) -> None:
    class BrokenWriter:
        async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
            raise OSError("disk full")

    app = client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[db.get_writer] = lambda: BrokenWriter()
    answer = client.get("/api/users", headers=bearer(token_for(Role.CITIZEN)))
    assert answer.status_code == 403


def test_the_audit_log_is_for_admins(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    for role in (Role.CITIZEN, Role.MANAGER):
        assert client.get("/api/audit", headers=auth(role)).status_code == 403
    client.get("/api/users/me", headers=bearer("not-a-token"))
    answer = client.get(
        "/api/audit",
        params={"kind": "permission_denied", "since": "2000-01-01T00:00:00Z", "limit": 1},
        headers=auth(Role.ADMIN),
    )
    assert answer.status_code == 200
    [event] = answer.json()
    assert event["kind"] == "permission_denied" and event["path"] == "/api/audit"
    everything = client.get("/api/audit", headers=auth(Role.ADMIN)).json()
    assert {"permission_denied", "token_refused"} <= {event["kind"] for event in everything}
