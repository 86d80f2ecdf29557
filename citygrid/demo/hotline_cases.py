"""Demo: the month's hotline tickets worked as Dongcheng's 12345 bridge works them (接诉即办).

citygrid.demo.hotline draws the tickets and how far each got by now (dispatched, signed for,
contacted, replied, called back); this module gives every located ticket its case, as the live
intake and the unit workflow would have written it:

- the case filed at receipt (channel `hotline`, its report's UUID derived from the ticket
  number as the live intake derives it) in the ticket's cell, under the category of what the
  caller asked, and routed by the demo's rules: the specialist of the category's type, else the
  street office of the cell's street;
- dispatched by the dispatcher (an assignment with the category's limit on the unit's working
  calendar); about 5 % asked to be returned (退单) and approved: the ticket goes to the next
  responsible unit, and the few returned twice go to the district government (110101-ZF, 兜底),
  which is the only way it gets tickets; a few returns refused, and some of today's unsigned
  tickets with their return request still waiting for a dispatcher;
- signed for (签收) by the unit, the ticket's sign-for, first-contact and reply deadlines from
  the service standard on that unit's calendar, so some are overdue;
- co-units (协办) on some tickets, with their own reply; a few summonses (吹哨报到) with the
  units' report-in, answer and rating;
- the lead unit's four-element reply as the case's handling; the callbacks the hotline loader
  wrote close the case (solved, partly solved, unreachable after three tries) or send it back
  for rework, then a second reply and a second callback; unreasonable requests flagged by the
  unit and approved by a dispatcher before the close;
- every step a row of the case's history and of the ticket's events (already pushed: the
  hotline system has them).

Every draw is a hash of the ticket number, so a load is the same every time; the rows are
written with COPY, as citygrid.demo.history writes the grid's cases.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo import rules as demo_rules
from citygrid.demo.history import ASSIGNMENT_COLUMNS, CASE_COLUMNS, _case_numbers, _copy
from citygrid.settings import Settings, get_settings
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WARNING_FRACTION, WorkCalendar, add_working_hours
from dispatch.deadlines import working_hours_between as working_between
from dispatch.hotline.replies import due
from dispatch.rules import routing
from events.hotline.service import TICKET_NAMESPACE, limits_of
from events.hotline.standard import ServiceLimits, UrgencyClass
from events.lifecycle import CaseStatus

CHANNEL = "hotline"
ENFORCEMENT_KIND = "urban_mgmt_enforcement"
# Shares of the tickets that reached a unit.
RETURNED_TWICE = 0.012  # returned, then returned again: to the unit of last resort (兜底)
RETURNED_ONCE = 0.05  # (including those returned twice)
RETURN_REFUSED = 0.03  # (beyond those returned): asked, and the dispatcher said no
RETURN_PENDING = 0.25  # of the tickets not yet signed for: a request waits for a dispatcher
CO_UNIT = 0.07  # of the signed tickets: a co-unit (协办) joins
SUMMONED = 0.015  # of the signed tickets: units are summoned (吹哨报到)
FLAG_PENDING = 0.03  # of the signed tickets not replied: an unreasonable flag waits
REWORK_ANSWERS = frozenset({"not_solved", "partly"})
SUMMONS_HOURS = 2.0
# What people write (a case picks one by a draw).
RETURN_REASONS = ("不属于本单位职责范围，请重新派遣", "诉求地点不在本单位管辖范围")
REFUSAL_NOTES = ("经核实属于该单位职责，请继续办理",)
CONTACTED = ("来电人本人", "来电人家属", "来电人所在小区物业")
ACTIONS_TAKEN = (
    "已与来电人电话沟通，安排人员到现场核实处置，问题已解决",
    "已现场查看并协调相关单位处置完毕，向来电人反馈",
    "已到现场处置，部分问题需协调产权单位，已告知来电人后续安排",
    "已联系来电人说明情况，安排专人跟进整改",
)
REWORK_ACTIONS = ("根据回访意见再次到现场处置，问题已解决", "已二次上门核实并整改到位")
SUMMONS_ANSWERS = ("已到现场配合处置完毕", "已派人到场，按分工完成处置")
REWORK_REASONS = {"not_solved": "回访：问题未解决", "partly": "回访：问题部分解决"}


def draws(number: str, count: int) -> list[float]:
    """`count` uniform draws in [0, 1) from the ticket number (the same at every load)."""
    digest = hashlib.shake_256(f"demo12345:{number}".encode()).digest(8 * count)
    return [int.from_bytes(digest[8 * i : 8 * i + 8], "big") / 2.0**64 for i in range(count)]


def pick(options: tuple[str, ...], u: float) -> str:
    return options[min(int(u * len(options)), len(options) - 1)]


@dataclass(frozen=True)
class Unit:
    id: int
    code: str
    kind: str
    calendar: WorkCalendar


@dataclass(frozen=True)
class Units:
    """The demo's departments, each with its work calendar."""

    by_id: Mapping[int, Unit]
    by_code: Mapping[str, Unit]
    specialists: Mapping[str, Unit]  # department type → the lowest code of that type
    last_resort: Unit | None

    def street_office(self, street_code: str | None) -> Unit | None:
        return self.by_code.get(demo_rules.street_office_code(street_code)) if street_code else None

    def next_after(self, unit: Unit, street_code: str | None) -> Unit | None:
        """Who takes a ticket a unit returned: the street office of its street, or for a street
        office's return the enforcement bureau (as the demo history's returns go)."""
        office = self.street_office(street_code)
        if office is not None and office.id != unit.id:
            return office
        bureau = self.specialists.get(ENFORCEMENT_KIND)
        return bureau if bureau is not None and bureau.id != unit.id else None

    def helper_of(self, unit: Unit, street_code: str | None) -> Unit | None:
        """A unit that helps the lead: the street office, or the enforcement bureau for it."""
        return self.next_after(unit, street_code)


