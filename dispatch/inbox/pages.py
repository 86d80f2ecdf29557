"""The inbox page: the caller's notices, newest first, each in the reader's language and linked
to its case. Its script (dispatch/static/inbox.js) marks them read through the JSON API."""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Principal
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, gettext_for, local_time, render
from dispatch.inbox import service as notifications
from dispatch.inbox.wording import Gettext, notice_text
from dispatch.models import Notification

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

INBOX_PAGE_SIZE = 30
INBOX_MESSAGES = {
    "inbox.failed": N_("The notice could not be marked read. Try again."),
}


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))],
    unread: bool = False,
    before_id: Annotated[BigRowId | None, Query()] = None,
) -> HTMLResponse:
    """The caller's inbox, a page at a time (older pages by `before_id`), all or unread only."""
    # One more than shown: whether there is an older page, so the last one links to nothing.
    page = notifications.inbox_page(
        session,
        principal.user_id,
        unread_only=unread,
        limit=INBOX_PAGE_SIZE + 1,
        before_id=before_id,
    )
    notices = page.items[:INBOX_PAGE_SIZE]
    items = shown_items(session, notices, gettext_for(request), settings.city_zone)
    context = {
        "items": items,
        "unread_count": page.unread_count,
        "unread_only": unread,
        "before_id": before_id,
        "next_before_id": notices[-1].id if len(page.items) > INBOX_PAGE_SIZE else None,
        "js_messages": INBOX_MESSAGES,
    }
    return render(request, "dispatch/inbox.html", context, principal=principal)


def shown_items(
    session: Session, notices: list[Notification], gettext: Gettext, zone: tzinfo
) -> list[dict[str, Any]]:
    """The notices as the page shows them: worded in the reader's language, city time."""
    facts = notifications.notice_facts(session, notices)
    items = []
    for notice, notice_facts in zip(notices, facts, strict=True):
        text = notice_text(notice_facts, gettext, zone)
        items.append(
            {
                "id": notice.id,
                "case_id": notice.case_id,
                "read": notice.read_at is not None,
                "title": text.title,
                "detail": text.detail,
                "created_at": notice.created_at,
                "created": local_time(notice.created_at, zone),
            }
        )
    return items
