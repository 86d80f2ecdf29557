"""`/hotline/callbacks`: the callback operators' list, with one-click answers per ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, render
from dispatch.callbacks import service
from dispatch.callbacks.router import Operator, retry_policy
from dispatch.console.cards import ACTION_MESSAGES

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

SOLVED_LABELS = (
    ("solved", N_("Solved")),
    ("partly", N_("Partly solved")),
    ("not_solved", N_("Not solved")),
)
SATISFACTION_LABELS = (
    ("satisfied", N_("Satisfied")),
    ("fair", N_("Fair")),
    ("unsatisfied", N_("Not satisfied")),
)
TYPE_LABELS = {
    "consultation": N_("Consultation"),
    "help": N_("Request for help"),
    "complaint": N_("Complaint"),
    "report": N_("Report of wrongdoing"),
    "suggestion": N_("Suggestion"),
    "praise": N_("Praise"),
}
CALLBACK_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.next_try_at": N_("Too soon for another try: wait until the time shown."),
    "caller.failed": N_("The caller could not be shown."),
}


@router.get("/hotline/callbacks", response_class=HTMLResponse)
def callbacks_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Operator
) -> HTMLResponse:
    """Tickets waiting for a callback, oldest reply first, each with its one-click answers."""
    policy = retry_policy(settings)
    context: dict[str, Any] = {
        "tasks": service.waiting_list(session, policy=policy, limit=200, now=datetime.now(UTC)),
        "max_attempts": policy.max_attempts,
        "solved_labels": SOLVED_LABELS,
        "satisfaction_labels": SATISFACTION_LABELS,
        "type_labels": TYPE_LABELS,
        "js_messages": CALLBACK_MESSAGES,
    }
    return render(request, "dispatch/hotline_callbacks.html", context, principal=principal)