@dataclass(frozen=True)
class Actors:
    dispatcher_id: int | None
    department_user_id: int | None  # acts for every unit, as in citygrid.demo.history


@dataclass(frozen=True)
class Ticket:
    """A located ticket as the hotline loader stored it, with the story's remaining facts."""

    id: int
    number: str
    received_at: datetime
    urgency_class: str
    content: str
    address_text: str | None
    lon: float
    lat: float
    cell_id: int
    cell_code: str
    category_id: int
    limit_hours: float | None
    lead_id: int
    street_code: str | None
    dispatched_at: datetime | None
    signed_at: datetime | None
    first_contacted_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    second_call_at: datetime  # when the second round's callback is (or would be) made
    unreasonable: bool
    unreasonable_reason: str | None


@dataclass(frozen=True)
class Try:
    round: int
    attempt: int
    at: datetime
    reached: bool
    solved: str | None
    satisfaction: str | None
    gave_up: bool


@dataclass
class Assignment:
    unit: Unit
    dispatched_at: datetime
    limit_hours: float | None
    due_at: datetime | None
    warn_at: datetime | None
    provisional: bool
    accepted_at: datetime | None = None
    handled_at: datetime | None = None
    handling_hours: float | None = None
    returned_at: datetime | None = None
    rework_count: int = 0
    ended_at: datetime | None = None
    end_reason: str | None = None


