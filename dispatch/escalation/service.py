"""Escalation runs: fire the chain's due steps for open assignments, tell the recipients.

A step fires at most once per assignment, whatever restarts or runs twice at once: the
`escalation` row is inserted with ON CONFLICT DO NOTHING on (assignment_id, step), and only the
rows this run actually inserted get notices and webhook events, written in the same
transaction. A crash before commit loses nothing (the next run fires the step); a crash after
commit repeats nothing (the row is there).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.settings import Settings
from dispatch.calendars import service as calendars
from dispatch.deadlines import WorkCalendar
from dispatch.escalation.ladder import (
    EscalationChain,
    EscalationStep,
    describe_step,
    due_steps,
    parse_chain,
    step_thresholds,
)
from dispatch.models import Escalation
from dispatch.rules.service import rule_set_in_force
from dispatch.webhooks import service as webhooks
from events.models import Case, CaseAssignment

CANDIDATE_BATCH = 5_000
NOTIFICATION_KIND = "escalation"
WEBHOOK_KIND = "case.escalated"
# Webhook event ids derive from the escalation row, so an event is identified by what fired.
EVENT_NAMESPACE = uuid.UUID("5b0f9d1e-4c33-4a7c-9c55-0e8f3f6f2a10")

# Recipients of many fired steps at once: each group joined on its own (an index each), the
# union removing a user who belongs to two groups of the same step.
NOTIFY_FIRED = text(
    """
    WITH fired AS (
        SELECT * FROM jsonb_to_recordset(:fired) AS f(
            escalation_id bigint, case_id bigint, department_id integer,
            recipients jsonb, title text, body jsonb)
    ), recipient AS (
        SELECT f.escalation_id, u.id AS user_id
        FROM fired AS f JOIN app_user AS u
            ON u.department_id = f.department_id AND u.role = 'department'
        WHERE f.recipients @> '["department"]'
        UNION
        SELECT f.escalation_id, s.user_id
        FROM fired AS f JOIN department_supervisor AS s ON s.department_id = f.department_id
        WHERE f.recipients @> '["supervisors"]'
        UNION
        SELECT f.escalation_id, u.id FROM fired AS f JOIN app_user AS u ON u.role = 'dispatcher'
        WHERE f.recipients @> '["dispatchers"]'
        UNION
        SELECT f.escalation_id, u.id FROM fired AS f JOIN app_user AS u ON u.role = 'manager'
        WHERE f.recipients @> '["managers"]'
    )
    INSERT INTO notification (user_id, case_id, kind, title, body, created_at)
    SELECT r.user_id, f.case_id, :kind, f.title, f.body, :now
    FROM recipient AS r
    JOIN fired AS f ON f.escalation_id = r.escalation_id
    JOIN app_user AS u ON u.id = r.user_id AND u.is_active
    """
).bindparams(bindparam("fired", type_=JSONB))


CANDIDATE_COLUMNS = (
    CaseAssignment.id,
    CaseAssignment.case_id,
    CaseAssignment.department_id,
    CaseAssignment.dispatched_at,
    CaseAssignment.limit_hours,
    CaseAssignment.postponed_hours,
    CaseAssignment.suspended_hours,
    CaseAssignment.due_at,
    CaseAssignment.warn_at,
)

INSERT_ESCALATIONS = text(
    """
    INSERT INTO escalation (case_id, assignment_id, step, threshold_at, fired_at, recipients)
    SELECT p.case_id, p.assignment_id, p.step, p.threshold_at, :now, p.recipients
    FROM jsonb_to_recordset(:planned) AS p(
        case_id bigint, assignment_id bigint, step text, threshold_at timestamptz,
        recipients jsonb)
    ON CONFLICT (assignment_id, step) DO NOTHING
    RETURNING id, assignment_id, step
    """
).bindparams(bindparam("planned", type_=JSONB))


@dataclass
class EscalationReport:
    """What one run did: assignments looked at, steps fired (by name), notices, webhook rows."""

    examined: int = 0
    fired: dict[str, int] = field(default_factory=dict)
    notifications: int = 0
    deliveries: int = 0

    @property
    def fired_total(self) -> int:
        return sum(self.fired.values())


@dataclass(frozen=True)
class Candidate:
    """An open assignment past its warning point (the columns of CANDIDATE_COLUMNS and more)."""

    id: int
    case_id: int
    department_id: int
    dispatched_at: datetime
    limit_hours: float | None
    postponed_hours: float
    suspended_hours: float
    due_at: datetime | None
    warn_at: datetime | None  # never None here: the query asks for warn_at <= now
    number: str
    department_code: str


@dataclass(frozen=True)
class FiredStep:
    """A step this run inserted, with what its notices and events say."""

    escalation_id: int
    candidate: Candidate
    chain_step: EscalationStep
    threshold_at: datetime


def chain_in_force(session: Session, now: datetime) -> EscalationChain:
    """The escalation chain of the rule set in force at `now`; the default without one."""
    rule_set = rule_set_in_force(session, now)
    return parse_chain(rule_set.escalation if rule_set is not None else None)


def run_escalations(
    session: Session, now: datetime, *, settings: Settings, batch_size: int = CANDIDATE_BATCH
) -> EscalationReport:
    """Fires every step due by `now` on open assignments, batch by batch; the caller commits.
    Returns what was done."""
    chain = chain_in_force(session, now)
    calendar_of = CalendarCache(session, settings.default_calendar_code)
    report = EscalationReport()
    after: tuple[datetime | None, int] | None = None
    while True:
        candidates = _candidates(session, now, chain, after=after, limit=batch_size)
        report.examined += len(candidates)
        _fire_batch(session, candidates, chain, calendar_of, now, report)
        if len(candidates) < batch_size:
            return report
        after = (candidates[-1].warn_at, candidates[-1].id)


class CalendarCache:
    """Departments' calendars, each loaded once per run."""

    def __init__(self, session: Session, default_code: str) -> None:
        self.session = session
        self.default_code = default_code
        self.by_department: dict[int, WorkCalendar] = {}

    def __call__(self, department_id: int) -> WorkCalendar:
        if department_id not in self.by_department:
            self.by_department[department_id] = calendars.calendar_for_department(
                self.session, department_id, default_code=self.default_code
            )
        return self.by_department[department_id]


