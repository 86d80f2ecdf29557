"""Dispatcher console and department desk pages.

Both pages are rendered on the server from the existing services (the dispatchers' queue, the
case listing) and a few page reads below, each one set-based statement: reports waiting to be
filed, duplicate candidates, requests waiting for approval, a department's open cases. Their
scripts (dispatch/static/) act through the JSON API and show its errors beside the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import RowMapping, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, Principal, Role, RoleCheckedRoute
from citygrid.accounts.models import Department
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, render
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WorkCalendar, working_hours_between
from dispatch.queue import service as queue_service
from dispatch.queue.service import QueueKind
from events.cases import pages as case_page
from events.cases.service import SUSPENSION_RECORD
from events.lifecycle import (
    DEPARTMENT_WORKING,
    DISPATCHERS,
    OPEN_STATUSES,
    WORKING_STATUSES,
    CaseAction,
    CaseStatus,
    allowed_actions,
)
from events.listing import service as listing
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

CONSOLE_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)
DESK_ROLES = (Role.DEPARTMENT, Role.ADMIN)
ROWS_SHOWN = 200  # per section: a console is a work list, not an archive (the listing is)
DUPLICATE_PAIRS_SHOWN = 50
WAITING = [s.value for s in (CaseStatus.REPORTED, CaseStatus.FILED, CaseStatus.RETURNED)]
RUNNING = sorted(s.value for s in (*WORKING_STATUSES, CaseStatus.SUSPENDED))
DESK_ACTIONS = (
    CaseAction.ACCEPT,
    CaseAction.RETURN,
    CaseAction.HANDLE,
    CaseAction.REQUEST_POSTPONEMENT,
)

QUEUE_KIND_LABELS = {
    QueueKind.NEW.value: N_("New"),
    QueueKind.UNROUTED.value: N_("Unrouted"),
    QueueKind.RETURNED.value: N_("Returned"),
}
LABELS = {
    "status": case_page.STATUS_LABELS,
    "light": case_page.LIGHT_LABELS,
    "urgency": case_page.URGENCY_LABELS,
}

# What the pages' scripts show (the API's field errors beyond the common ones, and outcomes).
ACTION_MESSAGES = {
    "error.field.department_code": N_("Choose an active department."),
    "error.field.action": N_("The case has changed meanwhile: reload the page and try again."),
    "error.field.into_case_id": N_("These two cases cannot be merged."),
    "error.field.photo_ids": N_("A photo could not be attached: add it again."),
    "error.forbidden": N_("You may not do this."),
    "done.reload": N_("Done. The list is up to date."),
    "working": N_("Working…"),
}
CONSOLE_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.case_ids": N_("Nothing was dispatched: these cases cannot go."),
    "error.field.hours": N_("Grant at most the hours asked for."),
    "error.none_selected": N_("Select at least one case."),
    "selected": N_("{count} selected"),
}
DESK_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.hours": N_("Give the number of working hours."),
    "error.field.reason.handle": N_("Describe what was done."),
}


# Page reads --------------------------------------------------------------------------------

CASE_CARD = """
    c.id, c.number, c.status, c.urgency, c.description, c.created_at, c.version,
    cat.code AS category_code, cat.name_zh AS category_name_zh, cat.name_en AS category_name_en,
    g.code AS cell_code
