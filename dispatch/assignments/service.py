"""Assignments: a case given to a department, its working-time deadline, and how far along it is.

A deadline is always recounted from the dispatch: the category's limit for the case's urgency,
plus approved postponements, plus the working time spent suspended, added in working time on the
department's calendar. So a postponement adds its hours, a suspension adds exactly the working
time it lasted, and the 80 % warning point moves with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from dispatch.calendars import service as calendars
from dispatch.deadlines import (
    WARNING_FRACTION,
    Light,
    WorkCalendar,
    add_working_hours,
    working_hours_between,
)
from dispatch.deadlines import traffic_light as light_for
from events.models import Case, CaseAssignment, Category


@dataclass(frozen=True)
class Schedule:
    """Where an assignment's deadline and warning point fall."""

    due_at: datetime | None
    warn_at: datetime | None
    provisional: bool


@dataclass(frozen=True)
class Progress:
    """How much of the allowed working time an assignment has used, as the case page shows it."""

    allowed_hours: float
    used_hours: float
    light: Light
    overdue: bool


def limit_hours_of(session: Session, case: Case) -> float | None:
    """The category's time limit for the case's urgency, in working hours (None: no limit)."""
    category = session.get(Category, case.category_id)
    if category is None:
        return None
    urgent = case.urgency == "urgent"
    return category.limit_hours_urgent if urgent else category.limit_hours_normal


def schedule_of(assignment: CaseAssignment, calendar: WorkCalendar) -> Schedule:
    """Deadline and warning point recounted from the dispatch (see the module's docstring)."""
    if assignment.limit_hours is None:
        return Schedule(None, None, provisional=False)
    allowed = assignment.limit_hours + assignment.postponed_hours
    paused = assignment.suspended_hours
    due = add_working_hours(assignment.dispatched_at, allowed + paused, calendar)
    warn = add_working_hours(
        assignment.dispatched_at, WARNING_FRACTION * allowed + paused, calendar
    )
    return Schedule(due.at, warn.at, provisional=due.provisional or warn.provisional)


def progress_of(assignment: CaseAssignment, calendar: WorkCalendar, now: datetime) -> Progress:
    """Working time used so far (the clock stands still while the case is suspended)."""
    allowed = (assignment.limit_hours or 0.0) + assignment.postponed_hours
    until = assignment.suspended_at or assignment.handled_at or now
    used = working_hours_between(assignment.dispatched_at, until, calendar)
    used = max(0.0, used - assignment.suspended_hours)
    overdue = assignment.due_at is not None and until > assignment.due_at
    light = light_for(used_hours=used, allowed_hours=allowed or 1.0, overdue=overdue)
    return Progress(allowed_hours=allowed, used_hours=round(used, 4), light=light, overdue=overdue)


def current_assignment(session: Session, case_id: int) -> CaseAssignment | None:
    return session.scalar(
        select(CaseAssignment).where(
            CaseAssignment.case_id == case_id, CaseAssignment.ended_at.is_(None)
        )
    )


def calendar_of(session: Session, department_id: int | None, default_code: str) -> WorkCalendar:
    return calendars.calendar_for_department(session, department_id, default_code=default_code)


def end_current(session: Session, case_id: int, *, now: datetime, reason: str) -> None:
    """Close the case's current assignment (returned, reassigned, closed, cancelled)."""
    assignment = current_assignment(session, case_id)
    if assignment is None:
        return
    assignment.ended_at = now
    assignment.end_reason = reason
    if reason == "returned":
        assignment.returned_at = now
    session.flush()


@dataclass(frozen=True)
class NewAssignment:
    department: Department
    decision_id: int | None
    by: Principal
    now: datetime


def start_assignment(
    session: Session, case: Case, new: NewAssignment, calendar: WorkCalendar
) -> CaseAssignment:
    """A new current assignment for the case (the previous one ended as reassigned)."""
    end_current(session, case.id, now=new.now, reason="reassigned")
    assignment = CaseAssignment(
        case_id=case.id,
        department_id=new.department.id,
        routing_decision_id=new.decision_id,
        dispatched_by=new.by.user_id,
        dispatched_at=new.now,
        limit_hours=limit_hours_of(session, case),
        postponed_hours=0.0,
        suspended_hours=0.0,
    )
    apply_schedule(assignment, calendar)
    session.add(assignment)
    session.flush()
    return assignment


