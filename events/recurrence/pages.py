"""The ranked list page of recurrences, and the recurrence lines of the case page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal
from citygrid.db import SessionDep
from citygrid.web import N_, page_language, render
from events.recurrence import rules, service
from events.recurrence.router import RankQueryDep, ReaderDep
from events.recurrence.service import CaseLinks, RankBy

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

BY_LABELS = {
    RankBy.PLACE: N_("Places (grid cell and category)"),
    RankBy.COMPONENT: N_("Components"),
}


@router.get("/recurrences", response_class=HTMLResponse)
def recurrences_page(
    request: Request, session: SessionDep, principal: ReaderDep, query: RankQueryDep
) -> HTMLResponse:
    """The places or components whose closed cases came back most in the period."""
    rows = service.ranked(
        session,
        query.by,
        period_from=query.period_from,
        period_to=query.period_to,
        limit=query.limit,
    )
    params = {
        "by": query.by.value,
        "from": query.period_from.isoformat(),
        "to": query.period_to.isoformat(),
        "limit": query.limit,
    }
    context: dict[str, Any] = {
        "query": query,
        "rows": rows,
        "english": page_language(request) == "en",
        "by_labels": BY_LABELS,
        "csv_url": "/api/recurrences?" + urlencode({**params, "format": "csv"}),
        "json_url": "/api/recurrences?" + urlencode(params),
        "definition": rules.Definition(),
    }
    return render(request, "events/recurrences.html", context, principal=principal)


def case_links(session: Session, case_id: int, principal: Principal) -> CaseLinks | None:
    """The recurrence lines of a case page: staff only (the other case is someone else's)."""
    if principal.role not in STAFF_ROLES:
        return None
    return service.case_links(session, case_id)
