"""HTTP routes: a case's component (confirm, change, not in the inventory) and census tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from citygrid.accounts.auth import STAFF_ROLES, Allow, Principal, Role, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from components.models import Component
from events.cases import component_match as case_match
from events.intake.schemas import ComponentMatchKind, MatchedComponent

router = APIRouter(tags=["components"], route_class=RoleCheckedRoute)

CODE_PATTERN = r"^[0-9]{16,17}$"
CENSUS_TASKS_PAGE_MAX = 1_000
MAX_ROW_ID = 2**31 - 1  # an integer key; a larger id would make PostgreSQL fail, not miss
MATCH_ACTORS = (Role.INSPECTOR, Role.CITIZEN, Role.DISPATCHER, Role.ADMIN)
MatchActor = Annotated[Principal, Depends(Allow(*MATCH_ACTORS))]
Staff = Annotated[Principal, Depends(Allow(*STAFF_ROLES))]


class ComponentActionBody(BaseModel):
    """confirm the suggested component, change it to `component_code`, or say the thing the
    case is about is not in the inventory (a census task is opened)."""

    action: case_match.ActionName
    component_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    note: str | None = Field(default=None, max_length=2000)


class CaseComponentRead(BaseModel):
    """The case's component after the action, and what followed from it."""

    case_id: int
    status: str
    version: int
    component: MatchedComponent | None
    component_match: ComponentMatchKind | None
    census_task_id: int | None = None
    rerouted: bool = Field(description="the case was waiting for dispatch and was routed again")
    suggested_department_code: str | None = None
    routing_reason: str | None = None


class CensusTaskRead(BaseModel):
    """A place where a component was reported that the inventory does not have."""

    id: int
    case_id: int | None
    case_number: str | None
    category_code: str
    category_name: str
    lon: float
    lat: float
    status: Literal["open", "done", "dismissed"]
    note: str | None
    component_code: str | None
    created_at: datetime
    resolved_at: datetime | None


class CensusTaskResolve(BaseModel):
    """done: the surveyed component is in the inventory now (its code); or dismissed."""

    outcome: case_match.TaskOutcome
    component_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    note: str | None = Field(default=None, max_length=2000)


def case_component_read(
    session: Session, outcome: case_match.ComponentActionOutcome
) -> CaseComponentRead:
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
    )


def matched(
    component: Component | None, distance_m: float | None, match: ComponentMatchKind | None
) -> MatchedComponent | None:
    if component is None or match is None:
        return None
    return MatchedComponent(
        code=component.code, name=component.name, distance_m=distance_m or 0.0, match=match
    )


@router.post("/api/cases/{case_id}/component")
def act_on_case_component(
    case_id: int, body: ComponentActionBody, session: SessionDep, principal: MatchActor
) -> CaseComponentRead:
    """Confirm, change or refuse the component matched to the case (its reporter or a
    dispatcher); a case waiting for dispatch is routed again when its component changes."""
    request = case_match.ComponentAction(body.action, body.component_code, body.note)
    outcome = case_match.act_on_component(session, case_id, request, principal, datetime.now(UTC))
    answer = case_component_read(session, outcome)
    session.commit()
    return answer


@router.get("/api/census-tasks")
def list_census_tasks(
    session: SessionDep,
    principal: Staff,
    status: Annotated[Literal["open", "done", "dismissed"] | None, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=CENSUS_TASKS_PAGE_MAX)] = 100,
) -> list[CensusTaskRead]:
    """Census tasks, newest first: open ones by default."""
    rows = case_match.census_tasks(session, status=status, limit=limit)
    return [CensusTaskRead.model_validate(row._asdict()) for row in rows]


@router.post("/api/census-tasks/{task_id}")
def resolve_census_task(
    task_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    body: CensusTaskResolve,
    session: SessionDep,
    principal: Staff,
) -> CensusTaskRead:
    """Close an open census task: done (with the new component's code) or dismissed."""
    case_match.resolve_census_task(
        session,
        task_id,
        body.outcome,
        component_code=body.component_code,
        note=body.note,
        now=datetime.now(UTC),
    )
    rows = case_match.census_tasks(session, status=None, limit=1, task_id=task_id)
    if not rows:
        raise NotFound(f"no census task has id {task_id}", field="task_id")
    session.commit()
    return CensusTaskRead.model_validate(rows[0]._asdict())
