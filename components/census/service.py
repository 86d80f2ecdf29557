"""Census tasks (普查任务): places where a case's reporter or a dispatcher said the thing
reported is not in the inventory, for someone to survey. A case action opens one
(events.cases.component_match); here they are listed and closed: done with the surveyed
component's code, or dismissed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from citygrid.errors import Conflict, NotFound
from components.census.schemas import TaskOutcome, TaskStatus
from components.models import CensusTask
from components.service import component_of_category

# A task keeps the case that opened it (census_task.case_id); its number is shown beside it.
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
    session: Session, *, status: TaskStatus | None, limit: int, task_id: int | None = None
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