"""
TO_FILE = f"""
SELECT {CASE_CARD}
FROM event_case c JOIN category cat ON cat.id = c.category_id JOIN grid_cell g ON g.id = c.cell_id
WHERE c.status = 'reported' AND c.merged_into_id IS NULL
ORDER BY c.urgency = 'urgent' DESC, c.created_at, c.id
LIMIT :limit
"""
# Each waiting case (no department yet) with its nearest older open case of the same category
# within the category's duplicate radius, reported within the duplicate window before it: the
# same test intake applies, so what intake flagged shows here until a dispatcher decides.
# The bounding box (degrees, widened by latitude) lets the spatial index narrow the search.
DUPLICATE_PAIRS = """
SELECT w.id AS newer_id, older.id AS older_id, older.distance_m
FROM event_case w
JOIN category cat ON cat.id = w.category_id
CROSS JOIN LATERAL (
    SELECT o.id, ST_Distance(o.geom::geography, w.geom::geography) AS distance_m
    FROM event_case o
    WHERE o.category_id = w.category_id AND o.id <> w.id AND o.created_at <= w.created_at
      AND o.status = ANY(:open) AND o.merged_into_id IS NULL
      AND o.created_at >= w.created_at - make_interval(secs => :window_s)
      AND o.geom && ST_Expand(w.geom, coalesce(cat.duplicate_radius_m, :radius_m)
              / (111320.0 * greatest(cos(radians(ST_Y(w.geom))), 0.01)) + 1e-6)
      AND ST_DWithin(o.geom::geography, w.geom::geography,
                     coalesce(cat.duplicate_radius_m, :radius_m))
    ORDER BY distance_m, o.id
    LIMIT 1
) older
WHERE w.status = ANY(:waiting) AND w.merged_into_id IS NULL
ORDER BY w.created_at DESC, w.id DESC
LIMIT :limit
"""
CASES_BY_ID = f"""
SELECT {CASE_CARD}, c.address, dep.code AS department_code
FROM event_case c JOIN category cat ON cat.id = c.category_id JOIN grid_cell g ON g.id = c.cell_id
LEFT JOIN department dep ON dep.id = c.department_id
WHERE c.id = ANY(:ids)
"""
# Cases with a postponement or suspension request waiting for a dispatcher. A suspension is
# pending while the last suspension step in the history is its request (as case_service reads it).
APPROVALS = f"""
SELECT {CASE_CARD}, dep.code AS department_code, dep.name AS department_name, c.due_at,
       c.postponement_hours_requested AS hours_requested,
       postponement.reason AS postponement_reason, postponement.at AS postponement_at,
       suspension.reason AS suspension_reason, suspension.at AS suspension_at,
       c.postponement_hours_requested IS NOT NULL AND c.status = ANY(:postponable)
           AS postponement_pending,
       coalesce(suspension.action = 'request_suspension', false) AS suspension_pending
FROM event_case c
JOIN category cat ON cat.id = c.category_id
JOIN grid_cell g ON g.id = c.cell_id
LEFT JOIN department dep ON dep.id = c.department_id
LEFT JOIN LATERAL (
    SELECT t.reason, t.at FROM case_transition t
    WHERE c.postponement_hours_requested IS NOT NULL  -- a one-time filter: no probe otherwise
      AND t.case_id = c.id AND t.action = 'request_postponement'
    ORDER BY t.at DESC, t.id DESC LIMIT 1
) postponement ON true
LEFT JOIN LATERAL (
    SELECT t.action, t.reason, t.at FROM case_transition t
    WHERE t.case_id = c.id AND t.action = ANY(:suspension_record)
    ORDER BY t.at DESC, t.id DESC LIMIT 1
) suspension ON true
WHERE c.status = ANY(:working) AND c.merged_into_id IS NULL
  AND ((c.postponement_hours_requested IS NOT NULL AND c.status = ANY(:postponable))
       OR suspension.action = 'request_suspension')
