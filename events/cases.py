"""Case routes: the closed loop's actions, a case with its history, merge and split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends

from citygrid.auth import ALL_ROLES, Allow, Principal, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from events import case_service
from events.case_schemas import CaseActionBody, CaseDetail, HistoryRow, MergeBody, SplitBody
from events.lifecycle import DISPATCHERS, RULES, CaseAction

router = APIRouter(prefix="/api/cases", tags=["cases"], route_class=RoleCheckedRoute)

# Every role that some action admits; the table in events.lifecycle decides the rest (409).
ACTORS = sorted({role for rule in RULES.values() for role in rule.roles})
Reader = Annotated[Principal, Depends(Allow(*ALL_ROLES))]
Actor = Annotated[Principal, Depends(Allow(*ACTORS))]
Dispatcher = Annotated[Principal, Depends(Allow(*DISPATCHERS))]


@router.get("/{case_id}")
def read_case(
    case_id: int, session: SessionDep, settings: SettingsDep, principal: Reader
) -> CaseDetail:
    """The case, its reports and photos (merged cases' included) and the caller's actions."""
    window = timedelta(days=settings.reopen_window_days)
    return case_service.case_detail(session, case_id, principal, datetime.now(UTC), window)


@router.get("/{case_id}/history")
def read_history(
    case_id: int, session: SessionDep, settings: SettingsDep, principal: Reader
) -> list[HistoryRow]:
    """Every transition of the case and of the cases merged into it, oldest first."""
    window = timedelta(days=settings.reopen_window_days)
    return case_service.case_history(session, case_id, principal, datetime.now(UTC), window)


@router.post("/{case_id}/actions/{action}")
def act(
    case_id: int,
    action: CaseAction,
    session: SessionDep,
    settings: SettingsDep,
    principal: Actor,
    body: CaseActionBody | None = None,
) -> CaseDetail:
    """Take an action; 409 with the status and the allowed actions when it is not possible."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    body = body or CaseActionBody()
    case_service.act_on_case(session, case_id, action, principal, body, now, reopen_window=window)
    detail = case_service.case_detail(session, case_id, principal, now, window)
    session.commit()
    return detail


@router.post("/{case_id}/merge")
def merge(
    case_id: int,
    body: MergeBody,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
) -> CaseDetail:
    """Merge a duplicate into another case; answers with the surviving case."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    survivor = case_service.merge_case(
        session, case_id, body.into_case_id, principal, body.reason, now
    )
    detail = case_service.case_detail(session, survivor.id, principal, now, window)
    session.commit()
    return detail


@router.post("/{case_id}/split")
def split(
    case_id: int,
    body: SplitBody,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
) -> CaseDetail:
    """Split a merged case out again; answers with the split-out case."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    case_service.split_case(session, case_id, principal, body.reason, now)
    detail = case_service.case_detail(session, case_id, principal, now, window)
    session.commit()
    return detail
