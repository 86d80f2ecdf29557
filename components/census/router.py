"""HTTP routes of census tasks: list them, close one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from components.census import service
from components.census.schemas import CensusTaskRead, CensusTaskResolve, TaskStatus

router = APIRouter(prefix="/api/census-tasks", tags=["components"], route_class=RoleCheckedRoute)
CENSUS_TASKS_PAGE_MAX = 1_000
MAX_ROW_ID = 2**31 - 1  # an integer key; a larger id would make PostgreSQL fail, not miss
Staff = Annotated[Principal, Depends(Allow(*STAFF_ROLES))]


@router.get("")
def list_census_tasks(
    session: SessionDep,
    principal: Staff,
    status: Annotated[TaskStatus | None, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=CENSUS_TASKS_PAGE_MAX)] = 100,
) -> list[CensusTaskRead]:
    """Census tasks, newest first: open ones by default."""
    rows = service.census_tasks(session, status=status, limit=limit)
    return [CensusTaskRead.model_validate(row._asdict()) for row in rows]


@router.post("/{task_id:int}")
def resolve_census_task(
    task_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    body: CensusTaskResolve,
    session: SessionDep,
    principal: Staff,
) -> CensusTaskRead:
    """Close an open census task: done (with the new component's code) or dismissed."""
    service.resolve_census_task(
        session,
        task_id,
        body.outcome,
        component_code=body.component_code,
        note=body.note,
        now=datetime.now(UTC),
    )
    rows = service.census_tasks(session, status=None, limit=1, task_id=task_id)
    if not rows:
        raise NotFound(f"no census task has id {task_id}", field="task_id")
    session.commit()
    return CensusTaskRead.model_validate(rows[0]._asdict())