@dataclass
class Work:
    """One ticket's case as it stands now, and every row its story wrote."""

    ticket: Ticket
    case_id: int
    number: str
    status: CaseStatus = CaseStatus.REPORTED
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    replies: list[tuple[Any, ...]] = field(default_factory=list)
    co_units: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[list[Any]] = field(default_factory=list)
    summons: list[tuple[Any, ...]] = field(default_factory=list)
    filed_at: datetime | None = None
    handled_at: datetime | None = None
    closed_at: datetime | None = None
    replied_at: datetime | None = None
    first_contacted_at: datetime | None = None
    rework_count: int = 0
    return_count: int = 0
    sign_due_at: datetime | None = None
    first_contact_due_at: datetime | None = None
    reply_due_at: datetime | None = None

    @property
    def current(self) -> Assignment | None:
        last = self.assignments[-1] if self.assignments else None
        return last if last is not None and last.ended_at is None else None

    def step(
        self,
        action: str,
        target: CaseStatus,
        at: datetime,
        actor: tuple[int | None, str],
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        source = None if action == "report" else self.status
        self.steps.append(
            (
                self.case_id,
                action,
                source.value if source else None,
                target.value,
                actor[0],
                actor[1],
                reason,
                json.dumps(dict(details or {}), ensure_ascii=False),
                at,
            )
        )
        self.status = target

    def event(self, at: datetime, kind: str, data: Mapping[str, Any]) -> None:
        self.events.append((at, kind, {"case_number": self.number, **data}))


@dataclass(frozen=True)
class Context:
    now: datetime
    units: Units
    actors: Actors
    settings: Settings
    standard: Mapping[str, ServiceLimits]  # the service standard's limits by urgency class

    @property
    def dispatcher(self) -> tuple[int | None, str]:
        return (self.actors.dispatcher_id, "dispatcher")

    @property
    def department(self) -> tuple[int | None, str]:
        return (self.actors.department_user_id, "department")

    def limits(self, ticket: Ticket) -> ServiceLimits:
        return self.standard[ticket.urgency_class]


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def between(start: datetime, end: datetime, share: float) -> datetime:
    return start + (end - start) * share


# --- the story of one ticket ------------------------------------------------------------------


def dispatch(work: Work, unit: Unit, at: datetime, ctx: Context, *, auto: bool = False) -> None:
    """A dispatch: the assignment (the category's limit on the unit's calendar), the ticket's
    sign-for, first-contact and reply deadlines, the history row and the ticket's event."""
    ticket, limit = work.ticket, work.ticket.limit_hours
    reassigned = work.status is CaseStatus.DISPATCHED
    current = work.current
    if current is not None:
        current.ended_at, current.end_reason = at, "reassigned"
    due_at = add_working_hours(at, limit, unit.calendar) if limit is not None else None
    warn_at = add_working_hours(at, WARNING_FRACTION * limit, unit.calendar) if limit else None
    work.assignments.append(
        Assignment(
            unit,
            at,
            limit,
            due_at.at if due_at else None,
            warn_at.at if warn_at else None,
            bool(due_at and due_at.provisional),
        )
    )
    first = len(work.assignments) == 1
    details = {
        "department_code": unit.code,
        "due_at": iso(due_at.at if due_at else None),
        "due_provisional": bool(due_at and due_at.provisional),
        "limit_hours": limit,
        "follows_rule": first,
        "auto": auto,
    }
    work.step("dispatch", CaseStatus.DISPATCHED, at, ctx.dispatcher, None, details)
    limits = ctx.limits(ticket)
    work.sign_due_at = due(at, limits.sign_for, unit.calendar).at
    if work.first_contacted_at is None or work.first_contacted_at > at:
        work.first_contact_due_at = due(at, limits.first_contact, unit.calendar).at
    work.reply_due_at = due(at, limits.reply, unit.calendar).at
    data = {
        "case_status": "dispatched",
        "department_code": unit.code,
        "sign_due_at": iso(work.sign_due_at),
        "reply_due_at": iso(work.reply_due_at),
    }
    work.event(at, "reassigned" if reassigned else "dispatched", data)


def request_return(work: Work, at: datetime, reason: str, ctx: Context) -> None:
    current = work.current
    assert current is not None
    work.step("request_return", work.status, at, ctx.department, reason)
    work.requests.append(
        [
            work.ticket.id,
            "return",
            current.unit.id,
            reason,
            ctx.actors.department_user_id,
            at,
            *[None] * 4,
        ]
    )
    data = {
        "case_status": work.status.value,
        "department_code": current.unit.code,
        "return_count": work.return_count,
        "reason": reason,
    }
    work.event(at, "return_requested", data)


def decide_return(work: Work, at: datetime, ctx: Context, *, approve: bool) -> None:
    current = work.current
    assert current is not None
    request = work.requests[-1]
    note = None if approve else pick(REFUSAL_NOTES, 0.0)
    request[6:10] = ["approved" if approve else "refused", note, ctx.actors.dispatcher_id, at]
    if approve:
        current.ended_at, current.end_reason, current.returned_at = at, "returned", at
        work.return_count += 1
        details = {"department_id": current.unit.id, "return_count": work.return_count}
        work.step("approve_return", CaseStatus.RETURNED, at, ctx.dispatcher, None, details)
    else:
        work.step("refuse_return", work.status, at, ctx.dispatcher, note)
    data = {
        "case_status": work.status.value,
        "department_code": current.unit.code,
        "return_count": work.return_count,
    } | ({"reason": note} if note else {})
    work.event(at, "returned" if approve else "return_refused", data)


def dispatches(work: Work, u: list[float], ctx: Context) -> None:
    """The first dispatch, and the returns that may follow it before the unit signs for it."""
    ticket, units = work.ticket, ctx.units
    assert ticket.dispatched_at is not None
    start = ticket.dispatched_at
    lead = units.by_id[ticket.lead_id]
    dispatch(work, lead, start, ctx)
    end = ticket.signed_at or ctx.now
    reason = pick(RETURN_REASONS, u[1])
    second = units.next_after(lead, ticket.street_code)
    last_resort = units.last_resort
    if u[0] < RETURNED_ONCE and second is not None and lead is not last_resort:
        twice = u[0] < RETURNED_TWICE and last_resort is not None and second is not last_resort
        marks = (0.15, 0.25, 0.3) if twice else (0.25, 0.45, 0.55)
        request_return(work, between(start, end, marks[0]), reason, ctx)
        decide_return(work, between(start, end, marks[1]), ctx, approve=True)
        dispatch(work, second, between(start, end, marks[2]), ctx)
        if twice:
            assert last_resort is not None
            request_return(work, between(start, end, 0.5), reason, ctx)
            at = between(start, end, 0.65)
            decide_return(work, at, ctx, approve=True)
            dispatch(work, last_resort, at, ctx, auto=True)
            data = {"department_code": last_resort.code, "return_count": work.return_count}
            work.event(at, "last_resort", data)
    elif u[0] < RETURNED_ONCE + RETURN_REFUSED and lead is not last_resort:
        request_return(work, between(start, end, 0.3), reason, ctx)
        decide_return(work, between(start, end, 0.5), ctx, approve=False)
    elif ticket.signed_at is None and u[2] < RETURN_PENDING and lead is not last_resort:
        request_return(work, between(start, end, 0.5), reason, ctx)


def sign_for(work: Work, ctx: Context) -> None:
    at = work.ticket.signed_at
    current = work.current
    assert at is not None and current is not None
    current.accepted_at = at
    work.step("accept", CaseStatus.ACCEPTED, at, ctx.department)
    work.event(at, "signed", {"case_status": "accepted", "department_code": current.unit.code})


def reply(work: Work, at: datetime, u: list[float], ctx: Context, *, rework: bool) -> None:
    """The lead unit's four-element reply, which is the case's handling (处置)."""
    ticket, current = work.ticket, work.current
    assert current is not None and ticket.signed_at is not None
    if rework:
        contacted_at = between(work.steps[-1][8], at, 0.3)
        received_at = work.steps[-1][8]
        action, done, rest = pick(REWORK_ACTIONS, u[8]), True, None
    else:
        contacted_at = min(work.first_contacted_at or at, at)
        received_at = min(ticket.signed_at, contacted_at)
        action = pick(ACTIONS_TAKEN, u[8])
        done = u[9] < 0.75
        rest = None if done else at + timedelta(days=3 + int(7 * u[10]))
    if work.first_contacted_at is None or work.first_contacted_at > contacted_at:
        work.first_contacted_at = contacted_at
    person = pick(CONTACTED, u[11])
    work.replies.append(
        (
            ticket.id,
            current.unit.id,
            "lead",
            work.rework_count,
            received_at,
            person,
            contacted_at,
            action,
            rest,
            done,
            ctx.actors.department_user_id,
            at,
        )
    )
    hours = round(working_between(current.dispatched_at, at, current.unit.calendar), 4)
    current.handled_at, current.handling_hours = at, hours
    on_time = current.due_at is None or at <= current.due_at
    details = {"working_hours": hours, "on_time": on_time}
    work.step("handle", CaseStatus.HANDLED, at, ctx.department, action, details)
    work.handled_at = work.replied_at = at
    data = {
        "case_status": "handled",
        "department_code": current.unit.code,
        "unit_role": "lead",
        "work_round": work.rework_count,
        "received_at": iso(received_at),
        "contacted_person": person,
        "contacted_at": iso(contacted_at),
        "action_taken": action,
        "rest_due_at": iso(rest),
        "done": done,
    }
    work.event(at, "reply", data)


def co_unit(work: Work, u: list[float], ctx: Context) -> None:
    """A co-unit the dispatcher adds once the lead signed for it; it replies in its turn."""
    ticket, current = work.ticket, work.current
    assert ticket.signed_at is not None and current is not None
    helper = ctx.units.helper_of(current.unit, ticket.street_code)
    if helper is None:
        return
    end = ticket.replied_at or ctx.now
    added = between(ticket.signed_at, end, 0.1)
    reply_due = due(added, ctx.limits(ticket).reply, helper.calendar).at
    replied = between(added, end, 0.4 + 0.5 * u[12])
    answered = replied <= ctx.now and (ticket.replied_at is not None or u[13] < 0.7)
    work.co_units.append(
        (
            ticket.id,
            helper.id,
            ctx.actors.dispatcher_id,
            added,
            reply_due,
            replied if answered else None,
        )
    )
    work.event(
        added,
        "co_unit_added",
        {"department_code": helper.code, "reply_due_at": iso(reply_due)},
    )
    if not answered:
        return
    contacted = between(added, replied, 0.5)
    action = "已配合主办单位到现场处置"
    work.replies.append(
        (
            ticket.id,
            helper.id,
            "co",
            0,
            added,
            "来电人本人",
            contacted,
            action,
            None,
            True,
            ctx.actors.department_user_id,
            replied,
        )
    )
    data = {
        "department_code": helper.code,
        "unit_role": "co",
        "work_round": 0,
        "received_at": iso(added),
        "contacted_person": "来电人本人",
        "contacted_at": iso(contacted),
        "action_taken": action,
        "rest_due_at": None,
        "done": True,
    }
    work.event(replied, "reply", data)


def summon(work: Work, u: list[float], ctx: Context) -> None:
    """Units summoned to the case (吹哨报到): each reports in on site, answers, and is rated."""
    ticket, current = work.ticket, work.current
    assert ticket.signed_at is not None and current is not None
    helper = ctx.units.helper_of(current.unit, ticket.street_code)
    bureau = ctx.units.specialists.get(ENFORCEMENT_KIND)
    chosen = [unit for unit in (helper, bureau) if unit is not None and unit is not current.unit]
    chosen = list({unit.id: unit for unit in chosen}.values())
    if not chosen:
        return
    end = ticket.replied_at or ctx.now
    at = between(ticket.signed_at, end, 0.2)
    note = "多部门联合处置，请各单位到现场报到"
    dues = [at + timedelta(hours=SUMMONS_HOURS) for _ in chosen]
    details = {"department_codes": [unit.code for unit in chosen], "due_at": [iso(d) for d in dues]}
    work.step("summons", work.status, at, ctx.dispatcher, note, details)
    work.event(at, "summoned", {"department_codes": [unit.code for unit in chosen]})
    for k, unit in enumerate(chosen):
        span = end - at
        reported = at + min(timedelta(hours=0.5 + 2 * u[14 + k]), span * 0.4)
        answered = at + min(timedelta(hours=3 + 2 * u[14 + k]), span * 0.6)
        done = ticket.replied_at is not None or answered <= ctx.now
        row: list[Any] = [work.case_id, unit.id, ctx.actors.dispatcher_id, at, note]
        row += [SUMMONS_HOURS, False, dues[k]]
        if reported <= ctx.now:
            details = {"department_code": unit.code, "photo_ids": []}
            work.step("summons_report", work.status, reported, ctx.department, None, details)
            row += [reported, ctx.actors.department_user_id]
        else:
            row += [None, None]
        if done and reported <= ctx.now:
            answer = pick(SUMMONS_ANSWERS, u[16 + k])
            work.step(
                "summons_answer",
                work.status,
                answered,
                ctx.department,
                answer,
                {"department_code": unit.code},
            )
            rating = 3 + int(3 * u[18 + k]) if ticket.closed_at is not None else None
            row += [answer, answered, ctx.actors.department_user_id, rating]
            row += ["到场及时，配合良好" if rating else None]
            row += [ctx.actors.dispatcher_id if rating else None]
            row += [ticket.closed_at if rating else None]
        else:
            row += [None] * 7
        work.summons.append(tuple(row))


def flag_unreasonable(work: Work, at: datetime, decided: datetime | None, ctx: Context) -> None:
    ticket, current = work.ticket, work.current
    assert current is not None
    reason = ticket.unreasonable_reason or "诉求超出政策规定范围"
    row: list[Any] = [ticket.id, "unreasonable", current.unit.id, reason]
    row += [ctx.actors.department_user_id, at]
    work.event(at, "unreasonable", {"decision": "requested", "reason": reason})
    if decided is None:
        row += [None, None, None, None]
    else:
        row += ["approved", None, ctx.actors.dispatcher_id, decided]
        work.event(decided, "unreasonable", {"decision": "approved", "reason": reason})
    work.requests.append(row)


def callbacks(work: Work, tries: list[Try], u: list[float], ctx: Context) -> None:
    """The callbacks the hotline loader wrote: each try is an event; a conclusive one closes the
    case or sends it back for rework (then the unit replies again, and is called back again)."""
    ticket = work.ticket
    for attempt in tries:
        if attempt.round == 2 and work.status is not CaseStatus.HANDLED:
            break  # the second reply is still to come
        data = {
            "round": attempt.round,
            "attempt": attempt.attempt,
            "reached": attempt.reached,
            "solved": attempt.solved,
            "satisfaction": attempt.satisfaction,
            "unreachable": attempt.gave_up,
        }
        work.events.append((attempt.at, "callback", data))
        if not (attempt.reached or attempt.gave_up):
            continue
        rework = (
            attempt.reached
            and attempt.solved in REWORK_ANSWERS
            and attempt.round == 1
            and not ticket.unreasonable
        )
        if rework:
            reason = REWORK_REASONS[attempt.solved or "not_solved"]
            callback_rework(work, attempt.at, reason, ctx)
            second = between(attempt.at, ticket.second_call_at, 0.7)
            if second <= ctx.now:
                reply(work, second, u, ctx, rework=True)
        else:
            callback_close(work, attempt.at, ctx)


def callback_rework(work: Work, at: datetime, reason: str, ctx: Context) -> None:
    current = work.current
    assert current is not None
    current.rework_count += 1
    current.handled_at = current.handling_hours = None
    work.rework_count += 1
    details = {"rework_count": work.rework_count, "handled_at": iso(work.handled_at)}
    work.step("callback_rework", CaseStatus.REWORK, at, ctx.dispatcher, reason, details)
    work.handled_at = None
    limits = ctx.limits(work.ticket)
    work.reply_due_at = due(at, limits.reply, current.unit.calendar).at
    data = {
        "case_status": "rework",
        "department_code": current.unit.code,
        "reply_due_at": iso(work.reply_due_at),
        "work_round": work.rework_count,
        "reason": reason,
    }
    work.event(at, "rework", data)


def callback_close(work: Work, at: datetime, ctx: Context) -> None:
    current = work.current
    assert current is not None
    current.ended_at, current.end_reason = at, "closed"
    hours = round(working_between(work.handled_at or at, at, current.unit.calendar), 4)
    details = {"handled_at": iso(work.handled_at), "verify_working_hours": hours}
    work.step("callback_close", CaseStatus.CLOSED, at, ctx.dispatcher, None, details)
    work.closed_at = at
    work.event(at, "closed", {"case_status": "closed"})


def story(work: Work, tries: list[Try], ctx: Context) -> Work:
    """The case of a located ticket, as far as now."""
    ticket = work.ticket
    u = draws(ticket.number, 20)
    filed_at = min(ticket.received_at + timedelta(minutes=1), ctx.now)
    work.step("report", CaseStatus.REPORTED, ticket.received_at, ctx.dispatcher)
    work.step("file", CaseStatus.FILED, filed_at, ctx.dispatcher, None, {"filed_at": iso(filed_at)})
    work.filed_at = filed_at
    work.first_contacted_at = ticket.first_contacted_at
    located = {"cell_code": ticket.cell_code, "lon": ticket.lon, "lat": ticket.lat}
    work.event(filed_at, "located", located)
    work.event(filed_at, "filed", {"case_id": work.case_id})
    if ticket.dispatched_at is None:
        return work
    dispatches(work, u, ctx)
    if ticket.signed_at is None:
        return work
    sign_for(work, ctx)
    if u[3] < CO_UNIT:
        co_unit(work, u, ctx)
    if u[4] < SUMMONED:
        summon(work, u, ctx)
    if ticket.replied_at is None:
        if u[5] < FLAG_PENDING and not ticket.unreasonable:
            flag_unreasonable(work, between(ticket.signed_at, ctx.now, 0.5), None, ctx)
        return work
    reply(work, ticket.replied_at, u, ctx, rework=False)
    if ticket.unreasonable:
        first_try = tries[0].at if tries else ctx.now
        asked = between(ticket.replied_at, first_try, 0.3)
        flag_unreasonable(work, asked, between(ticket.replied_at, first_try, 0.6), ctx)
    callbacks(work, tries, u, ctx)
    return work


# --- reading and writing ----------------------------------------------------------------------

TICKETS_SQL = """
SELECT t.id, t.ticket_number AS number, t.received_at, t.urgency_class, t.content,
       t.address_text, t.lon, t.lat, t.cell_id, g.code AS cell_code, t.category_id,
       -- the category's limit for the case's urgency (an urgent case: not general)
       CASE WHEN t.urgency_class = 'general' THEN c.limit_hours_normal
            ELSE c.limit_hours_urgent END AS limit_hours,
       t.lead_department_id AS lead_id, s.street_code, t.dispatched_at, t.signed_at,
       t.first_contacted_at, t.replied_at, t.closed_at,
       coalesce(t.closed_at, s.received_at + s.to_dispatch + s.to_reply + s.to_callback * 2
                             + interval '3 days') AS second_call_at,
       t.unreasonable, t.unreasonable_reason
FROM hotline_ticket t
JOIN demo_hotline_story s ON s.ticket_number = t.ticket_number
JOIN category c ON c.id = t.category_id
JOIN grid_cell g ON g.id = t.cell_id
WHERE t.ticket_number LIKE :prefix || '%' AND t.location_status = 'located'
  AND t.lead_department_id IS NOT NULL
ORDER BY t.received_at, t.id
"""
TRIES_SQL = """
SELECT b.ticket_id, b.round, b.attempt, b.at, b.reached, b.solved, b.satisfaction, b.gave_up
FROM hotline_callback b JOIN hotline_ticket t ON t.id = b.ticket_id
WHERE t.ticket_number LIKE :prefix || '%'
ORDER BY b.ticket_id, b.round, b.attempt
"""
# Every demo ticket, for its `received` event (consultations, praise and tickets still to be
# located have that one only).
EVERY_TICKET_SQL = """
SELECT id, ticket_number, ticket_type, urgency_class, received_at FROM hotline_ticket
WHERE ticket_number LIKE :prefix || '%'
"""


def units_of(session: Session, settings: Settings) -> Units:
    rows = session.execute(
        text("SELECT id, code, kind FROM department WHERE is_active ORDER BY code")
    ).all()
    by_id = {
        row.id: Unit(
            row.id,
            row.code,
            row.kind,
            calendar_for_department(session, row.id, default_code=settings.default_calendar_code),
        )
        for row in rows
    }
    by_code = {unit.code: unit for unit in by_id.values()}
    specialists: dict[str, Unit] = {}
    for unit in by_id.values():  # by code: the lowest of a type, as the demo's rules choose
        if unit.kind in demo_rules.SPECIALIST_KINDS:
            specialists.setdefault(unit.kind, unit)
    last_resort = by_code.get(settings.hotline_last_resort_department_code)
    return Units(by_id, by_code, specialists, last_resort)


def actors_of(session: Session) -> Actors:
    def first(role: str) -> int | None:
        found = session.scalar(
            text("SELECT id FROM app_user WHERE role = :role AND is_active ORDER BY id LIMIT 1"),
            {"role": role},
        )
        return int(found) if found is not None else None

    return Actors(first("dispatcher"), first("department"))


TICKET_STATUS = {
    CaseStatus.FILED: "filed",
    CaseStatus.DISPATCHED: "dispatched",
    CaseStatus.RETURNED: "returned",
    CaseStatus.ACCEPTED: "signed",
    CaseStatus.HANDLED: "replied",
    CaseStatus.REWORK: "rework",
    CaseStatus.CLOSED: "closed",
}


def work_demo_tickets(session: Session, *, now: datetime, prefix: str) -> int:
    """Give the demo's located tickets their cases (see the module's docstring); cases written.
    Needs the hotline loader's temporary tables (demo_hotline_story)."""
    settings = get_settings()
    params = {"prefix": prefix}
    tickets = [Ticket(**row._asdict()) for row in session.execute(text(TICKETS_SQL), params)]
    tries: dict[int, list[Try]] = {}
    for row in session.execute(text(TRIES_SQL), params):
        values = row._asdict()
        tries.setdefault(values.pop("ticket_id"), []).append(Try(**values))
    standard = {urgency.value: limits_of(settings, urgency) for urgency in UrgencyClass}
    ctx = Context(now, units_of(session, settings), actors_of(session), settings, standard)
    first_id = int(session.scalar(text("SELECT coalesce(max(id), 0) FROM event_case")) or 0) + 1
    numbers = _case_numbers(session, [ticket.received_at for ticket in tickets])
    works = [
        story(Work(ticket, first_id + i, numbers[i]), tries.get(ticket.id, []), ctx)
        for i, ticket in enumerate(tickets)
    ]
    every = list(session.execute(text(EVERY_TICKET_SQL), params))
    write(session, works, every, ctx)
    waiting = [work.case_id for work in works if work.status is CaseStatus.FILED]
    routing.store_routes(session, waiting, at=now)
    return len(works)


def write(session: Session, works: list[Work], every: list[Any], ctx: Context) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        columns = ", ".join((*CASE_COLUMNS, "address"))
        _copy(cursor, f"event_case ({columns})", case_rows(works, ctx))
        _copy(
            cursor,
            "report (report_uuid, case_id, original_case_id, reporter_id, channel, geom, "
            "description, created_at)",
            report_rows(works, ctx),
        )
        _copy(
            cursor,
            "case_transition (case_id, action, from_status, to_status, actor_id, actor_role, "
            "reason, details, at)",
            (step for work in works for step in work.steps),
        )
        _copy(
            cursor,
            f"case_assignment ({', '.join(ASSIGNMENT_COLUMNS)})",
            assignment_rows(works, ctx),
        )
        _copy(
            cursor,
            "hotline_reply (ticket_id, department_id, unit_role, work_round, received_at, "
            "contacted_person, contacted_at, action_taken, rest_due_at, done, replied_by, "
            "replied_at)",
            (row for work in works for row in work.replies),
        )
        _copy(
            cursor,
            "hotline_co_unit (ticket_id, department_id, added_by, added_at, reply_due_at, "
            "replied_at)",
            (row for work in works for row in work.co_units),
        )
        _copy(
            cursor,
            "hotline_unit_request (ticket_id, kind, department_id, reason, requested_by, "
            "requested_at, decision, decision_note, decided_by, decided_at)",
            (tuple(row) for work in works for row in work.requests),
        )
        _copy(
            cursor,
            "case_summons (case_id, department_id, summoned_by, summoned_at, note, limit_hours, "
            "working_time, due_at, reported_at, reported_by, answer, answered_at, answered_by, "
            "rating, rating_note, rated_by, rated_at)",
            (row for work in works for row in work.summons),
        )
        _copy(
            cursor,
            "hotline_ticket_event (ticket_id, seq, kind, data, at, pushed_at)",
            event_rows(works, every),
        )
    session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('event_case', 'id'), "
            "(SELECT max(id) FROM event_case))"
        )
    )
    update_tickets(session, works, ctx)


