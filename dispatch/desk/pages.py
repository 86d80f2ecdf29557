"""A department's desk page, rendered on the server from the desk's reads
(dispatch.desk.service). Its script (dispatch/static/) acts through the JSON API and shows its
errors beside the fields."""

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
from dispatch.calendars.service import calendar_for_department
from dispatch.console.cards import ACTION_MESSAGES, LABELS
from dispatch.desk import service as desk
from dispatch.desk.service import DeskCase

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

DESK_ROLES = (Role.DEPARTMENT, Role.ADMIN)
DESK_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.hours": N_("Give the number of working hours."),
    "error.field.reason.handle": N_("Describe what was done."),
}


@router.get("/desk")
def desk_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*DESK_ROLES))],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """A department's desk: its cases by deadline, to accept, return, handle or postpone."""
    shown, choices = desk.desk_department(session, principal, department)
    cases: list[DeskCase] = []
    if shown is not None:
        calendar = calendar_for_department(
            session, shown["id"], default_code=settings.default_calendar_code
        )
        cases = desk.desk_cases(session, shown["id"], principal.role, datetime.now(UTC), calendar)
    context = {
        "department": shown,
        "departments": choices,
        "cases": cases,
        "labels": LABELS,
        "photos_max": settings.photos_per_report_max,
        "js_messages": DESK_MESSAGES,
    }
    return render(request, "dispatch/desk.html", context, principal=principal)
