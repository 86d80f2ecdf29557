"""`POST /api/cases/{id}/category`: change a case's category (a correction the next training of
the suggestions learns from); `GET /api/suggestions/models`: the trained versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId, RowId
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from events.cases import service as case_service
from events.cases.schemas import CaseDetail
from events.cases.workflow import CaseWorkflowDep
from events.suggestions import service

router = APIRouter(tags=["suggestions"], route_class=RoleCheckedRoute)

# Its reporter (while the case is only reported) or a dispatcher (service.may_recategorise).
Recategoriser = Annotated[
    Principal, Depends(Allow(Role.INSPECTOR, Role.CITIZEN, Role.DISPATCHER, Role.ADMIN))
]
Overseer = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.ADMIN, Role.MANAGER))]


class CategoryChange(BaseModel):
    category_id: RowId
    via_suggestion: bool = Field(
        default=False,
        strict=True,  # JSON true or false, not 1 or "yes"
        description="true when the person chose one of the suggested categories",
    )
    reason: str | None = Field(default=None, max_length=4000)


class ModelVersion(BaseModel):
    id: int
    trained_at: datetime
    cases: int
    corrections: int
    held_out: int
    categories: int
    top1: float
    top3: float
    floor: float
    enabled: bool
    seconds: float
    size_bytes: int


@router.post("/api/cases/{case_id:int}/category")
def change_case_category(
    case_id: BigRowId,
    body: CategoryChange,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Recategoriser,
) -> CaseDetail:
    """Re-categorise a case: history row, correction record, routed again when it waits for
    dispatch; 409 when its state does not allow it."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    service.recategorise(
        session,
        case_id,
        body.category_id,
        principal,
        now,
        workflow,
        via_suggestion=body.via_suggestion,
        reason=body.reason,
    )
    detail = case_service.case_detail(session, case_id, principal, now, window, workflow)
    session.commit()
    return detail


@router.get("/api/suggestions/models")
def list_suggestion_models(session: SessionDep, principal: Overseer) -> list[ModelVersion]:
    """The latest trained versions of the category suggestion model, newest first."""
    return [
        ModelVersion.model_validate(version, from_attributes=True)
        for version in service.versions(session)
    ]
