"""The component a case is about, after intake: confirmed, changed or "not in the inventory".

Intake suggests the nearest component of the report's category (components.matching); the
reporter or a dispatcher then confirms it, names another, or says the thing is not in the
inventory, which opens a census task (普查任务) at the case's point for someone to survey it.
Each step is a guarded version bump of the case and a history row that keeps the status (from
= to), like a merge. A case still waiting for dispatch is routed again when its component
changes: the maintainer of the new one (or the rules) decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from citygrid.errors import Conflict, PermissionDenied
from components.models import CensusTask, Component
from components.schemas import ComponentMatchKind, MatchedComponent
from components.service import component_of_category
from events.cases import service as case_service
from events.cases.schemas import CaseComponentRead, ComponentActionName, RoutingView
from events.cases.workflow import CaseWorkflow
from events.lifecycle import DISPATCHERS, OPEN_STATUSES, WAITING_FOR_DISPATCH, CaseStatus
from events.models import Case, Category, Report

MATCH_AFTER = {"confirm": "confirmed", "change": "changed", "not_in_inventory": "not_in_inventory"}
REPORTER_ROLES = frozenset({Role.INSPECTOR, Role.CITIZEN})
# A new component decides where a waiting case goes: its maintainer, or the rules without one.
REROUTING_ACTIONS = frozenset({"change", "not_in_inventory"})


@dataclass(frozen=True)
class ComponentAction:
    """What the reporter or dispatcher says about the case's component."""

    action: ComponentActionName
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
    decision: RoutingView | None  # set when a waiting case was routed again


def act_on_component(
    session: Session,
    case_id: int,
    request: ComponentAction,
    principal: Principal,
    now: datetime,
    workflow: CaseWorkflow,
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
    if request.action in REROUTING_ACTIONS and case.status in WAITING_FOR_DISPATCH:
        decision = workflow.route_again(session, case, now)
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


def case_component_read(session: Session, outcome: ComponentActionOutcome) -> CaseComponentRead:
    """The answer of a component action."""
    case, decision = outcome.case, outcome.decision
    component = session.get(Component, case.component_id) if case.component_id else None
    match = cast(ComponentMatchKind | None, case.component_match)  # the column's values
    return CaseComponentRead(
        case_id=case.id,
        status=case.status,
        version=case.version,
        component=matched(component, case.component_distance_m, match),
        component_match=match,
        census_task_id=outcome.census_task.id if outcome.census_task else None,
        rerouted=decision is not None,
        suggested_department_code=decision.department_code if decision else None,
        routing_reason=decision.reason if decision else None,
        routing_reason_fields=decision.reason_fields if decision else None,
    )


def matched(
    component: Component | None, distance_m: float | None, match: ComponentMatchKind | None
) -> MatchedComponent | None:
    """The component as the answer names it; None without one."""
    if component is None or match is None:
        return None
    return MatchedComponent(
        code=component.code, name=component.name, distance_m=distance_m or 0.0, match=match
    )