def apply_schedule(assignment: CaseAssignment, calendar: WorkCalendar) -> Schedule:
    schedule = schedule_of(assignment, calendar)
    assignment.due_at = schedule.due_at
    assignment.warn_at = schedule.warn_at
    assignment.due_provisional = schedule.provisional
    return schedule


def schedule_changes(schedule: Schedule) -> dict[str, object]:
    """The case's copy of its current deadline (lists and filters read it from the case)."""
    return {
        "due_at": schedule.due_at,
        "warn_at": schedule.warn_at,
        "due_provisional": schedule.provisional,
    }


# Cases written in bulk (the demo history, imports) get their assignments afterwards, set-based.
BACKFILL_FILED_AT = """
UPDATE event_case c SET filed_at = t.at
FROM (SELECT case_id, min(at) AS at FROM case_transition WHERE action = 'file' GROUP BY case_id) t
WHERE t.case_id = c.id AND c.filed_at IS NULL
"""
BACKFILL_ASSIGNMENTS = """
INSERT INTO case_assignment (case_id, department_id, dispatched_at, limit_hours, due_at,
                             accepted_at, handled_at, rework_count, postponed_hours,
                             ended_at, end_reason, returned_at)
SELECT c.id, c.department_id, c.dispatched_at,
       CASE WHEN c.urgency = 'urgent' THEN cat.limit_hours_urgent ELSE cat.limit_hours_normal END,
       c.due_at,
       (SELECT min(t.at) FROM case_transition t WHERE t.case_id = c.id AND t.action = 'accept'),
       c.handled_at, c.rework_count, c.postponed_hours,
       CASE WHEN c.status IN ('closed', 'cancelled') THEN coalesce(c.closed_at, c.updated_at) END,
       CASE WHEN c.status IN ('closed', 'cancelled') THEN c.status END,
       NULL
FROM event_case c JOIN category cat ON cat.id = c.category_id
WHERE c.department_id IS NOT NULL AND c.dispatched_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM case_assignment a WHERE a.case_id = c.id)
RETURNING id
"""
# Assignments made by the migration from older cases carry no limit yet.
BACKFILL_LIMITS = """
UPDATE case_assignment a
SET limit_hours = CASE WHEN c.urgency = 'urgent' THEN cat.limit_hours_urgent
                       ELSE cat.limit_hours_normal END
FROM event_case c JOIN category cat ON cat.id = c.category_id
WHERE c.id = a.case_id AND a.limit_hours IS NULL
"""


def backfill_assignments(session: Session, *, default_calendar_code: str) -> int:
    """Assignments for dispatched cases that have none (written in bulk); the open ones get
    their deadline recounted in working time, the handled ones the working hours they took.
    Returns how many were made."""
    session.execute(text(BACKFILL_FILED_AT))
    made = len(session.execute(text(BACKFILL_ASSIGNMENTS)).all())
    session.execute(text(BACKFILL_LIMITS))
    session.flush()
    untimed = session.scalars(
        select(CaseAssignment).where(
            (CaseAssignment.ended_at.is_(None) & CaseAssignment.handled_at.is_(None))
            | (CaseAssignment.handled_at.is_not(None) & CaseAssignment.handling_hours.is_(None))
        )
    ).all()
    calendars_by_department: dict[int, WorkCalendar] = {}
    for assignment in untimed:
        department_id = assignment.department_id
        if department_id not in calendars_by_department:
            calendars_by_department[department_id] = calendar_of(
                session, department_id, default_calendar_code
            )
        calendar = calendars_by_department[department_id]
        if assignment.handled_at is not None:
            used = working_hours_between(assignment.dispatched_at, assignment.handled_at, calendar)
            assignment.handling_hours = round(used, 4)
            continue
        schedule = apply_schedule(assignment, calendar)
        session.execute(
            update(Case).where(Case.id == assignment.case_id).values(**schedule_changes(schedule)),
            execution_options={"synchronize_session": False},
        )
    session.flush()
    return made
