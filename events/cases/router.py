"""Case routes: the closed loop's actions, a case with its history, merge and split.

Every route answers 404 for a case the caller may not see (events.visibility), exactly as for
an id that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Principal, Role
from citygrid.api_types import PHOTOS_MAX, BigRowId
from citygrid.db import SessionDep
from citygrid.errors import PermissionDenied
from citygrid.settings import SettingsDep
from events.cases import component_match
from events.cases import service as case_service
from events.cases.schemas import (
    CaseActionBody,
    CaseComponentRead,
    CaseDetail,
    ComponentActionBody,
    HistoryRow,
    MergeBody,
    PhotosUploaded,
    SplitBody,
)
from events.cases.workflow import CaseWorkflowDep
from events.lifecycle import DISPATCHERS, RULES, CaseAction
from events.photos import service as photo_store

router = APIRouter(prefix="/api/cases", tags=["cases"], route_class=RoleCheckedRoute)

# Every role that some action admits; the table in events.lifecycle decides the rest (409).
ACTORS = sorted({role for rule in RULES.values() for role in rule.roles})
Reader = Annotated[Principal, Depends(Allow(*ALL_ROLES))]
Actor = Annotated[Principal, Depends(Allow(*ACTORS))]
Dispatcher = Annotated[Principal, Depends(Allow(*DISPATCHERS))]
# Who may confirm or change the component a case is about: its reporters and the dispatchers.
MatchActor = Annotated[
    Principal, Depends(Allow(Role.INSPECTOR, Role.CITIZEN, Role.DISPATCHER, Role.ADMIN))
]


@router.get("/{case_id:int}")
def read_case(
    case_id: BigRowId,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Reader,
) -> CaseDetail:
    """The case, its reports and photos (merged cases' included) and the caller's actions."""
    window = timedelta(days=settings.reopen_window_days)
    return case_service.case_detail(
        session, case_id, principal, datetime.now(UTC), window, workflow
    )


@router.get("/{case_id:int}/history")
def read_history(case_id: BigRowId, session: SessionDep, principal: Reader) -> list[HistoryRow]:
    """Every transition of the case and of the cases merged into it, oldest first."""
    return case_service.case_history(session, case_id, principal)


@router.post("/{case_id:int}/actions/{action}")
def act(
    case_id: BigRowId,
    action: CaseAction,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Actor,
    body: CaseActionBody | None = None,
) -> CaseDetail:
    """Take an action; 409 with the status and the allowed actions when it is not possible."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    body = body or CaseActionBody()
    workflow.act(session, case_id, action, principal, body, now, reopen_window=window)
    detail = case_service.case_detail(session, case_id, principal, now, window, workflow)
    session.commit()
    return detail


@router.post("/{case_id:int}/merge")
def merge(
    case_id: BigRowId,
    body: MergeBody,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Dispatcher,
) -> CaseDetail:
    """Merge a duplicate into another case; answers with the surviving case."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    survivor = case_service.merge_case(
        session, case_id, body.into_case_id, principal, body.reason, now
    )
    detail = case_service.case_detail(session, survivor.id, principal, now, window, workflow)
    session.commit()
    return detail


@router.post("/{case_id:int}/split")
def split(
    case_id: BigRowId,
    body: SplitBody,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Dispatcher,
) -> CaseDetail:
    """Split a merged case out again; answers with the split-out case."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    case_service.split_case(session, case_id, principal, body.reason, now)
    detail = case_service.case_detail(session, case_id, principal, now, window, workflow)
    session.commit()
    return detail


@router.post("/{case_id:int}/photos", status_code=201)
def upload_photos(
    case_id: BigRowId,
    photos: Annotated[
        list[UploadFile],
        File(min_length=1, max_length=PHOTOS_MAX, description="JPEG, PNG or WebP; at most 6"),
    ],
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: Actor,
) -> PhotosUploaded:
    """Photos for the caller's next action on the case (handling feedback, a verification):
    stored unattached; the action names them in `photo_ids`."""
    case = case_service.visible_case(session, case_id, principal)
    window = timedelta(days=settings.reopen_window_days)
    situation = case_service.situation_of(session, case, datetime.now(UTC), window, workflow)
    if not case_service.actions_for(case, principal, situation):
        raise PermissionDenied(f"you have no action to take on case {case_id}, so no photos")
    stored = photo_store.store_all(
        photo_store.checked_uploads(photos, settings), settings.media_dir
    )
    try:
        photo_ids = case_service.add_photos(session, case, stored)
        session.commit()
    except BaseException:
        photo_store.discard(stored)
        raise
    return PhotosUploaded(photo_ids=photo_ids)


@router.post("/{case_id:int}/component", tags=["components"])
def act_on_case_component(
    case_id: BigRowId,
    body: ComponentActionBody,
    session: SessionDep,
    principal: MatchActor,
    workflow: CaseWorkflowDep,
) -> CaseComponentRead:
    """Confirm, change or refuse the component matched to the case (its reporter or a
    dispatcher); a case waiting for dispatch is routed again when its component changes."""
    request = component_match.ComponentAction(body.action, body.component_code, body.note)
    now = datetime.now(UTC)
    outcome = component_match.act_on_component(session, case_id, request, principal, now, workflow)
    answer = component_match.case_component_read(session, outcome)
    session.commit()
    return answer
