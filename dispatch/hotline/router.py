"""`/api/hotline/...` of the unit workflow: a ticket's work (deadlines, co-units, replies,
requests), the four-element reply, co-units, unreasonable requests, and the requests waiting for
a dispatcher. Signing for, returning and reassigning are the case's actions
(`POST /api/cases/{id}/actions/accept|request_return|approve_return|refuse_return|dispatch`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from dispatch.hotline import service
from dispatch.hotline.schemas import (
    CoUnitBody,
    DecisionBody,
    ReasonBody,
    ReplyBody,
    RequestRead,
    TicketWorkflowRead,
)
from events.lifecycle import DISPATCHERS

router = APIRouter(prefix="/api/hotline", tags=["hotline"], route_class=RoleCheckedRoute)

Unit = Annotated[Principal, Depends(Allow(Role.DEPARTMENT))]
Dispatcher = Annotated[Principal, Depends(Allow(*DISPATCHERS))]
Watcher = Annotated[
    Principal, Depends(Allow(Role.DEPARTMENT, Role.DISPATCHER, Role.MANAGER, Role.ADMIN))
]


@router.get("/tickets/{ticket_id:int}/workflow")
def read_workflow(
    ticket_id: BigRowId, session: SessionDep, principal: Watcher
) -> TicketWorkflowRead:
    """A ticket's deadlines with their lights, co-units, replies and requests (no caller data);
    for its lead unit, its co-units and the dispatchers."""
    return service.workflow_view(session, ticket_id, principal, datetime.now(UTC))


@router.post("/tickets/{ticket_id:int}/replies", status_code=201)
def post_reply(
    ticket_id: BigRowId, body: ReplyBody, session: SessionDep, principal: Unit
) -> TicketWorkflowRead:
    """A reply with its four elements, by the lead unit (the case becomes handled, the ticket
    replied) or by a co-unit (recorded apart). 422 names a missing element's field."""
    now = datetime.now(UTC)
    service.reply(session, ticket_id, body, principal, service.context(now))
    view = service.workflow_view(session, ticket_id, principal, now)
    session.commit()
    return view


@router.post("/tickets/{ticket_id:int}/co-units", status_code=201)
def post_co_unit(
    ticket_id: BigRowId, body: CoUnitBody, session: SessionDep, principal: Dispatcher
) -> TicketWorkflowRead:
    """Add a co-unit (协办) with its own reply deadline."""
    now = datetime.now(UTC)
    service.add_co_unit(session, ticket_id, body.department_code, principal, now)
    view = service.workflow_view(session, ticket_id, principal, now)
    session.commit()
    return view


@router.post("/tickets/{ticket_id:int}/unreasonable", status_code=201)
def post_unreasonable(
    ticket_id: BigRowId, body: ReasonBody, session: SessionDep, principal: Unit
) -> TicketWorkflowRead:
    """The lead unit flags the request as unreasonable (不合理诉求), with its reason."""
    now = datetime.now(UTC)
    service.flag_unreasonable(session, ticket_id, body.reason, principal, now)
    view = service.workflow_view(session, ticket_id, principal, now)
    session.commit()
    return view


@router.post("/tickets/{ticket_id:int}/unreasonable/decision")
def decide_unreasonable(
    ticket_id: BigRowId, body: DecisionBody, session: SessionDep, principal: Dispatcher
) -> TicketWorkflowRead:
    """Approve (the ticket leaves the rates, the reason recorded) or refuse the pending flag."""
    now = datetime.now(UTC)
    service.decide_unreasonable(
        session, ticket_id, approve=body.approve, note=body.note, principal=principal, now=now
    )
    view = service.workflow_view(session, ticket_id, principal, now)
    session.commit()
    return view


@router.get("/requests")
def read_requests(session: SessionDep, principal: Dispatcher) -> list[RequestRead]:
    """Returns and unreasonable-request flags waiting for a dispatcher, oldest first."""
    return service.pending_requests(session)
