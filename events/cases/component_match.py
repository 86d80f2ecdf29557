"""The component a case is about, after intake: confirmed, changed or "not in the inventory".

Intake suggests the nearest component of the report's category (components.matching); the
reporter or a dispatcher then confirms it, names another, or says the thing is not in the
inventory, which opens a census task (普查任务) at the case's point for someone to survey it.
Each step is a guarded version bump of the case and a history row that keeps the status (from
= to), like a merge. A case still waiting for dispatch is routed again when its component
changes: the maintainer of the new one (or the rules) decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, exists, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Principal, Role
from citygrid.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from components.models import CensusTask, Component
from dispatch.queue.service import WAITING
from dispatch.rules import service as routing
from events.cases import service as case_service
from events.lifecycle import DISPATCHERS, OPEN_STATUSES, CaseStatus
from events.models import Case, Category, Report

ActionName = Literal["confirm", "change", "not_in_inventory"]
TaskOutcome = Literal["done", "dismissed"]
MATCH_AFTER = {"confirm": "confirmed", "change": "changed", "not_in_inventory": "not_in_inventory"}
REPORTER_ROLES = frozenset({Role.INSPECTOR, Role.CITIZEN})
# A new component decides where a waiting case goes: its maintainer, or the rules without one.
REROUTING_ACTIONS = frozenset({"change", "not_in_inventory"})


@dataclass(frozen=True)
class ComponentAction:
    """What the reporter or dispatcher says about the case's component."""

    action: ActionName
    component_code: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class MatchChange:
    """The case's new component columns and what its history row says."""

    columns: dict[str, Any]
    details: dict[str, Any]


@dataclass(frozen=True)
class ComponentActionOutcome:
    """The case after the action, the census task it opened, the new routing decision."""

    case: Case
    census_task: CensusTask | None
    decision: routing.RouteDecision | None


def act_on_component(
    session: Session, case_id: int, request: ComponentAction, principal: Principal, now: datetime
) -> ComponentActionOutcome:
    """Confirm, change or refuse the case's component; returns the case, the census task that
    "not in the inventory" opened and the routing decision of a waiting case routed again."""
    case = case_service.visible_case(session, case_id, principal)
    check_may_change_match(session, case, principal)
    change = match_change(session, case, request)
    status = CaseStatus(case.status)
    case_service.bump_versions(session, principal, now, {case: change.columns})
    census_task = None
    if request.action == "not_in_inventory":
        census_task = open_census_task(session, case, request.note, principal)
        change.details["census_task_id"] = census_task.id
    step = case_service.Step(
        f"component_{request.action}", status, status, request.note, change.details
    )
    case_service.record(session, case, step, principal, now)
    decision = None
    if request.action in REROUTING_ACTIONS and case.status in WAITING:
        decision = routing.decide_routes(session, [case.id], at=now)[case.id]
    return ComponentActionOutcome(case, census_task, decision)


def check_may_change_match(session: Session, case: Case, principal: Principal) -> None:
    """PermissionDenied unless the caller reported the case or dispatches; Conflict unless the
    case is open, unmerged and of a component category."""
    if principal.role not in DISPATCHERS and not (
        principal.role in REPORTER_ROLES and reported_by(session, case, principal.user_id)
    ):
        raise PermissionDenied(
            f"only a reporter of case {case.id} or a dispatcher may confirm or change its component"
        )
    if case.merged_into_id is not None:
        raise Conflict(f"case {case.id} is merged into case {case.merged_into_id}: act on that")
    if CaseStatus(case.status) not in OPEN_STATUSES:
        raise Conflict(f"case {case.id} is {case.status}: only an open case's component changes")
    kind = session.scalar(select(Category.kind).where(Category.id == case.category_id))
    if kind != "component":
        raise Conflict(f"case {case.id} is about an event (事件), not a component (部件)")


def reported_by(session: Session, case: Case, user_id: int) -> bool:
    """Whether the user filed the case or one of the reports now on it."""
    if case.reported_by == user_id:
        return True
    return bool(
        session.scalar(
            select(exists().where(Report.case_id == case.id, Report.reporter_id == user_id))
        )
    )