ORDER BY least(postponement.at, suspension.at) NULLS LAST, c.id
LIMIT :limit
"""
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


def reports_to_file(session: Session) -> list[RowMapping]:
    """Reported cases waiting to be filed (立案), urgent first, then the oldest."""
    return list(session.execute(text(TO_FILE), {"limit": ROWS_SHOWN}).mappings())


@dataclass(frozen=True)
class DuplicatePair:
    """A waiting case and an older open case it may duplicate, for a side-by-side look."""

    newer: RowMapping
    older: RowMapping
    distance_m: float


def duplicate_pairs(session: Session, settings: Settings) -> list[DuplicatePair]:
    """Waiting cases that look like duplicates of older open cases, newest first."""
    parameters = {
        "open": sorted(OPEN_STATUSES),
        "waiting": WAITING,
        "window_s": settings.duplicate_window_hours * 3600.0,
        "radius_m": settings.duplicate_radius_m,
        "limit": DUPLICATE_PAIRS_SHOWN,
    }
    pairs = session.execute(text(DUPLICATE_PAIRS), parameters).all()
    ids = sorted({pair.newer_id for pair in pairs} | {pair.older_id for pair in pairs})
    cards = {row["id"]: row for row in session.execute(text(CASES_BY_ID), {"ids": ids}).mappings()}
    return [
        DuplicatePair(cards[pair.newer_id], cards[pair.older_id], round(pair.distance_m, 1))
        for pair in pairs
    ]


def requests_to_approve(session: Session) -> list[RowMapping]:
    """Cases whose department asks for a postponement or a suspension, oldest request first."""
    parameters = {
        "working": sorted(WORKING_STATUSES),
        "postponable": sorted(DEPARTMENT_WORKING),
        "suspension_record": list(SUSPENSION_RECORD),
        "limit": ROWS_SHOWN,
    }
    return list(session.execute(text(APPROVALS), parameters).mappings())


def active_departments(session: Session) -> list[RowMapping]:
    """Code and name of every active department, by code."""
    statement = (
        select(Department.id, Department.code, Department.name)
        .where(Department.is_active)
        .order_by(Department.code)
    )
    return list(session.execute(statement).mappings())


def held_cases(session: Session, principal: Principal, *, overdue_only: bool) -> list[CaseListItem]:
    """Cases departments hold (or hold suspended), the nearest deadline first, with the light."""
    statuses = tuple(CaseStatus(status) for status in RUNNING)
    filters = CaseFilters(statuses=statuses, overdue=True if overdue_only else None)
    page = listing.list_cases(
        session, principal, filters, sort=CaseSort.DUE_AT, page=1, page_size=ROWS_SHOWN
    )
    return list(page.items)


# Working time left -------------------------------------------------------------------------


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


# Routes ------------------------------------------------------------------------------------


@router.get("/console")
def console_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*CONSOLE_ROLES))],
    overdue: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """The dispatchers' console: queues, reports to file, duplicates, approvals, deadlines."""
    now = datetime.now(UTC)
    context = {
        "queue": queue_service.queue_page(
            session, QueueKind.ALL, limit=ROWS_SHOWN, offset=0, now=now
        ),
        "to_file": reports_to_file(session),
        "duplicates": duplicate_pairs(session, settings),
        "approvals": requests_to_approve(session),
        "held": held_cases(session, principal, overdue_only=overdue),
        "overdue_only": overdue,
        "departments": active_departments(session),
        "can_act": principal.role in DISPATCHERS,
        "labels": LABELS,
        "queue_kind_labels": QUEUE_KIND_LABELS,
        "js_messages": CONSOLE_MESSAGES,
    }
    return render(request, "dispatch/console.html", context, principal=principal)


@router.get("/desk")
def desk_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*DESK_ROLES))],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """A department's desk: its cases by deadline, to accept, return, handle or postpone."""
    shown, choices = desk_department(session, principal, department)
    cases: list[DeskCase] = []
    if shown is not None:
        calendar = calendar_for_department(
            session, shown["id"], default_code=settings.default_calendar_code
        )
        cases = desk_cases(session, shown["id"], principal.role, datetime.now(UTC), calendar)
    context = {
        "department": shown,
        "departments": choices,
        "cases": cases,
        "labels": LABELS,
        "photos_max": settings.photos_per_report_max,
        "js_messages": DESK_MESSAGES,
    }
    return render(request, "dispatch/desk.html", context, principal=principal)
