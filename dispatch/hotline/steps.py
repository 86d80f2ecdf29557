"""What a case action does to its hotline ticket: dispatch/actions calls `before_step` before an
action's effect and `after_step` once the case has moved (in the same transaction).

Dispatching a ticket's case makes its unit the lead unit (主办) and sets the sign-for,
first-contact and reply deadlines from the service standard (clock or working time on the
unit's calendar); accepting is signing for it (签收); the lead's four-element reply is the
case's handling (处置); the callback closes the case or sends it back for rework with a new
reply deadline. Every step is one `hotline_ticket_event` (events.hotline.service.record_event)
for the hotline system, with no caller data in it. Cases without a ticket are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.errors import Conflict, InvalidInput
from citygrid.settings import get_settings
from dispatch.calendars import service as calendars
from dispatch.deadlines import WorkCalendar
from dispatch.hotline.models import HotlineReply, HotlineUnitRequest
from dispatch.hotline.replies import REASSIGNED, STEPS, due
from events.hotline.models import HotlineCaller, HotlineTicket
from events.hotline.service import record_event, standard_overrides
from events.hotline.standard import ServiceLimits, mask_name, mask_phone, service_limits
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case


@dataclass(frozen=True)
class HotlinePolicy:
    """The deployment's hotline settings the workflow needs."""

    standard: dict[str, Any] | None  # overrides of the service standard (None: the defaults)
    returns_before_last_resort: int
    last_resort_code: str
    default_calendar_code: str


def policy() -> HotlinePolicy:
    settings = get_settings()
    return HotlinePolicy(
        standard=standard_overrides(settings),
        returns_before_last_resort=settings.hotline_returns_before_last_resort,
        last_resort_code=settings.hotline_last_resort_department_code,
        default_calendar_code=settings.default_calendar_code,
    )


def limits_of(ticket: HotlineTicket, chosen: HotlinePolicy | None = None) -> ServiceLimits:
    return service_limits(ticket.urgency_class, (chosen or policy()).standard)


def ticket_of_case(session: Session, case_id: int, *, lock: bool = False) -> HotlineTicket | None:
    query = select(HotlineTicket).where(HotlineTicket.case_id == case_id)
    return session.scalar(query.with_for_update() if lock else query)


def calendar_for(
    session: Session, department_id: int | None, chosen: HotlinePolicy
) -> WorkCalendar:
    return calendars.calendar_for_department(
        session, department_id, default_code=chosen.default_calendar_code
    )


def schedule_dispatch_due(session: Session, ticket: HotlineTicket) -> None:
    """The dispatch deadline from receipt (the hotline centre's calendar: the default one)."""
    if ticket.dispatch_due_at is not None:
        return
    chosen = policy()
    limit = limits_of(ticket, chosen).dispatch
    ticket.dispatch_due_at = due(ticket.received_at, limit, calendar_for(session, None, chosen)).at


def before_step(session: Session, case: Case, action: CaseAction) -> None:
    """Refuse what a ticket's case may not do this way: handling without a four-element reply,
    and a return by the unit of last resort."""
    if action not in (CaseAction.HANDLE, CaseAction.REQUEST_RETURN):
        return
    ticket = ticket_of_case(session, case.id)
    if ticket is None:
        return
    if action is CaseAction.HANDLE and not lead_reply_of_round(session, ticket, case):
        raise Conflict(
            f"hotline ticket {ticket.ticket_number} is answered with a four-element reply "
            f"(POST /api/hotline/tickets/{ticket.id}/replies), not by handle",
            field="action",
        )
    if action is CaseAction.REQUEST_RETURN:
        department = session.get(Department, case.department_id)
        if department is not None and department.code == policy().last_resort_code:
            raise Conflict("the unit of last resort (兜底) cannot return a ticket", field="action")


def lead_reply_of_round(session: Session, ticket: HotlineTicket, case: Case) -> HotlineReply | None:
    return session.scalar(
        select(HotlineReply)
        .where(
            HotlineReply.ticket_id == ticket.id,
            HotlineReply.unit_role == "lead",
            HotlineReply.work_round == case.rework_count,
            HotlineReply.department_id == case.department_id,
        )
        .order_by(HotlineReply.id.desc())
        .limit(1)
    )


