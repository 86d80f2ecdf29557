"""The hotline unit workflow on the database: replies, co-units, unreasonable requests, the
callback's rework and close, and the reads of the desk, the console and the ticket.

Signing for (签收), the return request and its decision, reassigning and the lead's handling
are case actions (dispatch/actions, with dispatch.hotline.steps writing the ticket); this
module adds what is the ticket's own. Functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal, Role
from citygrid.errors import Conflict, InvalidInput, NotFound
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from dispatch.hotline import steps
from dispatch.hotline.models import HotlineCoUnit, HotlineReply, HotlineUnitRequest
from dispatch.hotline.replies import DeadlineState, checked_reply, deadline_state, due
from dispatch.hotline.schemas import (
    CoUnitRead,
    DeadlineRead,
    ReplyBody,
    ReplyRead,
    RequestRead,
    TicketWorkflowRead,
)
from events.cases.schemas import CaseActionBody
from events.hotline.models import HotlineCaller, HotlineTicket
from events.hotline.service import record_event
from events.hotline.standard import TicketStatus
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case

WATCHING_ROLES = frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN})


def get_ticket(session: Session, ticket_id: int, *, lock: bool = False) -> HotlineTicket:
    query = select(HotlineTicket).where(HotlineTicket.id == ticket_id)
    ticket = session.scalar(query.with_for_update() if lock else query)
    if ticket is None:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    return ticket


def case_of(session: Session, ticket: HotlineTicket) -> Case:
    case = session.get(Case, ticket.case_id) if ticket.case_id is not None else None
    if case is None:
        raise Conflict(f"ticket {ticket.ticket_number} has no case (yet)", field="ticket_id")
    return case


def co_unit_of(session: Session, ticket_id: int, department_id: int | None) -> HotlineCoUnit | None:
    if department_id is None:
        return None
    return session.scalar(
        select(HotlineCoUnit).where(
            HotlineCoUnit.ticket_id == ticket_id, HotlineCoUnit.department_id == department_id
        )
    )


def unit_ticket(session: Session, ticket_id: int, principal: Principal) -> HotlineTicket:
    """The ticket, for a member of its lead unit or of a co-unit, or a watching role; otherwise
    NotFound worded as for a missing ticket."""
    ticket = get_ticket(session, ticket_id)
    if principal.role in WATCHING_ROLES:
        return ticket
    department_id = principal.department_id
    if department_id is not None and (
        ticket.lead_department_id == department_id
        or co_unit_of(session, ticket.id, department_id) is not None
    ):
        return ticket
    raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")


@dataclass(frozen=True)
class ActingContext:
    """What an action through the case workflow needs from the deployment."""

    now: datetime
    reopen_window: timedelta
    default_calendar_code: str
    zone: ZoneInfo


def context(now: datetime) -> ActingContext:
    settings = get_settings()
    return ActingContext(
        now=now,
        reopen_window=timedelta(days=settings.reopen_window_days),
        default_calendar_code=settings.default_calendar_code,
        zone=settings.city_zone,
    )


def act(
    session: Session,
    case: Case,
    action: CaseAction,
    principal: Principal,
    body: CaseActionBody,
    ctx: ActingContext,
) -> Case:
    return actions.act_on_case(
        session,
        case.id,
        action,
        principal,
        body,
        ctx.now,
        reopen_window=ctx.reopen_window,
        default_calendar_code=ctx.default_calendar_code,
    )


def aware(value: datetime, zone: ZoneInfo) -> datetime:
    """A time without a zone is the city's local time."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def reply(
    session: Session,
    ticket_id: int,
    body: ReplyBody,
    principal: Principal,
    ctx: ActingContext,
) -> HotlineReply:
    """A four-element reply by the lead unit (the case becomes handled, the ticket replied) or
    by a co-unit (recorded apart; the co-unit's deadline is met)."""
    ticket = get_ticket(session, ticket_id, lock=True)
    case = case_of(session, ticket)
    rest_by = body.rest_by if isinstance(body.rest_by, str) else aware(body.rest_by, ctx.zone)
    checked = checked_reply(
        received_at=aware(body.received_at, ctx.zone),
        contacted_person=body.contacted_person,
        contacted_at=aware(body.contacted_at, ctx.zone),
        action_taken=body.action_taken,
        rest_by=rest_by,
        now=ctx.now,
    )
    department_id = principal.department_id
    lead = department_id is not None and department_id == case.department_id
    co_unit = None if lead else co_unit_of(session, ticket.id, department_id)
    if not lead and co_unit is None:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    assert department_id is not None
    row = HotlineReply(
        ticket_id=ticket.id,
        department_id=department_id,
        unit_role="lead" if lead else "co",
        work_round=case.rework_count,
        received_at=checked.received_at,
        contacted_person=checked.contacted_person,
        contacted_at=checked.contacted_at,
        action_taken=checked.action_taken,
        rest_due_at=checked.rest_due_at,
        done=checked.done,
        replied_by=principal.user_id,
        replied_at=ctx.now,
    )
    session.add(row)
    session.flush()
    if lead:
        # The handling of the case: dispatch.hotline.steps writes the ticket and its event.
        # Its reason goes into the case's history and webhook: the caller's name/phone masked.
        caller = session.get(HotlineCaller, ticket.id)
        handling = CaseActionBody(reason=steps.masked(row.action_taken, caller))
        act(session, case, CaseAction.HANDLE, principal, handling, ctx)
        return row
    assert co_unit is not None
    co_unit.replied_at = ctx.now
    if ticket.first_contacted_at is None:
        ticket.first_contacted_at = checked.contacted_at
    session.flush()
    record_event(session, ticket.id, "reply", steps.reply_data(session, row), now=ctx.now)
    return row