def case_rows(works: list[Work], ctx: Context) -> Iterator[tuple[object, ...]]:
    limit = ctx.settings.description_max_chars
    for work in works:
        ticket = work.ticket
        last = work.assignments[-1] if work.assignments else None
        # The case sits with its last unit (after the callback's close too, as the live close
        # leaves it), but not while returned.
        held = last if last is not None and last.returned_at is None else None
        yield (
            work.case_id,
            work.number,
            work.status.value,
            ticket.category_id,
            "normal" if ticket.urgency_class == "general" else "urgent",
            ticket.content[:limit],
            f"SRID=4326;POINT({ticket.lon} {ticket.lat})",
            ticket.cell_id,
            held.unit.id if held else None,
            ctx.actors.dispatcher_id,
            ticket.received_at,
            work.steps[-1][8],
            work.filed_at,
            last.dispatched_at if last else None,
            held.due_at if held else None,
            held.warn_at if held else None,
            held.provisional if held else False,
            work.handled_at,
            work.closed_at,
            None,
            None,
            work.rework_count,
            work.return_count,
            len(work.steps),
            None,
            None,
            None,
            (ticket.address_text or "")[:500] or None,  # as the caller said it
        )


def report_rows(works: list[Work], ctx: Context) -> Iterator[tuple[object, ...]]:
    limit = ctx.settings.description_max_chars
    for work in works:
        ticket = work.ticket
        yield (
            uuid.uuid5(TICKET_NAMESPACE, ticket.number),
            work.case_id,
            work.case_id,
            ctx.actors.dispatcher_id,
            CHANNEL,
            f"SRID=4326;POINT({ticket.lon} {ticket.lat})",
            ticket.content[:limit],
            ticket.received_at,
        )


