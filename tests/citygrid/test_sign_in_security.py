"""Sign-in security: logout and revocation, disabled users, login throttling with back-off,
password strength, and the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid import db
from citygrid.accounts import security
from citygrid.accounts.auth import (
    SESSION_COOKIE,
    Role,
    check_password_strength,
    issue_token,
    password_weakness,
)
from citygrid.accounts.backoff import (
    LOGIN_BACKOFF,
    BackoffPolicy,
    retry_after_s,
    wait_after_failures,
)
from citygrid.accounts.models import AuditEvent, LoginThrottle
from citygrid.accounts.security import RequestOrigin, RevocationState, revocations_in
from citygrid.accounts.users import User, log_in_checked
from citygrid.errors import InvalidInput
from citygrid.settings import get_settings
from tests.conftest import token_for
from tests.events.seed import PASSWORD, add_user

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
STRONG = "violet-harbour-lantern-42"


class Clock:
    """The time the login throttle sees; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    async def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(client: TestClient) -> Iterator[Clock]:
    app = client.app
    assert isinstance(app, FastAPI)
    clock = Clock(T0)
    app.dependency_overrides[security.current_time] = clock
    yield clock
    app.dependency_overrides.pop(security.current_time, None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(user: User, *, now: datetime | None = None) -> str:
    ttl = timedelta(minutes=30)
    return issue_token(user.principal(), secret=get_settings().secret_key, ttl=ttl, now=now)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def audit_rows(session: Session, kind: str) -> Sequence[AuditEvent]:
    return session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)).all()


# --- Pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (14, 512), (15, 900), (16, 900), (10**6, 900)],
)
def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(
    failures: int, wait_s: float
) -> None:
    assert wait_after_failures(failures, LOGIN_BACKOFF) == wait_s


def test_a_policy_sets_its_own_limits() -> None:
    policy = BackoffPolicy(free_failures=1, first_wait_s=10, max_wait_s=30)
    assert [wait_after_failures(n, policy) for n in range(5)] == [0, 10, 20, 30, 30]


@pytest.mark.parametrize(
    ("until", "expected"),
    [(None, 0), (T0 - timedelta(seconds=1), 0), (T0, 0), (T0 + timedelta(seconds=0.2), 1)],
)
def test_retry_after_is_whole_seconds_rounded_up(until: datetime | None, expected: int) -> None:
    assert retry_after_s(until, T0) == expected


@pytest.mark.parametrize(
    ("password", "user_inputs", "complaint"),
    [
        ("Xk9#q", (), "at least 10 characters"),
        ("password123", (), "too easy to guess"),
        ("qwertyuiop", (), "too easy to guess"),
        ("zhangwei1234", ("zhangwei",), "too easy to guess"),
        ("citygrid-2026", (), "too easy to guess"),
        (STRONG, ("zhangwei",), None),
        ("correct horse battery staple", (), None),
    ],
)
def test_password_strength(
    password: str, user_inputs: tuple[str, ...], complaint: str | None
) -> None:
    weakness = password_weakness(password, user_inputs=user_inputs)
    if complaint is None:
        assert weakness is None
    else:
        assert weakness is not None and complaint in weakness


def test_a_weak_password_is_an_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="too easy to guess") as raised:
        check_password_strength("password123")
    assert raised.value.field == "password"


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


# --- Logout and revocation --------------------------------------------------------------------


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


def test_a_token_without_an_id_is_refused(client: TestClient) -> None:
    claims = {"sub": "1", "name": "x", "role": "admin", "dept": None, "exp": 2**40, "iat": 1}
    token = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    assert client.get("/api/users", headers=bearer(token)).status_code == 401


# --- Disabled users, log out everywhere, password changes --------------------------------------


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


# --- Login throttling ---------------------------------------------------------------------------
# Each login checks an argon2 hash (~0.2 s of CPU), so the tests start from failures already
# counted instead of making them all.


def failed_before(session: Session, key: str, failures: int) -> None:
    session.add(LoginThrottle(throttle_key=key, failures=failures, last_failure_at=T0))
    session.flush()


