"""The dispatchers' console page, rendered on the server from the dispatchers' queue and the
console's reads (dispatch.console.service). Its script (dispatch/static/) acts through the JSON
API and shows its errors beside the fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, render
from dispatch.console import service as console
from dispatch.console.cards import ACTION_MESSAGES, LABELS, ROWS_SHOWN
from dispatch.departments.service import active_departments
from dispatch.queue import service as queue_service
from dispatch.queue.service import QueueKind
from events.lifecycle import DISPATCHERS

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

CONSOLE_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)
QUEUE_KIND_LABELS = {
    QueueKind.NEW.value: N_("New"),
    QueueKind.UNROUTED.value: N_("Unrouted"),
    QueueKind.RETURNED.value: N_("Returned"),
}
CONSOLE_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.case_ids": N_("Nothing was dispatched: these cases cannot go."),
    "error.field.hours": N_("Grant at most the hours asked for."),
    "error.none_selected": N_("Select at least one case."),
    "selected": N_("{count} selected"),
}


@router.get("/console")
def console_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*CONSOLE_ROLES))],
    overdue: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """The dispatchers' console: queues, reports to file, duplicates, approvals, deadlines."""
    now = datetime.now(UTC)
    context = {
        "queue": queue_service.queue_page(
            session, QueueKind.ALL, limit=ROWS_SHOWN, offset=0, now=now
        ),
        "to_file": console.reports_to_file(session),
        "duplicates": console.duplicate_pairs(session, settings),
        "approvals": console.requests_to_approve(session),
        "held": console.held_cases(session, principal, overdue_only=overdue),
        "overdue_only": overdue,
        "departments": active_departments(session),
        "can_act": principal.role in DISPATCHERS,
        "labels": LABELS,
        "queue_kind_labels": QUEUE_KIND_LABELS,
        "js_messages": CONSOLE_MESSAGES,
    }
    return render(request, "dispatch/console.html", context, principal=principal)