def assignment_rows(works: list[Work], ctx: Context) -> Iterator[tuple[object, ...]]:
    for work in works:
        for a in work.assignments:
            yield (
                work.case_id,
                a.unit.id,
                ctx.actors.dispatcher_id,
                a.dispatched_at,
                a.limit_hours,
                a.due_at,
                a.warn_at,
                a.provisional,
                a.accepted_at,
                a.handled_at,
                a.handling_hours,
                a.returned_at,
                a.rework_count,
                None,
                a.ended_at,
                a.end_reason,
            )


def event_rows(works: list[Work], every: list[Any]) -> Iterator[tuple[object, ...]]:
    """Every ticket's events in time order, numbered 1, 2, 3…; all already pushed."""
    received: dict[int, tuple[datetime, str, dict[str, Any]]] = {
        row.id: (
            row.received_at,
            "received",
            {
                "ticket_number": row.ticket_number,
                "ticket_type": row.ticket_type,
                "urgency_class": row.urgency_class,
                "received_at": row.received_at.isoformat(),
            },
        )
        for row in every
    }
    worked = {work.ticket.id: work for work in works}
    for ticket_id, first in received.items():
        work = worked.get(ticket_id)
        later = sorted(work.events, key=lambda event: event[0]) if work else []
        for seq, (at, kind, data) in enumerate([first, *later], start=1):
            yield (ticket_id, seq, kind, json.dumps(data, ensure_ascii=False), at, at)


