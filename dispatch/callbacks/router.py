"""Callbacks (回访) for dispatchers: the tickets waiting for one, and one click recording a try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from citygrid.settings import Settings, SettingsDep
from dispatch.callbacks import service
from dispatch.callbacks.retries import RetryPolicy
from dispatch.callbacks.schemas import (
    CallbackCreate,
    CallbackRead,
    CallbackResult,
    CallbackTaskRead,
)

router = APIRouter(tags=["hotline"], route_class=RoleCheckedRoute)

# Callback operators: the dispatchers (and admins); they alone may read a caller's phone.
OPERATOR_ROLES = (Role.DISPATCHER, Role.ADMIN)
Operator = Annotated[Principal, Depends(Allow(*OPERATOR_ROLES))]


def retry_policy(settings: Settings) -> RetryPolicy:
    """The configured tries and their least gap."""
    return RetryPolicy(
        max_attempts=settings.hotline_callback_max_attempts,
        gap=timedelta(minutes=settings.hotline_callback_retry_gap_minutes),
        rework_answers=frozenset(settings.hotline_rework_answers),
    )


@router.get("/api/hotline/callbacks", response_model=list[CallbackTaskRead])
def list_callbacks(
    session: SessionDep,
    settings: SettingsDep,
    principal: Operator,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CallbackTaskRead]:
    """Tickets waiting for a callback, longest waiting first (phones masked)."""
    return service.waiting_list(
        session, policy=retry_policy(settings), limit=limit, now=datetime.now(UTC)
    )


@router.post(
    "/api/hotline/tickets/{ticket_id:int}/callbacks", status_code=201, response_model=CallbackResult
)
def record_callback(
    ticket_id: BigRowId,
    callback_in: CallbackCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Operator,
) -> CallbackResult:
    """Records one try: reached with solved × satisfaction (not solved or partly solved, as
    configured → rework by the same unit; otherwise closed), or not reached (closed as
    unreachable after the last try)."""
    answer = service.CallbackAnswer(
        reached=callback_in.outcome == "reached",
        solved=callback_in.solved,
        satisfaction=callback_in.satisfaction,
        note=callback_in.note,
    )
    result = service.record_callback(
        session,
        ticket_id,
        answer,
        by=principal,
        now=datetime.now(UTC),
        policy=retry_policy(settings),
    )
    session.commit()
    return CallbackResult(
        callback=CallbackRead.model_validate(result.callback),
        outcome=result.outcome,
    )


@router.get("/api/hotline/tickets/{ticket_id:int}/callbacks", response_model=list[CallbackRead])
def ticket_callbacks(
    ticket_id: BigRowId, session: SessionDep, principal: Operator
) -> list[CallbackRead]:
    """Every try of a ticket, oldest first."""
    return [CallbackRead.model_validate(row) for row in service.callbacks_of(session, ticket_id)]
