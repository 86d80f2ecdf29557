"""Summons routes (吹哨报到): `/api/cases/{id}/summons…` on one case, and the monthly ratings
per unit for the evaluation (`/api/summons/ratings`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
from citygrid.api_types import PHOTOS_MAX, BigRowId
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from dispatch.summons import service
from dispatch.summons.schemas import (
    AnswerBody,
    Code,
    MonthText,
    RatingBody,
    SummonsBody,
    SummonsByNumberBody,
    SummonsRead,
    UnitRatings,
)
from events.lifecycle import DISPATCHERS

router = APIRouter(prefix="/api", tags=["summons"], route_class=RoleCheckedRoute)

Dispatcher = Annotated[Principal, Depends(Allow(*DISPATCHERS))]
Staff = Annotated[Principal, Depends(Allow(*STAFF_ROLES))]
Unit = Annotated[Principal, Depends(Allow(Role.DEPARTMENT, Role.ADMIN))]
Rater = Annotated[
    Principal, Depends(Allow(Role.DEPARTMENT, Role.DISPATCHER, Role.MANAGER, Role.ADMIN))
]
Evaluator = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.MANAGER, Role.ADMIN))]
DepartmentCode = Annotated[str, Path(min_length=1, max_length=32)]


def read_all(session: SessionDep, case_id: int, principal: Principal) -> list[SummonsRead]:
    return service.case_summons(session, case_id, principal, datetime.now(UTC))


def one(rows: list[SummonsRead], code: str) -> SummonsRead:
    return next(row for row in rows if row.department_code == code)


@router.post("/cases/{case_id}/summons", status_code=201)
def post_summons(
    case_id: BigRowId,
    body: SummonsBody,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
) -> list[SummonsRead]:
    """Summon units to the case, each with its own limit (default: the setting); the case
    closes only when every one has reported in with a photo and answered."""
    policy = service.SummonsPolicy(
        settings.summons_default_limit_hours, settings.default_calendar_code
    )
    now = datetime.now(UTC)
    service.summon(session, case_id, body.units, body.note, principal, now, policy)
    rows = read_all(session, case_id, principal)
    session.commit()
    return rows


@router.post("/summons", status_code=201)
def post_summons_by_number(
    body: SummonsByNumberBody, session: SessionDep, settings: SettingsDep, principal: Dispatcher
) -> list[SummonsRead]:
    """As `POST /api/cases/{id}/summons`, naming the case by its number (the console's form)."""
    case_id = service.case_id_by_number(session, body.case_number)
    return post_summons(case_id, body, session, settings, principal)


@router.get("/cases/{case_id}/summons")
def get_summons(case_id: BigRowId, session: SessionDep, principal: Staff) -> list[SummonsRead]:
    """The units summoned to the case and where each stands."""
    return read_all(session, case_id, principal)


@router.post("/cases/{case_id}/summons/{department_code}/report-in")
def post_report_in(
    case_id: BigRowId,
    department_code: DepartmentCode,
    photos: Annotated[
        list[UploadFile],
        File(min_length=1, max_length=PHOTOS_MAX, description="On-site photo: JPEG, PNG or WebP"),
    ],
    session: SessionDep,
    settings: SettingsDep,
    principal: Unit,
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> SummonsRead:
    """The summoned unit reports in (报到) with an on-site photo (stored without EXIF in its
    public copy)."""
    now = datetime.now(UTC)
    service.report_in(session, case_id, department_code, photos, note, principal, now, settings)
    row = one(read_all(session, case_id, principal), department_code)
    session.commit()
    return row


@router.post("/cases/{case_id}/summons/{department_code}/answer")
def post_answer(
    case_id: BigRowId,
    department_code: DepartmentCode,
    body: AnswerBody,
    session: SessionDep,
    principal: Unit,
) -> SummonsRead:
    """The summoned unit's own answer, after reporting in: its summons is done."""
    service.answer(session, case_id, department_code, body.answer, principal, datetime.now(UTC))
    row = one(read_all(session, case_id, principal), department_code)
    session.commit()
    return row


@router.post("/cases/{case_id}/summons/{department_code}/rating")
def post_rating(
    case_id: BigRowId,
    department_code: DepartmentCode,
    body: RatingBody,
    session: SessionDep,
    principal: Rater,
) -> SummonsRead:
    """The street office rates a unit that reported in (1–5, with a note)."""
    now = datetime.now(UTC)
    row = service.rate(session, case_id, department_code, body.rating, body.note, principal, now)
    read = service.read_one(session, row, now)
    session.commit()
    return read


@router.get("/summons/ratings")
def get_ratings(
    session: SessionDep,
    settings: SettingsDep,
    principal: Evaluator,
    month: Annotated[MonthText, Query(description="YYYY-MM, in the city's zone")],
    department_code: Annotated[Code | None, Query()] = None,
) -> list[UnitRatings]:
    """Per unit, one month's ratings by the street offices: count, average, reported in on time."""
    return service.monthly_ratings(session, month, settings.city_zone, department_code)