def _candidates(
    session: Session,
    now: datetime,
    chain: EscalationChain,
    *,
    after: tuple[datetime | None, int] | None,
    limit: int,
) -> Sequence[Candidate]:
    """Open, running assignments past their warning point with a step of the chain not fired,
    in (warn_at, id) order after `after`: the partial index on warn_at serves it."""
    names = [step.step for step in chain.steps]
    fired_count = (
        select(func.count())
        .where(Escalation.assignment_id == CaseAssignment.id, Escalation.step.in_(names))
        .scalar_subquery()
    )
    query = (
        select(*CANDIDATE_COLUMNS, Case.number, Department.code.label("department_code"))
        .join(Case, Case.id == CaseAssignment.case_id)
        .join(Department, Department.id == CaseAssignment.department_id)
        .where(
            CaseAssignment.ended_at.is_(None),
            CaseAssignment.handled_at.is_(None),
            CaseAssignment.suspended_at.is_(None),
            CaseAssignment.warn_at <= now,
            Case.merged_into_id.is_(None),  # a merged duplicate is followed on its survivor
            fired_count < len(names),
        )
        .order_by(CaseAssignment.warn_at, CaseAssignment.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(CaseAssignment.warn_at, CaseAssignment.id) > after)
    return [Candidate(*row) for row in session.execute(query)]


def _fire_batch(
    session: Session,
    candidates: Sequence[Candidate],
    chain: EscalationChain,
    calendar_of: CalendarCache,
    now: datetime,
    report: EscalationReport,
) -> None:
    """Fires the batch's due steps and writes their notices and webhook events."""
    if not candidates:
        return
    fired = _insert_escalations(session, _due(session, candidates, chain, calendar_of, now), now)
    for fired_step in fired:
        name = fired_step.chain_step.step
        report.fired[name] = report.fired.get(name, 0) + 1
    report.notifications += _notify(session, fired, now)
    report.deliveries += _enqueue(session, fired, now)


def _due(
    session: Session,
    candidates: Sequence[Candidate],
    chain: EscalationChain,
    calendar_of: CalendarCache,
    now: datetime,
) -> list[tuple[Candidate, EscalationStep, datetime]]:
    """The (candidate, step, threshold) triples due by `now` and not fired yet."""
    already = _fired_steps(session, [candidate.id for candidate in candidates])
    due = []
    for candidate in candidates:
        thresholds = step_thresholds(
            chain,
            dispatched_at=candidate.dispatched_at,
            allowed_hours=(candidate.limit_hours or 0.0) + candidate.postponed_hours,
            suspended_hours=candidate.suspended_hours,
            calendar=calendar_of(candidate.department_id),
        )
        fired = already.get(candidate.id, set())
        for step in due_steps(chain, fired, thresholds, now):
            due.append((candidate, step, thresholds[step.step]))
    return due


def _fired_steps(session: Session, assignment_ids: list[int]) -> dict[int, set[str]]:
    rows = session.execute(
        select(Escalation.assignment_id, Escalation.step).where(
            Escalation.assignment_id.in_(assignment_ids)
        )
    )
    fired: dict[int, set[str]] = {}
    for assignment_id, step in rows:
        fired.setdefault(assignment_id, set()).add(step)
    return fired


def _insert_escalations(
    session: Session, due: list[tuple[Candidate, EscalationStep, datetime]], now: datetime
) -> list[FiredStep]:
    """Inserts the escalation rows; returns the steps this run fired (not another's)."""
    if not due:
        return []
    planned = {(candidate.id, step.step): (candidate, step, at) for candidate, step, at in due}
    rows = [
        {
            "case_id": candidate.case_id,
            "assignment_id": candidate.id,
            "step": step.step,
            "threshold_at": at,
            "recipients": [str(recipient) for recipient in step.notify],
        }
        for candidate, step, at in due
    ]
    inserted = session.execute(
        INSERT_ESCALATIONS, {"planned": to_jsonable_python(rows), "now": now}
    )
    return [
        FiredStep(escalation_id, *planned[(assignment_id, step_name)])
        for escalation_id, assignment_id, step_name in inserted
    ]


def _notify(session: Session, fired: list[FiredStep], now: datetime) -> int:
    """Writes the inbox notices of the fired steps; returns how many."""
    if not fired:
        return 0
    rows = [
        {
            "escalation_id": step.escalation_id,
            "case_id": step.candidate.case_id,
            "department_id": step.candidate.department_id,
            "recipients": [str(recipient) for recipient in step.chain_step.notify],
            "title": f"Case {step.candidate.number}: {describe_step(step.chain_step)}",
            "body": _event_payload(step, now),
        }
        for step in fired
    ]
    params = {"fired": to_jsonable_python(rows), "kind": NOTIFICATION_KIND, "now": now}
    return int(session.execute(NOTIFY_FIRED, params).rowcount)  # type: ignore[attr-defined]


def _enqueue(session: Session, fired: list[FiredStep], now: datetime) -> int:
    """Queues a `case.escalated` webhook event per fired step; returns the delivery rows."""
    events = [
        (uuid.uuid5(EVENT_NAMESPACE, f"escalation/{step.escalation_id}"), _event_payload(step, now))
        for step in fired
    ]
    return webhooks.enqueue_events(session, kind=WEBHOOK_KIND, events=events, now=now)


def _event_payload(fired: FiredStep, now: datetime) -> dict[str, Any]:
    candidate = fired.candidate
    return {
        "case_id": candidate.case_id,
        "case_number": candidate.number,
        "assignment_id": candidate.id,
        "department_id": candidate.department_id,
        "department_code": candidate.department_code,
        "step": fired.chain_step.step,
        "recipients": [str(recipient) for recipient in fired.chain_step.notify],
        "due_at": candidate.due_at,
        "threshold_at": fired.threshold_at,
        "fired_at": now,
    }