def update_tickets(session: Session, works: list[Work], ctx: Context) -> None:
    session.execute(
        text(
            "CREATE TEMP TABLE demo_hotline_work (id bigint, case_id bigint, status text, "
            "lead_department_id bigint, sign_due_at timestamptz, first_contact_due_at "
            "timestamptz, reply_due_at timestamptz, first_contacted_at timestamptz, "
            "replied_at timestamptz, closed_at timestamptz, updated_at timestamptz) "
            "ON COMMIT DROP"
        )
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    rows = (
        (
            work.ticket.id,
            work.case_id,
            TICKET_STATUS[work.status],
            work.assignments[-1].unit.id if work.assignments else None,  # lead once dispatched
            work.sign_due_at,
            work.first_contact_due_at,
            work.reply_due_at,
            work.first_contacted_at,
            work.replied_at,
            work.closed_at,
            work.steps[-1][8],
        )
        for work in works
    )
    with raw.cursor() as cursor:
        _copy(cursor, "demo_hotline_work", rows)
    session.execute(
        text(
            """
            UPDATE hotline_ticket t
            SET case_id = w.case_id, status = w.status, lead_department_id = w.lead_department_id,
                sign_due_at = w.sign_due_at, first_contact_due_at = w.first_contact_due_at,
                reply_due_at = w.reply_due_at,
                first_contacted_at = w.first_contacted_at, replied_at = w.replied_at,
                closed_at = w.closed_at, updated_at = greatest(t.updated_at, w.updated_at)
            FROM demo_hotline_work w WHERE w.id = t.id
            """
        )
    )
    session.execute(text("DROP TABLE demo_hotline_work"))
