"""Notifications: messages written to users' in-app inboxes, one set-based insert per notice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import BigInteger

from citygrid.accounts.models import Department
from citygrid.errors import NotFound
from dispatch.inbox.wording import NoticeFacts
from dispatch.models import Notification
from events.models import Case

KIND_MAX_CHARS = 32  # notification.kind

# One row per active recipient, whatever the caller passed twice or not at all (a user id that
# no longer exists or was deactivated is skipped rather than failing the whole transaction).
NOTIFY_USERS = text(
    """
    INSERT INTO notification (user_id, case_id, kind, title, body, created_at)
    SELECT u.id, :case_id, :kind, :title, :body, :now
    FROM app_user AS u
    WHERE u.id = ANY(:user_ids) AND u.is_active
    """
).bindparams(bindparam("user_ids", type_=ARRAY(BigInteger)), bindparam("body", type_=JSONB))

NOTIFY_DEPARTMENT = text(
    """
    INSERT INTO notification (user_id, case_id, kind, title, body, created_at)
    SELECT u.id, :case_id, :kind, :title, :body, :now
    FROM app_user AS u
    WHERE u.department_id = :department_id AND u.role = 'department' AND u.is_active
    """
).bindparams(bindparam("body", type_=JSONB))


def notify(
    session: Session,
    user_ids: Iterable[int],
    *,
    kind: str,
    title: str,
    case_id: int | None = None,
    body: Mapping[str, Any] | None = None,
    now: datetime,
) -> int:
    """Writes one inbox message per distinct active user; returns how many were written."""
    params = _notice(kind=kind, title=title, case_id=case_id, body=body, now=now)
    params["user_ids"] = sorted(set(user_ids))
    return _inserted(session, NOTIFY_USERS, params)


def notify_department(
    session: Session,
    department_id: int,
    *,
    kind: str,
    title: str,
    case_id: int | None = None,
    body: Mapping[str, Any] | None = None,
    now: datetime,
) -> int:
    """Writes the message to every active member of a department; returns how many."""
    params = _notice(kind=kind, title=title, case_id=case_id, body=body, now=now)
    params["department_id"] = department_id
    return _inserted(session, NOTIFY_DEPARTMENT, params)


def _notice(
    *,
    kind: str,
    title: str,
    case_id: int | None,
    body: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not 0 < len(kind) <= KIND_MAX_CHARS:
        raise ValueError(f"a notification kind has 1 to {KIND_MAX_CHARS} characters: {kind!r}")
    jsonable_body = to_jsonable_python(dict(body or {}))
    return {"kind": kind, "title": title, "case_id": case_id, "body": jsonable_body, "now": now}


def _inserted(session: Session, statement: TextClause, params: dict[str, Any]) -> int:
    result = session.execute(statement, params)
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class InboxPage:
    """A page of a user's notifications, newest first, and how many are unread in all."""

    items: list[Notification]
    unread_count: int


def inbox_page(
    session: Session, user_id: int, *, unread_only: bool, limit: int, before_id: int | None
) -> InboxPage:
    """The user's notifications, newest first, older than `before_id` when given."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    items = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))
    unread = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return InboxPage(items=items, unread_count=session.scalar(unread) or 0)


def mark_read(
    session: Session, user_id: int, notification_id: int, *, now: datetime
) -> Notification:
    """Marks one of the user's notifications read (kept as first read); NotFound for others'."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound(f"no notification {notification_id} in your inbox")
    if notification.read_at is None:
        notification.read_at = now
        session.flush()
    return notification


def mark_all_read(session: Session, user_id: int, *, now: datetime) -> int:
    """Marks every unread notification of the user read; returns how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def notice_facts(session: Session, items: list[Notification]) -> list[NoticeFacts]:
    """Each notice with its case's number and the name of the department its body names (two
    queries, whatever the page's length)."""
    case_ids = {item.case_id for item in items if item.case_id is not None}
    department_ids = {item.body.get("department_id") for item in items} - {None}
    numbers = _labels(session, select(Case.id, Case.number).where(Case.id.in_(case_ids)))
    names = _labels(
        session, select(Department.id, Department.name).where(Department.id.in_(department_ids))
    )
    return [
        NoticeFacts(
            kind=item.kind,
            stored_title=item.title,
            body=item.body,
            case_number=numbers.get(item.case_id or 0),
            department_name=names.get(item.body.get("department_id") or 0),
        )
        for item in items
    ]


def _labels(session: Session, query: Select[int, str]) -> dict[int, str]:
    return {key: label for key, label in session.execute(query)}