def match_change(session: Session, case: Case, request: ComponentAction) -> MatchChange:
    """The columns and history details of the action; Conflict or InvalidInput when it cannot
    be taken."""
    previous = session.get(Component, case.component_id) if case.component_id else None
    details: dict[str, Any] = {"previous_component_code": previous.code if previous else None}
    match = MATCH_AFTER[request.action]
    if request.action == "confirm":
        if previous is None:
            raise Conflict(
                f"case {case.id} has no component to confirm: change it (component_code) or "
                "mark it not in the inventory"
            )
        return MatchChange({"component_match": match}, details)
    if request.action == "not_in_inventory":
        if case.component_match == "not_in_inventory":
            raise Conflict(f"case {case.id} is already marked as not in the inventory")
        cleared = {"component_id": None, "component_distance_m": None, "component_match": match}
        return MatchChange(cleared, details)
    return changed_to(session, case, request.component_code, details)


def changed_to(
    session: Session, case: Case, code: str | None, details: dict[str, Any]
) -> MatchChange:
    """The case's columns pointing at the component with `code`, with its distance."""
    component = component_of_category(session, code, case.category_id)
    distance_m = distance_to_case(session, component.id, case.id)
    columns: dict[str, Any] = {
        "component_id": component.id,
        "component_distance_m": distance_m,
        "component_match": MATCH_AFTER["change"],
    }
    return MatchChange(
        columns, {**details, "component_code": component.code, "distance_m": distance_m}
    )


def component_of_category(session: Session, code: str | None, category_id: int) -> Component:
    """The component with that code, of that category and not removed; InvalidInput naming
    component_code otherwise."""
    if not code:
        raise InvalidInput("name the component in component_code", field="component_code")
    component = session.scalar(select(Component).where(Component.code == code))
    if component is None:
        raise InvalidInput(f"no component has code {code}", field="component_code")
    if component.category_id != category_id:
        category = session.get(Category, category_id)
        name = f"{category.code} ({category.name_en})" if category else str(category_id)
        raise InvalidInput(
            f"component {code} is not of the case's category {name}", field="component_code"
        )
    if component.status == "removed":
        raise InvalidInput(
            f"component {code} was removed from the inventory", field="component_code"
        )
    return component


def distance_to_case(session: Session, component_id: int, case_id: int) -> float:
    """Metres from the case's point to the nearest point of the component."""
    distance = session.scalar(
        text(
            "SELECT ST_Distance(cp.geom::geography, c.geom::geography)"
            " FROM component cp, event_case c WHERE cp.id = :component_id AND c.id = :case_id"
        ),
        {"component_id": component_id, "case_id": case_id},
    )
    return float(distance or 0.0)


def open_census_task(
    session: Session, case: Case, note: str | None, principal: Principal
) -> CensusTask:
    """An open census task at the case's point for the case's category."""
    task = CensusTask(
        case_id=case.id,
        category_id=case.category_id,
        geom=case.geom,
        status="open",
        note=note,
        created_by=principal.user_id,
    )
    session.add(task)
    session.flush()
    return task


# Census tasks

CENSUS_TASKS = text("""
SELECT t.id, t.case_id, c.number AS case_number, cat.code AS category_code,
    cat.name_zh AS category_name, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat, t.status, t.note,
    cp.code AS component_code, t.created_at, t.resolved_at
FROM census_task t
JOIN category cat ON cat.id = t.category_id
LEFT JOIN event_case c ON c.id = t.case_id
LEFT JOIN component cp ON cp.id = t.component_id
WHERE (CAST(:status AS text) IS NULL OR t.status = CAST(:status AS text))
  AND (CAST(:task_id AS integer) IS NULL OR t.id = CAST(:task_id AS integer))
ORDER BY t.created_at DESC, t.id DESC
LIMIT :limit
""")


def census_tasks(
    session: Session, *, status: str | None, limit: int, task_id: int | None = None
) -> Sequence[Row[Any]]:
    """Census tasks (of that status; all when None), newest first, with their case number,
    category, point and the component that resolved them."""
    params = {"status": status, "limit": limit, "task_id": task_id}
    return session.execute(CENSUS_TASKS, params).all()


def resolve_census_task(
    session: Session,
    task_id: int,
    outcome: TaskOutcome,
    *,
    component_code: str | None,
    note: str | None,
    now: datetime,
) -> CensusTask:
    """Close an open task: done with the surveyed component's code, or dismissed; returns it."""
    task = session.get(CensusTask, task_id)
    if task is None:
        raise NotFound(f"no census task has id {task_id}", field="task_id")
    if task.status != "open":
        raise Conflict(f"census task {task_id} is {task.status} already")
    if outcome == "done":
        task.component_id = component_of_category(session, component_code, task.category_id).id
    task.status = outcome
    task.resolved_at = now
    if note:
        task.note = f"{task.note}\n{note}" if task.note else note
    session.flush()
    return task