def department_by_code(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None or not department.is_active:
        raise InvalidInput(f"no department has code {code!r}", field="department_code")
    return department


def add_co_unit(
    session: Session, ticket_id: int, code: str, principal: Principal, now: datetime
) -> HotlineCoUnit:
    """A co-unit (协办) beside the lead unit, with its own reply deadline from now."""
    ticket = get_ticket(session, ticket_id, lock=True)
    case = case_of(session, ticket)
    if CaseStatus(case.status) not in (
        CaseStatus.DISPATCHED,
        CaseStatus.ACCEPTED,
        CaseStatus.REWORK,
        CaseStatus.HANDLED,
    ):
        raise Conflict(
            f"co-units join a ticket whose case is with a lead unit (it is {case.status})",
            field="ticket_id",
        )
    department = department_by_code(session, code)
    if department.id == case.department_id:
        raise Conflict(f"{code} is the ticket's lead unit", field="department_code")
    chosen = steps.policy()
    calendar = steps.calendar_for(session, department.id, chosen)
    row = HotlineCoUnit(
        ticket_id=ticket.id,
        department_id=department.id,
        added_by=principal.user_id,
        added_at=now,
        reply_due_at=due(now, steps.limits_of(ticket, chosen).reply, calendar).at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"{code} is already a co-unit of this ticket", field="department_code"
        ) from error
    data = {
        "case_number": case.number,
        "department_code": department.code,
        "reply_due_at": row.reply_due_at.isoformat() if row.reply_due_at else None,
    }
    record_event(session, ticket.id, "co_unit_added", data, now=now)
    return row


def flag_unreasonable(
    session: Session, ticket_id: int, reason: str, principal: Principal, now: datetime
) -> HotlineUnitRequest:
    """The lead unit flags the request as unreasonable (不合理诉求); a dispatcher decides."""
    ticket = get_ticket(session, ticket_id, lock=True)
    case = case_of(session, ticket)
    if principal.department_id is None or principal.department_id != case.department_id:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    if ticket.unreasonable:
        raise Conflict("the request is already judged unreasonable", field="ticket_id")
    if pending_request(session, ticket.id, "unreasonable") is not None:
        raise Conflict("an unreasonable-request flag is already pending", field="ticket_id")
    row = HotlineUnitRequest(
        ticket_id=ticket.id,
        kind="unreasonable",
        department_id=principal.department_id,
        reason=reason.strip(),
        requested_by=principal.user_id,
        requested_at=now,
    )
    session.add(row)
    session.flush()
    data = {"case_number": case.number, "decision": "requested", "reason": row.reason}
    record_event(session, ticket.id, "unreasonable", data, now=now)
    return row


def pending_request(session: Session, ticket_id: int, kind: str) -> HotlineUnitRequest | None:
    return session.scalar(
        select(HotlineUnitRequest).where(
            HotlineUnitRequest.ticket_id == ticket_id,
            HotlineUnitRequest.kind == kind,
            HotlineUnitRequest.decision.is_(None),
        )
    )


def decide_unreasonable(
    session: Session,
    ticket_id: int,
    *,
    approve: bool,
    note: str | None,
    principal: Principal,
    now: datetime,
) -> HotlineUnitRequest:
    """Approved: the ticket is unreasonable (the unit's reason recorded) and left out of the
    rates; refused: the unit works on."""
    ticket = get_ticket(session, ticket_id, lock=True)
    pending = pending_request(session, ticket.id, "unreasonable")
    if pending is None:
        raise Conflict("no unreasonable-request flag is pending", field="ticket_id")
    pending.decision = "approved" if approve else "refused"
    pending.decision_note = note.strip() if note and note.strip() else None
    pending.decided_by = principal.user_id
    pending.decided_at = now
    if approve:
        ticket.unreasonable = True
        ticket.unreasonable_reason = pending.reason
    ticket.updated_at = now
    session.flush()
    data = {"decision": pending.decision, "reason": pending.reason}
    if pending.decision_note:
        data["note"] = pending.decision_note
    record_event(session, ticket.id, "unreasonable", data, now=now)
    return pending


# For dispatch/hotline_rates (CONTRACTS.md): the callback's outcome on the work.


def rework_after_callback(
    session: Session, ticket_id: int, *, by: Principal, now: datetime, note: str
) -> None:
    """The callback found it not solved: the same lead unit works again (rework) against a new
    reply deadline. `by` is a dispatcher (or administrator)."""
    ticket = get_ticket(session, ticket_id, lock=True)
    case = case_of(session, ticket)
    body = CaseActionBody(reason=note.strip() or "callback: not solved")
    act(session, case, CaseAction.CALLBACK_REWORK, by, body, context(now))


def close_after_callback(session: Session, ticket_id: int, *, by: Principal, now: datetime) -> None:
    """The callback found it solved, partly solved, or the caller unreachable after the
    retries: the case and the ticket close. A case already closed is left as it is."""
    ticket = get_ticket(session, ticket_id, lock=True)
    case = case_of(session, ticket)
    if CaseStatus(case.status) is CaseStatus.CLOSED:
        if ticket.status != TicketStatus.CLOSED:
            ticket.status = TicketStatus.CLOSED.value
            ticket.closed_at = ticket.closed_at or case.closed_at or now
            session.flush()
        return
    act(session, case, CaseAction.CALLBACK_CLOSE, by, CaseActionBody(), context(now))


# Reads


def deadlines_of(
    session: Session, ticket: HotlineTicket, case: Case | None, now: datetime
) -> list[DeadlineState]:
    """The ticket's four deadlines with their lights (met ones without)."""
    chosen = steps.policy()
    limits = steps.limits_of(ticket, chosen)
    department_id = case.department_id if case is not None else None
    calendar = steps.calendar_for(session, department_id, chosen)
    rows = (
        (
            "dispatch",
            ticket.received_at,
            ticket.dispatch_due_at,
            ticket.dispatched_at,
            limits.dispatch,
        ),
        ("sign_for", ticket.dispatched_at, ticket.sign_due_at, ticket.signed_at, limits.sign_for),
        (
            "first_contact",
            ticket.dispatched_at,
            ticket.first_contact_due_at,
            ticket.first_contacted_at,
            limits.first_contact,
        ),
        (
            "reply",
            ticket.dispatched_at,
            ticket.reply_due_at,
            replied_in_round(ticket),
            limits.reply,
        ),
    )
    return [
        deadline_state(
            name, start=start, due_at=due_at, met_at=met, limit=limit, calendar=calendar, now=now
        )
        for name, start, due_at, met, limit in rows
    ]


def replied_in_round(ticket: HotlineTicket) -> datetime | None:
    """The reply that meets the reply deadline: none while the ticket is back for rework."""
    if ticket.status in (TicketStatus.REWORK, TicketStatus.DISPATCHED, TicketStatus.SIGNED):
        return None
    return ticket.replied_at


def deadline_read(state: DeadlineState) -> DeadlineRead:
    return DeadlineRead(
        name=state.name,
        due_at=state.due_at,
        met_at=state.met_at,
        light=state.light.value if state.light else None,
        overdue=state.overdue,
    )


def codes_of(session: Session, ids: set[int]) -> dict[int, Department]:
    if not ids:
        return {}
    return {
        row.id: row for row in session.scalars(select(Department).where(Department.id.in_(ids)))
    }


def workflow_view(
    session: Session, ticket_id: int, principal: Principal, now: datetime
) -> TicketWorkflowRead:
    ticket = unit_ticket(session, ticket_id, principal)
    case = session.get(Case, ticket.case_id) if ticket.case_id is not None else None
    co_units = session.scalars(
        select(HotlineCoUnit).where(HotlineCoUnit.ticket_id == ticket.id).order_by(HotlineCoUnit.id)
    ).all()
    replies = session.scalars(
        select(HotlineReply).where(HotlineReply.ticket_id == ticket.id).order_by(HotlineReply.id)
    ).all()
    requests = session.scalars(
        select(HotlineUnitRequest)
        .where(HotlineUnitRequest.ticket_id == ticket.id)
        .order_by(HotlineUnitRequest.id)
    ).all()
    ids = {row.department_id for row in co_units}
    ids |= {row.department_id for row in replies}
    ids |= {row.department_id for row in requests}
    if ticket.lead_department_id is not None:
        ids.add(ticket.lead_department_id)
    departments = codes_of(session, ids)
    chosen = steps.policy()
    reply_limit = steps.limits_of(ticket, chosen).reply
    co_reads = []
    for row in co_units:
        calendar = steps.calendar_for(session, row.department_id, chosen)
        state = deadline_state(
            "co_reply",
            start=row.added_at,
            due_at=row.reply_due_at,
            met_at=row.replied_at,
            limit=reply_limit,
            calendar=calendar,
            now=now,
        )
        department = departments[row.department_id]
        co_reads.append(
            CoUnitRead(
                department_code=department.code,
                department_name=department.name,
                added_at=row.added_at,
                reply_due_at=row.reply_due_at,
                replied_at=row.replied_at,
                light=state.light.value if state.light else None,
                overdue=state.overdue,
            )
        )
    lead = departments.get(ticket.lead_department_id) if ticket.lead_department_id else None
    return TicketWorkflowRead(
        ticket_id=ticket.id,
        ticket_number=ticket.ticket_number,
        case_id=ticket.case_id,
        status=ticket.status,
        urgency_class=ticket.urgency_class,
        lead_department_code=lead.code if lead is not None else None,
        deadlines=[deadline_read(state) for state in deadlines_of(session, ticket, case, now)],
        co_units=co_reads,
        replies=[reply_read(row, departments) for row in replies],
        requests=[request_read(row, ticket, departments) for row in requests],
        unreasonable=ticket.unreasonable,
        unreasonable_reason=ticket.unreasonable_reason,
    )


def reply_read(row: HotlineReply, departments: dict[int, Department]) -> ReplyRead:
    return ReplyRead(
        id=row.id,
        department_code=departments[row.department_id].code,
        unit_role=row.unit_role,
        work_round=row.work_round,
        received_at=row.received_at,
        contacted_person=row.contacted_person,
        contacted_at=row.contacted_at,
        action_taken=row.action_taken,
        rest_due_at=row.rest_due_at,
        done=row.done,
        replied_at=row.replied_at,
    )


def request_read(
    row: HotlineUnitRequest, ticket: HotlineTicket, departments: dict[int, Department]
) -> RequestRead:
    return RequestRead(
        id=row.id,
        ticket_id=ticket.id,
        ticket_number=ticket.ticket_number,
        case_id=ticket.case_id,
        kind=row.kind,
        department_code=departments[row.department_id].code,
        reason=row.reason,
        requested_at=row.requested_at,
        decision=row.decision,
        decided_at=row.decided_at,
    )


def pending_requests(session: Session, *, limit: int = 200) -> list[RequestRead]:
    """Returns and unreasonable-request flags waiting for a dispatcher, oldest first."""
    rows = session.execute(
        select(HotlineUnitRequest, HotlineTicket)
        .join(HotlineTicket, HotlineTicket.id == HotlineUnitRequest.ticket_id)
        .where(HotlineUnitRequest.decision.is_(None))
        .order_by(HotlineUnitRequest.requested_at, HotlineUnitRequest.id)
        .limit(limit)
    ).all()
    departments = codes_of(session, {request.department_id for request, _ in rows})
    return [request_read(request, ticket, departments) for request, ticket in rows]


@dataclass(frozen=True)
class DeskTicket:
    """A ticket on a unit's desk: as lead or co-unit, its deadlines, whether it may reply."""

    ticket_id: int
    ticket_number: str
    case_id: int | None
    case_number: str | None
    status: str
    unit_role: str
    content: str
    address_text: str | None
    deadlines: list[DeadlineState]
    can_reply: bool
    can_flag: bool
    lead_department_code: str | None = None


OPEN_TICKET_STATUSES = (
    TicketStatus.DISPATCHED,
    TicketStatus.SIGNED,
    TicketStatus.REPLIED,
    TicketStatus.REWORK,
)


def desk_tickets(
    session: Session, department_id: int | None, now: datetime, *, limit: int = 100
) -> list[DeskTicket]:
    """The open tickets a unit leads or co-handles (every unit's lead tickets when None: the
    console), the nearest reply deadline first."""
    co_ticket_ids = select(HotlineCoUnit.ticket_id).where(
        HotlineCoUnit.department_id == department_id, HotlineCoUnit.replied_at.is_(None)
    )
    held = (
        Case.department_id.is_not(None)
        if department_id is None
        else (Case.department_id == department_id) | HotlineTicket.id.in_(co_ticket_ids)
    )
    rows = session.execute(
        select(HotlineTicket, Case)
        .join(Case, Case.id == HotlineTicket.case_id)
        .where(HotlineTicket.status.in_([status.value for status in OPEN_TICKET_STATUSES]), held)
        .order_by(HotlineTicket.reply_due_at.asc().nulls_last(), HotlineTicket.id)
        .limit(limit)
    ).all()
    chosen = steps.policy()
    leads = codes_of(session, {case.department_id for _, case in rows if case.department_id})
    tickets = []
    for ticket, case in rows:
        lead = department_id is None or case.department_id == department_id
        status = CaseStatus(case.status)
        if lead:
            deadlines = deadlines_of(session, ticket, case, now)
        else:
            co_unit = co_unit_of(session, ticket.id, department_id)
            assert co_unit is not None
            deadlines = [
                deadline_state(
                    "co_reply",
                    start=co_unit.added_at,
                    due_at=co_unit.reply_due_at,
                    met_at=co_unit.replied_at,
                    limit=steps.limits_of(ticket, chosen).reply,
                    calendar=steps.calendar_for(session, department_id, chosen),
                    now=now,
                )
            ]
        tickets.append(
            DeskTicket(
                ticket_id=ticket.id,
                ticket_number=ticket.ticket_number,
                case_id=case.id,
                case_number=case.number,
                status=ticket.status,
                unit_role="lead" if lead else "co",
                content=ticket.content,
                address_text=ticket.address_text,
                deadlines=deadlines,
                can_reply=department_id is not None
                and (status in (CaseStatus.ACCEPTED, CaseStatus.REWORK) if lead else True),
                can_flag=department_id is not None and lead and not ticket.unreasonable,
                lead_department_code=leads[case.department_id].code
                if case.department_id in leads
                else None,
            )
        )
    return tickets


def ticket_case_ids(session: Session, case_ids: list[int]) -> set[int]:
    """Which of these cases are hotline tickets' cases."""
    if not case_ids:
        return set()
    found = session.scalars(
        select(HotlineTicket.case_id).where(HotlineTicket.case_id.in_(case_ids))
    )
    return {case_id for case_id in found if case_id is not None}