def test_failed_logins_back_off_with_retry_after(
    client: TestClient, session: Session, clock: Clock
) -> None:
    add_user(session, Role.INSPECTOR, username="wang.fang")
    failed_before(session, "user:wang.fang", 4)
    assert log_in(client, "wang.fang", "guess-again").status_code == 401  # 5th: wait 1 s
    blocked = log_in(client, "wang.fang", PASSWORD)  # the right password, but too soon
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "1"
    assert blocked.json()["retry_after_s"] == 1
    clock.advance(1.5)
    assert log_in(client, "wang.fang", "guess-again").status_code == 401  # 6th: wait 2 s
    clock.advance(0.5)
    assert log_in(client, "wang.fang", PASSWORD).headers["Retry-After"] == "2"
    clock.advance(1.5)
    assert log_in(client, "wang.fang", PASSWORD).status_code == 200
    reasons = [row.details["reason"] for row in audit_rows(session, "login_failed")]
    assert sorted(reasons) == ["throttled"] * 2 + ["wrong password"] * 2


def test_a_success_resets_the_users_count_but_not_the_addresss(session: Session) -> None:
    add_user(session, Role.INSPECTOR, username="sun")
    failed_before(session, "user:sun", 3)
    failed_before(session, "addr:10.0.0.1", 3)
    origin = RequestOrigin(client_address="10.0.0.1")
    log_in_checked(session, "sun", PASSWORD, origin=origin, now=T0)
    counts = dict(session.execute(select(LoginThrottle.throttle_key, LoginThrottle.failures)).all())
    assert counts == {"addr:10.0.0.1": 3}


def test_failures_in_a_row_are_counted_and_old_ones_forgotten(session: Session) -> None:
    keys = ("user:a", "addr:b")
    policy = BackoffPolicy(free_failures=2, memory_s=3600)
    security.record_login_failure(session, keys, now=T0, policy=policy)
    assert security.seconds_blocked(session, keys, now=T0) == 0
    security.record_login_failure(session, keys[:1], now=T0, policy=policy)
    assert security.seconds_blocked(session, keys, now=T0) == 1
    assert security.seconds_blocked(session, keys[1:], now=T0) == 0  # each key on its own
    later = T0 + timedelta(hours=2)
    security.record_login_failure(session, keys[:1], now=later, policy=policy)
    assert security.seconds_blocked(session, keys, now=later) == 0  # counting from 1 again


def test_one_address_is_throttled_across_usernames(
    client: TestClient, session: Session, clock: Clock
) -> None:
    add_user(session, Role.MANAGER, username="guo")
    failed_before(session, "addr:testclient", 4)
    assert log_in(client, "nobody", "whatever-it-is").status_code == 401
    assert log_in(client, "guo", PASSWORD).status_code == 429
    elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))
    assert log_in(elsewhere, "guo", PASSWORD).status_code == 200
    [row] = audit_rows(session, "login_failed")[:1]
    assert row.client_address == "testclient" and row.details["reason"] == "unknown user"


def test_the_login_page_is_throttled_too(
    client: TestClient, session: Session, clock: Clock
) -> None:
    add_user(session, Role.INSPECTOR, username="he")
    failed_before(session, "user:he", 4)
    form = {"username": "he", "password": "not-it-at-all", "next": ""}
    assert client.post("/login", data=form).status_code == 401
    form["password"] = PASSWORD
    page = client.post("/login", data=form, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 429
    assert page.headers["Retry-After"] == "1"
    assert "登录失败次数过多，请 1 秒后再试。" in page.text
    clock.advance(1)
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


# --- Password strength at creation ----------------------------------------------------------------


def test_a_weak_password_is_refused_when_creating_a_user(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = {"username": "liu", "password": "liu-liu-liu-liu", "role": "inspector"}
    answer = client.post("/api/users", json=body, headers=auth(Role.ADMIN))
    assert answer.status_code == 422
    assert answer.json()["field"] == "password"
    assert "too easy to guess" in answer.json()["detail"]
    short = client.post("/api/users", json={**body, "password": "Xk9#q2"}, headers=auth(Role.ADMIN))
    assert short.status_code == 422 and "password" in short.json()["detail"][0]["loc"]
    strong = client.post("/api/users", json={**body, "password": STRONG}, headers=auth(Role.ADMIN))
    assert strong.status_code == 201, strong.text


def test_users_create_on_the_cli_refuses_a_weak_password(run_cli: Callable[..., Result]) -> None:
    weak = run_cli("users", "create", "ma", "--role", "citizen", "--password", "password1234")
    assert weak.exit_code == 1
    assert "too easy to guess" in weak.output
    strong = run_cli("users", "create", "ma", "--role", "citizen", "--password", STRONG)
    assert strong.exit_code == 0, strong.output


# --- Audit ----------------------------------------------------------------------------------------


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


def test_revocations_in_makes_one_state_per_app(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    assert revocations_in(app.state) is revocations_in(app.state)
