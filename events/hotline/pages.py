"""`/hotline`: the dispatchers' page of hotline tickets, those waiting to be located first.

Each tab lists tickets newest first, the caller masked. A ticket waiting to be located shows the
gazetteer's candidates: a dispatcher clicks one (or gives a point) and the ticket is located and
filed as a case, through the API the page calls (POST /api/hotline/tickets/{id}/location).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, render
from events.hotline import service
from events.hotline.schemas import TicketRead

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

Tab = Literal["to_locate", "filed", "recorded", "all"]
TABS: tuple[tuple[Tab, str], ...] = (
    ("to_locate", N_("To be located")),
    ("filed", N_("Filed as cases")),
    ("recorded", N_("Consultations and praise")),
    ("all", N_("All tickets")),
)
SHOWN = 100
LABELS = {
    "type.consultation": N_("Consultation"),
    "type.help": N_("Request for help"),
    "type.complaint": N_("Complaint"),
    "type.report": N_("Report of wrongdoing"),
    "type.suggestion": N_("Suggestion"),
    "type.praise": N_("Praise"),
    "urgency.emergency": N_("Emergency"),
    "urgency.utilities": N_("Water, power, gas, heat"),
    "urgency.general": N_("General"),
    "status.received": N_("Received"),
    "status.to_locate": N_("To be located"),
    "status.recorded": N_("Recorded"),
    "status.filed": N_("Filed"),
    "status.dispatched": N_("Dispatched"),
    "status.signed": N_("Signed for"),
    "status.returned": N_("Returned"),
    "status.replied": N_("Replied"),
    "status.rework": N_("Rework"),
    "status.closed": N_("Closed"),
    "status.cancelled": N_("Cancelled"),
}
PAGE_MESSAGES = {
    "error.gone": N_("It no longer exists: reload the page."),
    "error.forbidden": N_("You may not do this."),
    "error.field.place_id": N_("This place is not known: reload the page."),
    "error.field.ticket_id": N_("The ticket is no longer waiting to be located: reload the page."),
}


def tab_tickets(session: Session, tab: Tab) -> list[TicketRead]:
    """The tab's newest SHOWN tickets."""
    if tab == "filed":
        where = service.TicketFilter(with_case=True)
    else:
        where = service.TicketFilter(status=None if tab == "all" else tab)
    rows = service.ticket_rows(session, where, after=None, limit=SHOWN)
    return [service.ticket_read(row) for row in rows]


@router.get("/hotline", response_class=HTMLResponse)
def hotline_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.MANAGER, Role.ADMIN))],
    tab: Annotated[Tab, Query()] = "to_locate",
) -> HTMLResponse:
    """Hotline tickets by tab (to be located first), the caller masked; dispatchers locate a
    waiting ticket by clicking one of its candidate places, or by giving a point."""
    context = {
        "tabs": TABS,
        "tab": tab,
        "counts": service.tab_totals(session),
        "tickets": tab_tickets(session, tab),
        "labels": LABELS,
        "can_locate": principal.role is Role.DISPATCHER,
        "city_time": lambda moment: local_time(moment, settings.city_zone),
        "js_messages": PAGE_MESSAGES,
    }
    return render(request, "events/hotline.html", context, principal=principal)
