"""Sign-in security: token revocation state, login throttling and the audit log.

Revocation is checked on every authenticated request, so it is answered from memory: each
process keeps the revoked token ids, the disabled users and each user's `tokens_valid_after`,
re-read from the database at most every `revocation_refresh_s` seconds, and changed at once
when this process makes the change (logout, disable, password change). Another process sees a
change within that many seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from citygrid.accounts.backoff import BackoffPolicy, blocked_until, retry_after_s
from citygrid.accounts.models import AuditEvent, LoginThrottle
from citygrid.db import RowFetcher, Writer
from citygrid.errors import CitygridError

LOG = logging.getLogger(__name__)
# A revocation is read by the time its row was written; a transaction committing later than
# this after it began would be missed by the incremental read (logouts take milliseconds).
REVOKED_OVERLAP_S = 60.0
AUDIT_WRITE_TIMEOUT_S = 2.0
THROTTLE_KEY_MAX_CHARS = 200


class AuditKind:
    LOGIN_FAILED = "login_failed"
    PERMISSION_DENIED = "permission_denied"
    TOKEN_REFUSED = "token_refused"  # a 401 for a token that was sent but is not good
    TOKEN_REVOKED = "token_revoked"  # logout
    TOKENS_RESET = "tokens_reset"  # log out everywhere
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_CHANGED = "password_changed"


class LoginThrottled(CitygridError):
    """Too many failed logins for a username or a client address: wait `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


async def current_time() -> datetime:
    """Now, for login throttling (a dependency tests replace to move the clock)."""
    return datetime.now(UTC)


# --- Revocation state -------------------------------------------------------------------------

REVOKED_SINCE_SQL = """
SELECT token_id::text AS token_id, extract(epoch FROM expires_at)::float8 AS expires_at,
       extract(epoch FROM revoked_at)::float8 AS revoked_at
FROM revoked_token
WHERE revoked_at > to_timestamp(%(since)s) AND expires_at > now()
"""
# Users whose tokens are refused in part: disabled ones, and those with a valid-after instant
# recent enough for a token issued before it to be still unexpired.
USER_RULES_SQL = """
SELECT id, is_active, extract(epoch FROM tokens_valid_after)::float8 AS valid_after
FROM app_user
WHERE NOT is_active OR tokens_valid_after > now() - make_interval(secs => %(token_ttl_s)s)
"""


@dataclass
class UserRule:
    active: bool
    valid_after: float | None  # epoch seconds


class RevocationState:
    """What this process knows of refused tokens; see the module's docstring."""

    def __init__(self) -> None:
        self.revoked_until: dict[str, float] = {}  # token id → its expiry (epoch seconds)
        self.users: dict[int, UserRule] = {}
        self.loaded = False
        self.refreshed_at = -math.inf  # time.monotonic()
        self.newest_revoked_at = 0.0
        # What this process changed while the rows were read: they may be older than that.
        self._changed_while_reading: dict[int, UserRule] = {}
        self._revoked_while_reading: dict[str, float] = {}
        self._reading = asyncio.Lock()

    def refusal(self, *, user_id: int, token_id: str, issued_at: float) -> str | None:
        """Why a token is refused, or None when it is not."""
        if token_id in self.revoked_until:
            return "the token was revoked (logged out); log in again"
        rule = self.users.get(user_id)
        if rule is None:
            return None
        if not rule.active:
            return "the user is disabled"
        if rule.valid_after is not None and issued_at < rule.valid_after:
            return "the token was revoked (password change or log out everywhere); log in again"
        return None

    def revoke(self, token_id: str, expires_at: float) -> None:
        self.revoked_until[token_id] = expires_at
        self._revoked_while_reading[token_id] = expires_at

    def set_user(self, user_id: int, *, active: bool, valid_after: datetime | None) -> None:
        rule = UserRule(active, valid_after.timestamp() if valid_after else None)
        self.users[user_id] = rule
        self._changed_while_reading[user_id] = rule

    def is_stale(self, max_age_s: float) -> bool:
        return time.monotonic() - self.refreshed_at >= max_age_s

    async def ensure_fresh(
        self, fetch: RowFetcher, *, max_age_s: float, token_ttl_s: float
    ) -> None:
        """Re-read the state when it is older than `max_age_s`. While one request reads it,
        the others go on with the previous state; only the very first read is waited for."""
        if time.monotonic() - self.refreshed_at < max_age_s:
            return
        if self.loaded and self._reading.locked():
            return
        async with self._reading:
            if time.monotonic() - self.refreshed_at < max_age_s:
                return
            try:
                await self._read(fetch, token_ttl_s)
            except Exception:
                if not self.loaded:
                    raise
                LOG.warning("revocation state not refreshed; using the previous one", exc_info=True)
            self.refreshed_at = time.monotonic()

    async def _read(self, fetch: RowFetcher, token_ttl_s: float) -> None:
        self._changed_while_reading, self._revoked_while_reading = {}, {}
        since = max(self.newest_revoked_at - REVOKED_OVERLAP_S, 0.0)
        revoked = await fetch(REVOKED_SINCE_SQL, {"since": since})
        rules = await fetch(USER_RULES_SQL, {"token_ttl_s": token_ttl_s})
        now = time.time()
        # A copy: a sync route may revoke a token from another thread meanwhile.
        kept = {jti: until for jti, until in self.revoked_until.copy().items() if until > now}
        kept.update((row.token_id, row.expires_at) for row in revoked)
        kept.update(self._revoked_while_reading)
        self.revoked_until = kept
        self.newest_revoked_at = max([self.newest_revoked_at, *(r.revoked_at for r in revoked)])
        users = {row.id: UserRule(row.is_active, row.valid_after) for row in rules}
        users.update(self._changed_while_reading)
        self.users = users
        self.loaded = True


_creating_state = threading.Lock()


def revocations_in(holder: Any) -> RevocationState:
    """The app's revocation state (kept as `holder.revocations`, made on first use)."""
    state: RevocationState | None = getattr(holder, "revocations", None)
    if state is None:
        with _creating_state:
            state = getattr(holder, "revocations", None)
            if state is None:
                state = RevocationState()
                holder.revocations = state
    return state


def revoke_token(
    session: Session, *, token_id: str, user_id: int, expires_at: datetime, now: datetime
) -> None:
    """Record a token as revoked until it expires (rows of expired tokens are dropped)."""
    session.execute(
        text(
            "INSERT INTO revoked_token (token_id, user_id, expires_at) "
            "SELECT CAST(:token_id AS uuid), id, :expires_at FROM app_user WHERE id = :user_id "
            "ON CONFLICT DO NOTHING"
        ),
        {"token_id": token_id, "user_id": user_id, "expires_at": expires_at},
    )
    session.execute(text("DELETE FROM revoked_token WHERE expires_at < :now"), {"now": now})
    session.flush()


# --- Audit ------------------------------------------------------------------------------------

# The user id only when that user exists: a denial must be recorded even for a token of a
# user that has gone (the username stays).
AUDIT_INSERT_SQL = """
INSERT INTO audit_event
    (kind, user_id, username, client_address, method, path, request_id, details)
VALUES (%(kind)s, (SELECT id FROM app_user WHERE id = %(user_id)s), %(username)s,
        %(client_address)s, %(method)s, %(path)s, %(request_id)s, CAST(%(details)s AS jsonb))
RETURNING id
"""


@dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from, as the audit log records it."""

    client_address: str | None = None
    method: str | None = None
    path: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    kind: str
    origin: RequestOrigin
    user_id: int | None = None
    username: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """The entry as AUDIT_INSERT_SQL's parameters (clipped to the columns' widths)."""
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "username": self.username[:64] if self.username is not None else None,
            "client_address": (self.origin.client_address or "")[:64] or None,
            "method": (self.origin.method or "")[:8] or None,
            "path": self.origin.path,
            "request_id": (self.origin.request_id or "")[:64] or None,
            "details": json.dumps(self.details, ensure_ascii=False),
        }


async def write_audit_event(writer: Writer, entry: AuditEntry) -> None:
    """Append an audit event in a statement of its own. A failure is logged, never raised:
    the refusal being recorded must still be answered as what it is, not as a 500."""
    try:
        await asyncio.wait_for(
            writer.execute(AUDIT_INSERT_SQL, entry.parameters()), AUDIT_WRITE_TIMEOUT_S
        )
    except Exception:
        LOG.error("audit event %s not written", entry.kind, exc_info=True)


def add_audit_event(session: Session, entry: AuditEntry) -> None:
    """Append an audit event to the session's transaction."""
    session.connection().exec_driver_sql(AUDIT_INSERT_SQL, entry.parameters())


def audit_events(
    session: Session, *, kind: str | None, since: datetime | None, limit: int
) -> Sequence[AuditEvent]:
    """The newest audit events first, of one kind and from an instant on when asked."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return session.scalars(query).all()


# --- Login throttling -------------------------------------------------------------------------


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


def new_token_id() -> str:
    return str(uuid.uuid4())
