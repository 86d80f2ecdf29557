"""The dispatchers' queue (filed, unrouted, returned cases, suggested department); bulk assign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import Count
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from dispatch.queue import service as queue_service
from dispatch.queue.schemas import AssignOutcome, BulkAssignBody, QueuePage, RerouteBody, Rerouted
from dispatch.queue.service import QueueKind
from events.cases.schemas import CaseActionBody
from events.lifecycle import DISPATCHERS
from events.listing.params import AfterParam, FiltersDep, SortParam
from events.listing.schemas import CaseSort

router = APIRouter(prefix="/api/dispatch", tags=["dispatch"], route_class=RoleCheckedRoute)
Reader = Annotated[Principal, Depends(Allow(*DISPATCHERS, Role.MANAGER))]
# The document's bound: the setting's default (a deployment may set a lower one, refused below).
QUEUE_PAGE_MAX: int = Settings.model_fields["queue_page_max"].default
Dispatcher = Annotated[Principal, Depends(Allow(*DISPATCHERS))]


@router.get("/queue")
def read_queue(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    filters: FiltersDep,
    kind: QueueKind = QueueKind.ALL,
    sort: SortParam = CaseSort.URGENCY,
    limit: Annotated[int, Query(ge=1, le=QUEUE_PAGE_MAX)] = 100,
    offset: Annotated[Count, Query()] = 0,
    after: AfterParam = None,
) -> QueuePage:
    """Cases waiting for a department that match the listing's filters and search: urgent
    first, then the newest (or in another listing sort), each with the suggested department and
    why (or why no rule matched) and how often it bounced. Paged by `offset`, or by `after`: the
    cursor of the next page is in the `Link` header (rel="next")."""
    if limit > settings.queue_page_max:
        raise InvalidInput(f"limit is at most {settings.queue_page_max}", field="limit")
    if after is not None and offset:
        raise InvalidInput("give either offset or after, not both", field="after")
    listing = queue_service.queue_page(
        session,
        principal,
        kind,
        filters=filters,
        sort=sort,
        page_size=limit,
        after=after,
        offset=offset,
        now=datetime.now(UTC),
    )
    if listing.next_cursor is not None:
        following = request.url.remove_query_params("offset").include_query_params(
            after=listing.next_cursor
        )
        response.headers["Link"] = f'<{following}>; rel="next"'
    return listing.page


@router.post("/assign")
def bulk_assign(
    body: BulkAssignBody, session: SessionDep, settings: SettingsDep, principal: Dispatcher
) -> list[AssignOutcome]:
    """Dispatch several cases at once; all or nothing (409 lists every case that cannot go)."""
    if len(body.case_ids) > settings.bulk_assign_max:
        raise InvalidInput(f"at most {settings.bulk_assign_max} cases at once", field="case_ids")
    action_body = CaseActionBody(department_code=body.department_code, reason=body.reason)
    outcomes = queue_service.assign_many(
        session,
        body.case_ids,
        action_body,
        principal,
        datetime.now(UTC),
        reopen_window=timedelta(days=settings.reopen_window_days),
        default_calendar_code=settings.default_calendar_code,
    )
    session.commit()
    return outcomes


@router.post("/queue/reroute")
def reroute(body: RerouteBody, session: SessionDep, principal: Dispatcher) -> Rerouted:
    """Route waiting cases again with the rules in force now (after a rule change)."""
    routed = queue_service.reroute_waiting(session, body.case_ids, now=datetime.now(UTC))
    session.commit()
    return Rerouted(routed=routed)
