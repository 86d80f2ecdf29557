"""Login throttling: failed logins counted per username and per client address, each key
blocked for the back-off policy's wait (the policy itself is in `backoff`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from citygrid.accounts.backoff import BackoffPolicy, blocked_until, retry_after_s
from citygrid.accounts.models import LoginThrottle
from citygrid.errors import CitygridError

THROTTLE_KEY_MAX_CHARS = 200


class LoginThrottled(CitygridError):
    """Too many failed logins for a username or a client address: wait `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


async def current_time() -> datetime:
    """Now, for login throttling (a dependency tests replace to move the clock)."""
    return datetime.now(UTC)


def throttle_keys(username: str, client_address: str | None) -> tuple[str, ...]:
    """The keys a login attempt counts against: its username and its client address."""
    keys = [f"user:{username}"]
    if client_address:
        keys.append(f"addr:{client_address}")
    return tuple(key[:THROTTLE_KEY_MAX_CHARS] for key in keys)


def user_throttle_key(username: str) -> str:
    return throttle_keys(username, None)[0]


def seconds_blocked(session: Session, keys: Sequence[str], *, now: datetime) -> int:
    """Whole seconds before any of `keys` may try to log in again (0: now)."""
    until = session.scalar(
        select(func.max(LoginThrottle.blocked_until)).where(LoginThrottle.throttle_key.in_(keys))
    )
    return retry_after_s(until, now)


def record_login_failure(
    session: Session, keys: Sequence[str], *, now: datetime, policy: BackoffPolicy
) -> None:
    """Count a failure against each key and block it for the policy's wait."""
    for key in keys:  # a username and an address
        failures = _count_failure(session, key, now=now, policy=policy)
        until = blocked_until(failures, failed_at=now, policy=policy)
        if until is not None:
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.throttle_key == key)
                .values(blocked_until=until)
            )
    session.flush()


def _count_failure(session: Session, key: str, *, now: datetime, policy: BackoffPolicy) -> int:
    """The key's consecutive failures with this one (failures older than the memory forgotten)."""
    forgotten_before = now.timestamp() - policy.memory_s
    recent = LoginThrottle.last_failure_at >= func.to_timestamp(forgotten_before)
    statement = (
        insert(LoginThrottle)
        .values(throttle_key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.throttle_key],
            set_={
                "failures": case((recent, LoginThrottle.failures + 1), else_=1),
                "last_failure_at": now,
            },
        )
        .returning(LoginThrottle.failures)
    )
    return int(session.execute(statement).scalar_one())


def clear_login_failures(session: Session, username: str) -> None:
    """Forget a username's failures (after it logged in). Its address's are kept: one good
    account must not wipe the count of guesses at others from the same address."""
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.throttle_key == user_throttle_key(username))
    )
    session.flush()
