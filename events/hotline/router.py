"""`/api/hotline/tickets`: tickets from the hotline system (API key), the lists, the caller, the
export, and the dispatcher's pick for a ticket waiting to be located."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from citygrid.accounts.auth import PUBLIC, Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import CSV, BigRowId, IsoDateTime, answers
from citygrid.db import FetchDep, SessionDep, WriterDep
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from events.cases.workflow import CaseWorkflowDep
from events.hotline import service
from events.hotline.keys import KEY_HEADER, admitted_source
from events.hotline.schemas import (
    CallerRead,
    LocationPick,
    TicketCreate,
    TicketPage,
    TicketRead,
    TicketStatusFilter,
)
from events.hotline.standard import TicketType, UrgencyClass, mask_name, mask_phone

router = APIRouter(tags=["hotline"], route_class=RoleCheckedRoute)

LIST_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)
CALLER_ROLES = (Role.DISPATCHER, Role.DEPARTMENT)
PAGE_SIZE_DEFAULT = 50
CURSOR_MAX_CHARS = 200
EXPORT_FIELDS = (
    "ticket_number",
    "received_at",
    "ticket_type",
    "urgency_class",
    "status",
    "location_status",
    "address_text",
    "cell_code",
    "category_code",
    "case_number",
    "caller_name",
    "caller_phone",
    "content",
)


def now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/api/hotline/tickets",
    status_code=201,
    dependencies=[Depends(PUBLIC)],
    responses={
        200: {"model": TicketRead, "description": "a replay: the ticket stored with this number"},
        403: {"description": f"the {KEY_HEADER} key is missing, unknown or revoked"},
    },
)
async def receive_ticket(
    ticket: TicketCreate,
    response: Response,
    fetch: FetchDep,
    writer: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    api_key: Annotated[str | None, Header(alias=KEY_HEADER, max_length=200)] = None,
) -> TicketRead:
    """Store a ticket of the hotline system (201), or answer the one stored with its number
    (200): consultations and praise are recorded; other tickets are located (coordinates, else
    the address) and filed as cases, or wait in the to-be-located list."""
    source = await admitted_source(fetch, api_key)
    filing = service.Filing(workflow, settings, session)
    stored = await service.receive_ticket(writer, ticket, source=source, filing=filing, now=now())
    if stored.replayed:
        response.status_code = 200
    return stored


def encode_cursor(received_at: datetime, ticket_id: int) -> str:
    payload = json.dumps([received_at.isoformat(), ticket_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int]:
    try:
        if len(token) > CURSOR_MAX_CHARS:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        at, ticket_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(ticket_id, int):
            raise ValueError("not a cursor")
        return moment, ticket_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "after must be the next_cursor of a previous page", field="after"
        ) from error


def ticket_filter(
    status: Annotated[TicketStatusFilter | None, Query()] = None,
    ticket_type: Annotated[TicketType | None, Query()] = None,
    urgency_class: Annotated[UrgencyClass | None, Query()] = None,
    received_from: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    received_to: Annotated[IsoDateTime | None, Query(alias="to")] = None,
) -> service.TicketFilter:
    """The list's filters: status, type, urgency class, and a received period [from, to)."""
    start, end = _aware(received_from), _aware(received_to)
    if start and end and end < start:
        raise InvalidInput("to must not be before from", field="to")
    return service.TicketFilter(
        status=status,
        ticket_type=ticket_type.value if ticket_type else None,
        urgency_class=urgency_class.value if urgency_class else None,
        received_from=start,
        received_to=end,
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


FilterDep = Annotated[service.TicketFilter, Depends(ticket_filter)]


@router.get("/api/hotline/tickets")
def list_tickets(
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*LIST_ROLES))],
    where: FilterDep,
    after: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE_DEFAULT,
) -> TicketPage:
    """Tickets newest first, a page at a time (keyset: pass next_cursor as `after`); the
    caller's name and phone masked. `status=to_locate` is the to-be-located list, with each
    ticket's candidate places."""
    limit = min(page_size, settings.hotline_page_max)
    cursor = decode_cursor(after) if after else None
    rows = service.ticket_rows(session, where, after=cursor, limit=limit + 1)
    tickets = [service.ticket_read(row) for row in rows[:limit]]
    next_cursor = (
        encode_cursor(tickets[-1].received_at, tickets[-1].id) if len(rows) > limit else None
    )
    return TicketPage(tickets=tickets, next_cursor=next_cursor)


@router.get(
    "/api/hotline/tickets/export",
    **answers(CSV, description="The matching tickets as CSV (UTF-8 with a BOM), callers masked"),
)
def export_tickets(
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*LIST_ROLES))],
    where: FilterDep,
) -> Response:
    """Every matching ticket as CSV: times in the city's zone, the caller masked."""
    zone = settings.city_zone
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    after: tuple[datetime, int] | None = None
    while True:
        rows = service.ticket_rows(session, where, after=after, limit=5_000)
        for row in rows:
            writer.writerow(export_values(row, zone))
        if len(rows) < 5_000:
            break
        after = (rows[-1].received_at, rows[-1].id)
    stamp = datetime.now(zone).strftime("%Y%m%dT%H%M%S")
    return Response(
        ("\ufeff" + buffer.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="hotline-tickets-{stamp}.csv"'},
    )


def export_values(row: Any, zone: Any) -> list[Any]:
    values = {
        **row._asdict(),
        "received_at": row.received_at.astimezone(zone).isoformat(timespec="minutes"),
        "caller_name": mask_name(row.caller_name),
        "caller_phone": mask_phone(row.caller_phone),
    }
    return [values[field] for field in EXPORT_FIELDS]


@router.get("/api/hotline/tickets/{ticket_id:int}")
def get_ticket(
    ticket_id: BigRowId,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*LIST_ROLES))],
) -> TicketRead:
    """One ticket, the caller masked."""
    return service.get_ticket(session, ticket_id)


@router.get("/api/hotline/tickets/{ticket_id:int}/caller")
def get_caller(
    ticket_id: BigRowId,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*CALLER_ROLES))],
    reason: Annotated[str, Query(min_length=1, max_length=200)] = "callback",
) -> CallerRead:
    """The caller's name and phone in full, for dispatchers and members of the ticket's lead
    department; every view is written to the audit log."""
    caller = service.caller_of(
        session, ticket_id, principal=principal, reason=reason, origin=request_origin(request)
    )
    session.commit()
    return CallerRead(ticket_id=caller.ticket_id, name=caller.name, phone=caller.phone)


@router.post("/api/hotline/tickets/{ticket_id:int}/location")
async def pick_location(
    ticket_id: BigRowId,
    pick: LocationPick,
    writer: WriterDep,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Annotated[Principal, Depends(Allow(Role.DISPATCHER))],
) -> TicketRead:
    """Locate a ticket waiting to be located (a candidate place, or a point) and file its case."""
    filing = service.Filing(workflow, settings, session)
    return await service.pick_location(
        writer, ticket_id, pick, by=principal, filing=filing, now=now()
    )
