"""The audit log: failed logins, refused tokens, permission denials, revocations, and every
change an administrator makes (users, departments, calendars, ...).

A refusal is written in a statement of its own (it must be recorded even though its request
fails); a change a route makes is written in the route's transaction."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import AuditEvent
from citygrid.accounts.roles import Principal
from citygrid.db import Writer

LOG = logging.getLogger(__name__)
AUDIT_WRITE_TIMEOUT_S = 2.0


class AuditKind:
    LOGIN_FAILED = "login_failed"
    PERMISSION_DENIED = "permission_denied"
    TOKEN_REFUSED = "token_refused"  # a 401 for a token that was sent but is not good
    TOKEN_REVOKED = "token_revoked"  # logout
    TOKENS_RESET = "tokens_reset"  # log out everywhere
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_CHANGED = "password_changed"
    USER_CREATED = "user_created"
    USER_ROLE_CHANGED = "user_role_changed"  # role or department
    DEPARTMENT_CREATED = "department_created"
    DEPARTMENT_CHANGED = "department_changed"
    SUPERVISOR_ADDED = "supervisor_added"
    SUPERVISOR_REMOVED = "supervisor_removed"
    CALENDAR_CREATED = "calendar_created"
    CALENDAR_DAY_SET = "calendar_day_set"
    CALENDAR_DAY_REMOVED = "calendar_day_removed"


# The kinds whose user is the one the event is about (in the others, the administrator acting).
USER_EVENT_KINDS = (
    AuditKind.LOGIN_FAILED,
    AuditKind.TOKEN_REVOKED,
    AuditKind.TOKENS_RESET,
    AuditKind.USER_DISABLED,
    AuditKind.USER_ENABLED,
    AuditKind.PASSWORD_CHANGED,
    AuditKind.USER_CREATED,
    AuditKind.USER_ROLE_CHANGED,
)


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


def audit_change(
    session: Session, kind: str, /, *, by: Principal, origin: RequestOrigin, **details: Any
) -> None:
    """Record an administrator's change in the session's transaction: the row names who made it
    (also as details' by_user_id, as on a change of a user), `details` what changed."""
    by_details = {"by_user_id": by.user_id, "by_username": by.username}
    entry = AuditEntry(
        kind, origin, user_id=by.user_id, username=by.username, details={**details, **by_details}
    )
    add_audit_event(session, entry)


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


def user_history(session: Session, user_id: int, *, limit: int) -> Sequence[AuditEvent]:
    """The newest audit events about one user first (their logins, and changes made to them)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.user_id == user_id, AuditEvent.kind.in_(USER_EVENT_KINDS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()