def after_step(
    session: Session,
    case: Case,
    action: CaseAction,
    *,
    from_status: CaseStatus,
    reason: str | None,
    now: datetime,
    by_user: int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the step onto the case's ticket (if it has one) and tell the hotline system."""
    step = STEPS.get(action)
    if step is None:
        return
    ticket = ticket_of_case(session, case.id, lock=True)
    if ticket is None:
        return
    data: dict[str, Any] = {"case_number": case.number, "case_status": case.status}
    kind = step.event
    if action is CaseAction.DISPATCH:
        kind = REASSIGNED if from_status is CaseStatus.DISPATCHED else kind
        data |= dispatched(session, ticket, case, now)
        # A reassignment answers a pending return request: the unit is relieved of it.
        return_request(
            session, ticket, CaseAction.APPROVE_RETURN, None, reason, by_user=by_user, now=now
        )
    elif action is CaseAction.ACCEPT:
        ticket.signed_at = now
        data["department_code"] = department_code(session, case.department_id)
    elif action is CaseAction.HANDLE:
        data |= replied(session, ticket, case, now)
    elif action in (CaseAction.CALLBACK_CLOSE, CaseAction.VERIFY_PASS):
        ticket.closed_at = now
    elif action in (CaseAction.CALLBACK_REWORK, CaseAction.VERIFY_FAIL):
        data |= reworked(session, ticket, case, now)
    elif action in (CaseAction.REQUEST_RETURN, CaseAction.APPROVE_RETURN, CaseAction.REFUSE_RETURN):
        held_by = (details or {}).get("department_id", case.department_id)
        data["department_code"] = department_code(session, held_by)
        data["return_count"] = case.return_count
        return_request(session, ticket, action, held_by, reason, by_user=by_user, now=now)
    if reason and action is not CaseAction.HANDLE:
        data["reason"] = reason
    if step.status is not None:
        ticket.status = step.status.value
    ticket.updated_at = now
    session.flush()
    record_event(session, ticket.id, kind, data, now=now)


def return_request(
    session: Session,
    ticket: HotlineTicket,
    action: CaseAction,
    department_id: int | None,
    reason: str | None,
    *,
    by_user: int | None,
    now: datetime,
) -> None:
    """The unit's return request (退单申请), or the dispatcher's decision on the pending one."""
    if action is CaseAction.REQUEST_RETURN:
        assert department_id is not None and reason is not None
        session.add(
            HotlineUnitRequest(
                ticket_id=ticket.id,
                kind="return",
                department_id=department_id,
                reason=reason.strip(),
                requested_by=by_user,
                requested_at=now,
            )
        )
        return
    pending = session.scalar(
        select(HotlineUnitRequest).where(
            HotlineUnitRequest.ticket_id == ticket.id,
            HotlineUnitRequest.kind == "return",
            HotlineUnitRequest.decision.is_(None),
        )
    )
    if pending is not None:
        pending.decision = "approved" if action is CaseAction.APPROVE_RETURN else "refused"
        pending.decision_note = reason
        pending.decided_by = by_user
        pending.decided_at = now


def department_code(session: Session, department_id: int | None) -> str | None:
    if department_id is None:
        return None
    department = session.get(Department, department_id)
    return department.code if department is not None else None


def dispatched(
    session: Session, ticket: HotlineTicket, case: Case, now: datetime
) -> dict[str, Any]:
    """The lead unit and its deadlines from this dispatch."""
    chosen = policy()
    limits = limits_of(ticket, chosen)
    calendar = calendar_for(session, case.department_id, chosen)
    schedule_dispatch_due(session, ticket)
    ticket.lead_department_id = case.department_id
    ticket.dispatched_at = ticket.dispatched_at or now
    ticket.sign_due_at = due(now, limits.sign_for, calendar).at
    ticket.signed_at = None
    if ticket.first_contacted_at is None:
        ticket.first_contact_due_at = due(now, limits.first_contact, calendar).at
    ticket.reply_due_at = due(now, limits.reply, calendar).at
    return {
        "department_code": department_code(session, case.department_id),
        "sign_due_at": ticket.sign_due_at.isoformat(),
        "reply_due_at": ticket.reply_due_at.isoformat(),
    }


def replied(session: Session, ticket: HotlineTicket, case: Case, now: datetime) -> dict[str, Any]:
    reply = lead_reply_of_round(session, ticket, case)
    if reply is None:  # before_step refused it
        raise InvalidInput("the lead unit's reply is missing", field="action")
    ticket.replied_at = now
    if ticket.first_contacted_at is None:
        ticket.first_contacted_at = reply.contacted_at
    return reply_data(session, reply)


def reply_data(session: Session, reply: HotlineReply) -> dict[str, Any]:
    """A reply as the hotline system is told it. The unit writes whom it reached in its own
    words (e.g. "来电人本人"); should they hold the caller's name or phone, those are masked
    (138****5678, 张*), as everywhere outside the audited caller view."""
    caller = session.get(HotlineCaller, reply.ticket_id)
    return {
        "department_code": department_code(session, reply.department_id),
        "unit_role": reply.unit_role,
        "work_round": reply.work_round,
        "received_at": reply.received_at.isoformat(),
        "contacted_person": masked(reply.contacted_person, caller),
        "contacted_at": reply.contacted_at.isoformat(),
        "action_taken": masked(reply.action_taken, caller),
        "rest_due_at": reply.rest_due_at.isoformat() if reply.rest_due_at else None,
        "done": reply.done,
    }


def masked(text: str, caller: HotlineCaller | None) -> str:
    """The text with the caller's name and phone (its digits, however spaced) masked."""
    if caller is None:
        return text
    if caller.name and caller.name.strip():
        text = text.replace(caller.name.strip(), mask_name(caller.name))
    digits = "".join(ch for ch in caller.phone or "" if ch.isdigit())
    if len(digits) >= 5:
        spaced = r"[\s-]*".join(re.escape(digit) for digit in digits)
        text = re.sub(spaced, mask_phone(caller.phone), text)
    return text


def reworked(session: Session, ticket: HotlineTicket, case: Case, now: datetime) -> dict[str, Any]:
    """The same lead unit works again, against a new reply deadline from now."""
    chosen = policy()
    calendar = calendar_for(session, case.department_id, chosen)
    ticket.reply_due_at = due(now, limits_of(ticket, chosen).reply, calendar).at
    return {
        "department_code": department_code(session, case.department_id),
        "reply_due_at": ticket.reply_due_at.isoformat(),
        "work_round": case.rework_count,
    }


def last_resort_due(session: Session, case: Case) -> str | None:
    """After an approved return: the unit of last resort's code when the ticket has now been
    returned the configured number of times, else None."""
    if ticket_of_case(session, case.id) is None:
        return None
    chosen = policy()
    if case.return_count < chosen.returns_before_last_resort:
        return None
    return chosen.last_resort_code


def record_last_resort(session: Session, case: Case, code: str, *, now: datetime) -> None:
    ticket = ticket_of_case(session, case.id)
    if ticket is None:
        return
    data = {"case_number": case.number, "department_code": code, "return_count": case.return_count}
    record_event(session, ticket.id, "last_resort", data, now=now)
