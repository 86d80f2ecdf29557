"""The in-app inbox: notifications for the caller."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Principal
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from dispatch.inbox import service as notifications
from dispatch.inbox.schemas import InboxRead, MarkedRead, NotificationRead

router = APIRouter(prefix="/api/inbox", tags=["inbox"], route_class=RoleCheckedRoute)

INBOX_PAGE_MAX = 200
Anyone = Annotated[Principal, Depends(Allow(*ALL_ROLES))]


@router.get("")
def read_inbox(
    session: SessionDep,
    principal: Anyone,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=INBOX_PAGE_MAX)] = 50,
    before_id: Annotated[BigRowId | None, Query()] = None,
) -> InboxRead:
    """The caller's notifications, newest first, with the count of unread ones."""
    page = notifications.inbox_page(
        session, principal.user_id, unread_only=unread, limit=limit, before_id=before_id
    )
    items = [NotificationRead.model_validate(item) for item in page.items]
    next_before_id = items[-1].id if len(items) == limit else None
    return InboxRead(unread_count=page.unread_count, items=items, next_before_id=next_before_id)


@router.post("/read-all")
def read_all(session: SessionDep, principal: Anyone) -> MarkedRead:
    """Marks every unread notification of the caller read; answers how many."""
    marked = notifications.mark_all_read(session, principal.user_id, now=datetime.now(UTC))
    session.commit()
    return MarkedRead(marked=marked)


@router.post("/{notification_id}/read")
def read_one(notification_id: BigRowId, session: SessionDep, principal: Anyone) -> NotificationRead:
    """Marks one of the caller's notifications read; 404 when it is not theirs."""
    notification = notifications.mark_read(
        session, principal.user_id, notification_id, now=datetime.now(UTC)
    )
    read = NotificationRead.model_validate(notification)
    session.commit()
    return read
