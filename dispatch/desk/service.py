"""The desk's reads: the department whose desk is shown, and its open cases with the working
time left and what the viewer may do with each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from citygrid.errors import NotFound
from dispatch.console.cards import CASE_CARD, ROWS_SHOWN, RUNNING
from dispatch.deadlines import WorkCalendar, working_hours_between
from dispatch.departments.service import active_departments
from events.lifecycle import CaseAction, CaseStatus, allowed_actions

DESK_ACTIONS = (
    CaseAction.ACCEPT,
    CaseAction.RETURN,
    CaseAction.HANDLE,
    CaseAction.REQUEST_POSTPONEMENT,
)
DESK_CASES = f"""
SELECT {CASE_CARD}, c.due_at, c.warn_at, c.suspended_at, c.dispatched_at,
       c.postponement_hours_requested, c.return_count, c.rework_count,
       CASE WHEN c.due_at IS NULL THEN NULL
            WHEN c.due_at < coalesce(c.suspended_at, now()) THEN 'red'
            WHEN c.warn_at <= coalesce(c.suspended_at, now()) THEN 'yellow'
            ELSE 'green' END AS light
FROM event_case c JOIN category cat ON cat.id = c.category_id JOIN grid_cell g ON g.id = c.cell_id
WHERE c.department_id = :department_id AND c.status = ANY(:running) AND c.merged_into_id IS NULL
ORDER BY c.due_at NULLS LAST, c.id
LIMIT :limit
"""


def working_hours_left(
    due_at: datetime | None, now: datetime, calendar: WorkCalendar
) -> float | None:
    """Working hours until the deadline on the calendar; negative once it has passed."""
    if due_at is None:
        return None
    if due_at >= now:
        return round(working_hours_between(now, due_at, calendar), 1)
    return -round(working_hours_between(due_at, now, calendar), 1)


@dataclass(frozen=True)
class DeskCase:
    """One of the department's cases with its time left and what the viewer may do with it."""

    row: RowMapping
    hours_left: float | None
    actions: tuple[CaseAction, ...]


def desk_actions(row: RowMapping, role: Role) -> tuple[CaseAction, ...]:
    """The desk's actions the role may take on the case now (one postponement request at a
    time); the API decides again when one is taken."""
    allowed = allowed_actions(CaseStatus(row["status"]), role)
    pending = row["postponement_hours_requested"] is not None
    return tuple(
        action
        for action in DESK_ACTIONS
        if action in allowed and not (pending and action is CaseAction.REQUEST_POSTPONEMENT)
    )


def desk_cases(
    session: Session, department_id: int, role: Role, now: datetime, calendar: WorkCalendar
) -> list[DeskCase]:
    """The department's open cases, the nearest deadline first."""
    parameters = {"department_id": department_id, "running": RUNNING, "limit": ROWS_SHOWN}
    rows = session.execute(text(DESK_CASES), parameters).mappings().all()
    # A suspended case's clock stands still: its time left is counted at the suspension.
    return [
        DeskCase(
            row,
            working_hours_left(row["due_at"], row["suspended_at"] or now, calendar),
            desk_actions(row, role),
        )
        for row in rows
    ]


def desk_department(
    session: Session, principal: Principal, code: str | None
) -> tuple[RowMapping | None, list[RowMapping]]:
    """The department whose desk is shown (a member's own; an administrator's choice, else the
    first) and the departments an administrator may choose from."""
    departments = active_departments(session)
    if principal.role is Role.DEPARTMENT:
        own = [row for row in departments if row["id"] == principal.department_id]
        if not own:
            raise NotFound("your account belongs to no active department", field="department")
        return own[0], []
    if code is None:
        return (departments[0] if departments else None), departments
    chosen = [row for row in departments if row["code"] == code]
    if not chosen:
        raise NotFound(f"no active department has code {code!r}", field="department")
    return chosen[0], departments
