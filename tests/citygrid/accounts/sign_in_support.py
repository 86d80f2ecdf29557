"""What the sign-in security tests share: a clock the throttle sees, tokens, logins, audit rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import issue_token
from citygrid.accounts.models import AuditEvent, LoginThrottle, User
from citygrid.settings import get_settings
from tests.events.seed import PASSWORD

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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(user: User, *, now: datetime | None = None) -> str:
    ttl = timedelta(minutes=30)
    return issue_token(user.principal(), secret=get_settings().secret_key, ttl=ttl, now=now)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def audit_rows(session: Session, kind: str) -> Sequence[AuditEvent]:
    return session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)).all()


def failed_before(session: Session, key: str, failures: int) -> None:
    session.add(LoginThrottle(throttle_key=key, failures=failures, last_failure_at=T0))
    session.flush()
