"""The desk's reads: the department whose desk is shown, and a page of its open cases with the
time left and what the viewer may do with each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, RowMapping, and_
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from citygrid.errors import NotFound
from dispatch.console.cards import RUNNING
from dispatch.console.worklist import ListPage, PageRequest, case_page, case_texts
from dispatch.departments.service import active_departments
from events.lifecycle import CaseAction, CaseStatus, allowed_actions
from events.listing.schemas import CaseFilters, CaseListItem
from events.listing.service import filter_conditions, where_clause
from events.models import Case

DESK_ACTIONS = (
    CaseAction.ACCEPT,
    CaseAction.RETURN,
    CaseAction.HANDLE,
    CaseAction.REQUEST_POSTPONEMENT,
)


def hours_left(due_at: datetime | None, clock: datetime) -> float | None:
    """Clock hours from `clock` to the deadline; negative once it has passed."""
    return None if due_at is None else (due_at - clock) / timedelta(hours=1)


@dataclass(frozen=True)
class DeskCase:
    """One of the department's cases with its time left and what the viewer may do with it."""

    item: CaseListItem
    description: str
    postponement_hours_requested: float | None
    rework_count: int
    hours_left: float | None  # clock hours; a suspended case's clock stands at its suspension
    actions: tuple[CaseAction, ...]


def desk_actions(
    status: CaseStatus, role: Role, *, postponement_pending: bool
) -> tuple[CaseAction, ...]:
    """The desk's actions the role may take on the case now (one postponement request at a
    time); the API decides again when one is taken."""
    allowed = allowed_actions(status, role)
    return tuple(
        action
        for action in DESK_ACTIONS
        if action in allowed
        and not (postponement_pending and action is CaseAction.REQUEST_POSTPONEMENT)
    )


def desk_condition(
    principal: Principal, department_id: int | None, filters: CaseFilters
) -> ColumnElement[bool]:
    """The open cases a department holds (every department's when None) matching the filters.
    A member sees what their department holds (events.visibility), so the department's own
    cases need no visibility sub-select: ix_event_case_department_id finds them."""
    held = and_(Case.status.in_(RUNNING), Case.merged_into_id.is_(None))
    if department_id is None:
        return and_(held, where_clause(principal, filters))
    unfiltered = replace(filters, department_code=None)  # the desk's department is the filter
    return and_(held, Case.department_id == department_id, *filter_conditions(unfiltered))


def desk_cases(
    session: Session,
    principal: Principal,
    department_id: int | None,
    filters: CaseFilters,
    paged: PageRequest,
    *,
    now: datetime,
) -> ListPage[DeskCase]:
    """A page of the department's open cases matching the filters (by default the nearest
    deadline first, so the overdue ones on top), with the true total."""
    where = desk_condition(principal, department_id, filters)
    page = case_page(session, where, paged)
    texts = case_texts(
        session,
        [item.id for item in page.items],
        Case.suspended_at,
        Case.postponement_hours_requested,
        Case.rework_count,
    )
    cards = [desk_case(item, texts[item.id], principal.role, now) for item in page.items]
    return ListPage(page.total, page.next_cursor, cards)


def desk_case(item: CaseListItem, texts: RowMapping, role: Role, now: datetime) -> DeskCase:
    pending = texts["postponement_hours_requested"] is not None
    return DeskCase(
        item,
        description=texts["description"],
        postponement_hours_requested=texts["postponement_hours_requested"],
        rework_count=texts["rework_count"],
        hours_left=hours_left(item.due_at, texts["suspended_at"] or now),
        actions=desk_actions(item.status, role, postponement_pending=pending),
    )


def desk_department(session: Session, principal: Principal, code: str | None) -> RowMapping | None:
    """The department whose desk is shown: a member's own; an administrator's choice, else
    None (every department's cases)."""
    departments = active_departments(session)
    if principal.role is Role.DEPARTMENT:
        own = [row for row in departments if row["id"] == principal.department_id]
        if not own:
            raise NotFound("your account belongs to no active department", field="department")
        return own[0]
    if code is None:
        return None
    chosen = [row for row in departments if row["code"] == code]
    if not chosen:
        raise NotFound(f"no active department has code {code!r}", field="department_code")
    return chosen[0]
