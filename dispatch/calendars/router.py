"""Work calendars: list, create, a year's special days, holiday overrides, deadline preview.
Every change is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
from citygrid.api_types import IsoDateTime
from citygrid.db import SessionDep
from dispatch.calendars import service as calendars
from dispatch.calendars.schemas import (
    CalendarCreate,
    CalendarDayChange,
    CalendarRead,
    CalendarYear,
    DeadlinePreview,
    SpecialDayRead,
)

router = APIRouter(prefix="/api/calendars", tags=["departments"], route_class=RoleCheckedRoute)
STAFF = Depends(Allow(*STAFF_ROLES))
AdminDep = Annotated[Principal, Depends(Allow(Role.ADMIN))]
MAX_PREVIEW_HOURS = 10_000.0


@router.get("", dependencies=[STAFF])
def list_calendars(session: SessionDep) -> list[CalendarRead]:
    return [CalendarRead.model_validate(row) for row in calendars.list_calendars(session)]


@router.post("", status_code=201)
def create_calendar(
    request: Request, body: CalendarCreate, principal: AdminDep, session: SessionDep
) -> CalendarRead:
    row = calendars.create_calendar(
        session, **body.model_dump(), by=principal, origin=request_origin(request)
    )
    session.commit()
    return CalendarRead.model_validate(row)


@router.get("/{code}", dependencies=[STAFF])
def get_calendar(
    code: str,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> CalendarYear:
    """The calendar and, for `year` (this year by default), its holidays, make-up workdays and
    overrides."""
    row = calendars.calendar_by_code(session, code)
    year = year or calendars.current_year(row, datetime.now(UTC))
    days = calendars.special_days(session, row, year)
    return CalendarYear(
        **CalendarRead.model_validate(row).model_dump(),
        year=year,
        announced=calendars.OFFICIAL.announced(year),
        days=[SpecialDayRead.model_validate(day) for day in days],
    )


@router.put("/{code}/days/{day}")
def set_calendar_day(
    request: Request,
    code: str,
    day: date,
    body: CalendarDayChange,
    session: SessionDep,
    principal: AdminDep,
) -> SpecialDayRead:
    """Declare `day` a holiday or a workday on the calendar, whatever the official calendar says."""
    row = calendars.calendar_by_code(session, code)
    override = calendars.override_day(
        session,
        row,
        day,
        is_workday=body.is_workday,
        name=body.name,
        by=principal,
        origin=request_origin(request),
    )
    session.commit()
    return SpecialDayRead(
        day=override.day, is_workday=override.is_workday, name=override.name, source="override"
    )


@router.delete("/{code}/days/{day}", status_code=204)
def delete_calendar_day(
    request: Request, code: str, day: date, principal: AdminDep, session: SessionDep
) -> Response:
    row = calendars.calendar_by_code(session, code)
    calendars.delete_calendar_day(session, row, day, by=principal, origin=request_origin(request))
    session.commit()
    return Response(status_code=204)


@router.get("/{code}/deadline", dependencies=[STAFF])
def preview_deadline(
    code: str,
    start: IsoDateTime,
    hours: Annotated[float, Query(ge=0, le=MAX_PREVIEW_HOURS)],
    session: SessionDep,
) -> DeadlinePreview:
    """When a case dispatched at `start` with a limit of `hours` working hours falls due."""
    row = calendars.calendar_by_code(session, code)
    deadline = calendars.preview_deadline(session, row, start=start, hours=hours)
    return DeadlinePreview(due_at=deadline.at, provisional=deadline.provisional)
