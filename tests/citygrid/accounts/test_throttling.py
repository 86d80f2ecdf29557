"""Login throttling: failed logins back off per username and per address, on the API and the
login page alike.

Each login checks an argon2 hash (~0.2 s of CPU), so the tests start from failures already
counted instead of making them all."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts import throttling
from citygrid.accounts.audit import RequestOrigin
from citygrid.accounts.backoff import BackoffPolicy
from citygrid.accounts.models import LoginThrottle
from citygrid.accounts.roles import Role
from citygrid.accounts.service import log_in_checked
from tests.citygrid.accounts.sign_in_support import T0, Clock, audit_rows, failed_before, log_in
from tests.events.seed import PASSWORD, add_user


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
    throttling.record_login_failure(session, keys, now=T0, policy=policy)
    assert throttling.seconds_blocked(session, keys, now=T0) == 0
    throttling.record_login_failure(session, keys[:1], now=T0, policy=policy)
    assert throttling.seconds_blocked(session, keys, now=T0) == 1
    assert throttling.seconds_blocked(session, keys[1:], now=T0) == 0  # each key on its own
    later = T0 + timedelta(hours=2)
    throttling.record_login_failure(session, keys[:1], now=later, policy=policy)
    assert throttling.seconds_blocked(session, keys, now=later) == 0  # counting from 1 again


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
