"""The hotline ticket's work policy (pure): its deadlines, the four elements of a reply, and what
each step of the case means for the ticket.

Deadlines (events.hotline.standard.service_limits): dispatch from receipt; sign for (签收),
first contact and reply from dispatch. Each limit is counted in clock time or, where the
standard says so, in working time on the unit's calendar (dispatch.deadlines); the traffic
light is the same as a case's: green, yellow after 80 % of the allowed time, red once overdue.

A reply (答复) carries four elements, each a field of the request:

============================  ==========================================================
element                       fields
============================  ==========================================================
received (何时接单)            ``received_at``
contacted (联系了谁、何时)      ``contacted_person``, ``contacted_at``
done (做了什么)                ``action_taken``
rest (其余何时办结)             ``rest_by``: a date-time, or ``"done"``
============================  ==========================================================

`STEPS` says, for each action on a ticket's case, the ticket's new status and the event the
hotline system is told (events.hotline.service.record_event; never any caller data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from citygrid.errors import InvalidInput
from dispatch.deadlines import Deadline, Light, WorkCalendar, add_working_hours, traffic_light
from dispatch.deadlines import working_hours_between as working_between
from events.hotline.standard import Limit, TicketStatus
from events.lifecycle import CaseAction

REPLY_ELEMENTS = {
    "received": ("received_at",),
    "contacted": ("contacted_person", "contacted_at"),
    "done": ("action_taken",),
    "rest": ("rest_by",),
}
DONE = "done"


def due(start: datetime, limit: Limit, calendar: WorkCalendar) -> Deadline:
    """When a limit started at `start` runs out: clock hours, or working hours on the calendar."""
    if limit.working_time:
        return add_working_hours(start, limit.hours, calendar)
    return Deadline(start + timedelta(hours=limit.hours), provisional=False)


def used_hours(start: datetime, until: datetime, limit: Limit, calendar: WorkCalendar) -> float:
    """Hours of the limit used from `start` to `until`, counted as the limit counts."""
    if limit.working_time:
        return working_between(start, until, calendar)
    return max(0.0, (until - start) / timedelta(hours=1))


@dataclass(frozen=True)
class DeadlineState:
    """One of a ticket's deadlines as a unit sees it."""

    name: str  # dispatch, sign_for, first_contact, reply (or co_reply, summons)
    due_at: datetime | None
    met_at: datetime | None  # when it was met (dispatched, signed, contacted, replied)
    light: Light | None  # None: met, or no deadline
    overdue: bool


def deadline_state(
    name: str,
    *,
    start: datetime | None,
    due_at: datetime | None,
    met_at: datetime | None,
    limit: Limit,
    calendar: WorkCalendar,
    now: datetime,
) -> DeadlineState:
    """The light of a deadline: counted until it was met, or until now."""
    if start is None or due_at is None:
        return DeadlineState(name, due_at, met_at, None, overdue=False)
    until = met_at or now
    overdue = until > due_at
    if met_at is not None:
        return DeadlineState(name, due_at, met_at, None, overdue=overdue)
    used = used_hours(start, until, limit, calendar)
    light = traffic_light(used_hours=used, allowed_hours=limit.hours, overdue=overdue)
    return DeadlineState(name, due_at, met_at, light, overdue=overdue)


@dataclass(frozen=True)
class Reply:
    """A reply's four elements, checked."""

    received_at: datetime
    contacted_person: str
    contacted_at: datetime
    action_taken: str
    rest_due_at: datetime | None  # None: done
    done: bool


def checked_reply(
    *,
    received_at: datetime | None,
    contacted_person: str | None,
    contacted_at: datetime | None,
    action_taken: str | None,
    rest_by: datetime | str | None,
    now: datetime,
) -> Reply:
    """The reply when every element is there and the times are possible; otherwise InvalidInput
    naming the first missing or impossible field."""
    for field, value in (
        ("received_at", received_at),
        ("contacted_person", contacted_person),
        ("contacted_at", contacted_at),
        ("action_taken", action_taken),
        ("rest_by", rest_by),
    ):
        if value is None or (isinstance(value, str) and not value.strip()):
            element = next(name for name, fields in REPLY_ELEMENTS.items() if field in fields)
            raise InvalidInput(f"the reply misses its {element} element: {field}", field=field)
    assert received_at is not None and contacted_at is not None and rest_by is not None
    assert contacted_person is not None and action_taken is not None
    for field, value in (("received_at", received_at), ("contacted_at", contacted_at)):
        if value > now + CLOCK_SKEW:
            raise InvalidInput(f"{field} must not be later than now", field=field)
    if contacted_at < received_at:
        raise InvalidInput("contacted_at must not be before received_at", field="contacted_at")
    if isinstance(rest_by, str):
        if rest_by != DONE:
            raise InvalidInput('rest_by is a date-time or "done"', field="rest_by")
        return Reply(
            received_at, contacted_person.strip(), contacted_at, action_taken.strip(), None, True
        )
    if rest_by < received_at:
        raise InvalidInput("rest_by must not be before received_at", field="rest_by")
    return Reply(
        received_at, contacted_person.strip(), contacted_at, action_taken.strip(), rest_by, False
    )


CLOCK_SKEW = timedelta(minutes=5)  # a unit's device clock may run a little ahead


@dataclass(frozen=True)
class TicketStep:
    """What a case action means for its ticket: the new status (None: unchanged) and the event."""

    status: TicketStatus | None
    event: str


STEPS: dict[CaseAction, TicketStep] = {
    CaseAction.DISPATCH: TicketStep(TicketStatus.DISPATCHED, "dispatched"),
    CaseAction.ACCEPT: TicketStep(TicketStatus.SIGNED, "signed"),
    CaseAction.REQUEST_RETURN: TicketStep(None, "return_requested"),
    CaseAction.APPROVE_RETURN: TicketStep(TicketStatus.RETURNED, "returned"),
    CaseAction.REFUSE_RETURN: TicketStep(None, "return_refused"),
    CaseAction.HANDLE: TicketStep(TicketStatus.REPLIED, "reply"),
    CaseAction.VERIFY_PASS: TicketStep(TicketStatus.CLOSED, "closed"),
    CaseAction.CALLBACK_CLOSE: TicketStep(TicketStatus.CLOSED, "closed"),
    CaseAction.CALLBACK_REWORK: TicketStep(TicketStatus.REWORK, "rework"),
    CaseAction.VERIFY_FAIL: TicketStep(TicketStatus.REWORK, "rework"),
    CaseAction.CANCEL: TicketStep(TicketStatus.CANCELLED, "cancelled"),
}
REASSIGNED = "reassigned"  # a dispatch of a case that was already dispatched
