"""A department's desk page, rendered on the server from the desk's reads
(dispatch.desk.service): the department's open cases, searched and filtered like every list
(events.listing.pages), the nearest deadline first, a page at a time. Its script
(dispatch/static/) acts through the JSON API and shows its errors beside the fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, page_language, render
from dispatch.console.cards import ACTION_MESSAGES, LABELS, PAGE_SIZE, RUNNING, sort_choices
from dispatch.console.pages import filter_query
from dispatch.console.worklist import PageRequest
from dispatch.desk import service as desk
from dispatch.hotline import service as hotline
from dispatch.summons import service as summons
from events.listing.pages import PageFilters, Paging, filter_choices, kept_parameters
from events.listing.params import AfterParam, parse_sort
from events.listing.schemas import CaseSort

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

DESK_ROLES = (Role.DEPARTMENT, Role.ADMIN)
# New arrivals to accept first (a case just dispatched is on the first page), then the nearest
# deadline: the overdue cases on top of the rest.
DESK_SORT = CaseSort.TO_ACCEPT
DESK_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.hours": N_("Give the number of working hours."),
    "error.field.reason.handle": N_("Describe what was done."),
}


def desk_url(parameters: dict[str, str]) -> str:
    return "/desk?" + urlencode(parameters) if parameters else "/desk"


@router.get("/desk", response_class=HTMLResponse)
def desk_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*DESK_ROLES))],
    filters: PageFilters,
    after: AfterParam = None,
) -> HTMLResponse:
    """A department's desk: its open cases, the nearest deadline first, to accept, return,
    handle or postpone. An administrator picks the department (or sees every department's)."""
    shown = desk.desk_department(session, principal, filters.department_code)
    kept = kept_parameters(request)
    sort = parse_sort(kept.get("sort", DESK_SORT.value))
    now = datetime.now(UTC)
    page = desk.desk_cases(
        session,
        principal,
        shown["id"] if shown is not None else None,
        filters,
        PageRequest(sort, PAGE_SIZE, after),
        now=now,
    )
    choices = filter_choices(session, page_language(request), filters.area_code)
    choices |= {"statuses": {status: LABELS["status"][status] for status in RUNNING}}
    map_query = filter_query(kept, filters)
    if shown is not None:
        map_query["department_code"] = shown["code"]
    map_query.setdefault("status", ",".join(RUNNING))
    context = {
        "department": shown,
        "can_choose": principal.role is not Role.DEPARTMENT,
        "page": page,
        "paging": Paging(
            total=page.total,
            shown=len(page.cards),
            first_url=desk_url(kept) if after else None,
            next_url=desk_url({**kept, "after": page.next_cursor}) if page.next_cursor else None,
        ),
        "values": kept,
        "choices": choices,
        "sorts": sort_choices(DESK_SORT),
        "map_query": urlencode(map_query),
        "labels": LABELS,
        "photos_max": settings.photos_per_report_max,
        "js_messages": DESK_MESSAGES,
        # The hotline work (dispatch/hotline, dispatch/summons): tickets, summons, and which
        # listed cases are tickets' (returned by request, answered by a four-element reply).
        "hotline_tickets": hotline.desk_tickets(session, shown["id"], now) if shown else [],
        "summons": summons.desk_summons(session, shown["id"], now) if shown else [],
        "ticket_case_ids": hotline.ticket_case_ids(session, [c.item.id for c in page.cards]),
    }
    return render(request, "dispatch/desk.html", context, principal=principal)
