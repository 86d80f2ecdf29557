"""Departments, their members and supervisors; work calendars with holiday overrides."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import STAFF_ROLES, Allow, Principal, Role, RoleCheckedRoute
from citygrid.accounts.models import Department, DepartmentSupervisor
from citygrid.accounts.users import User
from citygrid.db import SessionDep
from citygrid.errors import Conflict, InvalidInput, NotFound
from dispatch.calendars import service as calendars
from dispatch.models import WorkCalendar as WorkCalendarRow

router = APIRouter(tags=["departments"], route_class=RoleCheckedRoute)
STAFF = Depends(Allow(*STAFF_ROLES))
ADMIN = Allow(Role.ADMIN)
ADMIN_ONLY = Depends(ADMIN)
SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.DEPARTMENT})
MAX_PREVIEW_HOURS = 10_000.0

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Kind = Annotated[str, Field(min_length=1, max_length=64)]
Weekday = Annotated[int, Field(ge=1, le=7)]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Forbidding(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str


class DepartmentRead(BaseModel):
    code: str
    name: str
    kind: str
    contact: str | None
    calendar_code: str | None  # None: the default calendar
    is_active: bool
    member_count: int
    supervisors: list[UserBrief]


class DepartmentDetail(DepartmentRead):
    members: list[UserBrief]


class DepartmentCreate(Forbidding):
    code: Code
    name: Name
    kind: Kind
    contact: str | None = None
    calendar_code: str | None = None


class DepartmentChanges(Forbidding):
    """Only the fields sent change; calendar_code null returns to the default calendar."""

    name: Name | None = None
    kind: Kind | None = None
    contact: str | None = None
    calendar_code: str | None = None
    is_active: bool | None = None


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    time_zone: str
    periods: list[list[str]]
    weekdays: list[int]
    official_holidays: bool


class CalendarCreate(Forbidding):
    code: Code
    name: Name
    periods: list[list[str]] = Field(min_length=1, examples=[[["08:30", "12:00"]]])
    weekdays: list[Weekday] = Field(min_length=1, examples=[[1, 2, 3, 4, 5]])
    official_holidays: bool = True
    time_zone: str = "Asia/Shanghai"


class SpecialDayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    is_workday: bool
    name: str | None
    source: str  # 'official' | 'override'


class CalendarYear(CalendarRead):
    year: int
    announced: bool  # whether the official holidays of that year are known
    days: list[SpecialDayRead]


class CalendarDayChange(Forbidding):
    is_workday: bool
    name: Annotated[str, Field(max_length=200)] | None = None


class DeadlinePreview(BaseModel):
    due_at: datetime
    provisional: bool


# ---- departments -------------------------------------------------------------------------


@router.get("/api/departments", dependencies=[STAFF])
def list_departments(session: SessionDep) -> list[DepartmentRead]:
    """Every department with its calendar, member count and supervisors."""
    return department_views(session, None)


@router.get("/api/departments/{code}", dependencies=[STAFF])
def get_department(code: str, session: SessionDep) -> DepartmentDetail:
    return department_detail(session, department_by_code(session, code))


@router.post("/api/departments", status_code=201, dependencies=[ADMIN_ONLY])
def create_department(body: DepartmentCreate, session: SessionDep) -> DepartmentDetail:
    if session.scalar(select(Department.id).where(Department.code == body.code)):
        raise Conflict(f"a department with code {body.code!r} exists", field="code")
    department = Department(
        code=body.code,
        name=body.name,
        kind=body.kind,
        contact=body.contact,
        calendar_id=_calendar_id(session, body.calendar_code),
        is_active=True,
    )
    session.add(department)
    session.flush()
    session.commit()
    return department_detail(session, department)


@router.patch("/api/departments/{code}", dependencies=[ADMIN_ONLY])
def update_department(code: str, body: DepartmentChanges, session: SessionDep) -> DepartmentDetail:
    department = department_by_code(session, code)
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "kind", "is_active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    if "calendar_code" in changes:
        department.calendar_id = _calendar_id(session, changes.pop("calendar_code"))
    for column, value in changes.items():
        setattr(department, column, value)
    session.flush()
    session.commit()
    return department_detail(session, department)


@router.put("/api/departments/{code}/supervisors/{user_id}", dependencies=[ADMIN_ONLY])
def add_supervisor(code: str, user_id: UserId, session: SessionDep) -> DepartmentDetail:
    """Make a manager or department user a supervisor of the department (idempotent)."""
    department = department_by_code(session, code)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    if user.role not in SUPERVISOR_ROLES:
        allowed = ", ".join(sorted(SUPERVISOR_ROLES))
        raise InvalidInput(f"a supervisor has role {allowed}, not {user.role}", field="user_id")
    if session.get(DepartmentSupervisor, (department.id, user_id)) is None:
        session.add(DepartmentSupervisor(department_id=department.id, user_id=user_id))
        session.flush()
    session.commit()
    return department_detail(session, department)


@router.delete(
    "/api/departments/{code}/supervisors/{user_id}", status_code=204, dependencies=[ADMIN_ONLY]
)
def remove_supervisor(code: str, user_id: UserId, session: SessionDep) -> Response:
    department = department_by_code(session, code)
    supervisor = session.get(DepartmentSupervisor, (department.id, user_id))
    if supervisor is None:
        raise NotFound(f"user {user_id} is not a supervisor of {code!r}")
    session.delete(supervisor)
    session.flush()
    session.commit()
    return Response(status_code=204)


def department_by_code(session: Session, code: str) -> Department:
    """The department coded `code`; NotFound otherwise."""
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"no department with code {code!r}")
    return department


def department_views(session: Session, department_id: int | None) -> list[DepartmentRead]:
    """Departments (all, or the one with `department_id`) as read, in three set-based queries."""
    members = (
        select(User.department_id, func.count().label("member_count"))
        .where(User.role == Role.DEPARTMENT.value)
        .group_by(User.department_id)
        .subquery()
    )
    query = (
        select(Department, WorkCalendarRow.code, func.coalesce(members.c.member_count, 0))
        .outerjoin(WorkCalendarRow, WorkCalendarRow.id == Department.calendar_id)
        .outerjoin(members, members.c.department_id == Department.id)
        .order_by(Department.code)
    )
    if department_id is not None:
        query = query.where(Department.id == department_id)
    rows = session.execute(query).all()
    supervisors = _supervisors_by_department(session, [row[0].id for row in rows])
    return [
        DepartmentRead(
            code=department.code,
            name=department.name,
            kind=department.kind,
            contact=department.contact,
            calendar_code=calendar_code,
            is_active=department.is_active,
            member_count=member_count,
            supervisors=supervisors.get(department.id, []),
        )
        for department, calendar_code, member_count in rows
    ]


def department_detail(session: Session, department: Department) -> DepartmentDetail:
    """The department as read, with its members."""
    (view,) = department_views(session, department.id)
    members = session.scalars(
        select(User)
        .where(User.department_id == department.id, User.role == Role.DEPARTMENT.value)
        .order_by(User.username)
    )
    return DepartmentDetail(
        **view.model_dump(exclude={"supervisors"}),
        supervisors=view.supervisors,
        members=[UserBrief.model_validate(user) for user in members],
    )


def _supervisors_by_department(
    session: Session, department_ids: Sequence[int]
) -> dict[int, list[UserBrief]]:
    rows = session.execute(
        select(DepartmentSupervisor.department_id, User)
        .join(User, User.id == DepartmentSupervisor.user_id)
        .where(DepartmentSupervisor.department_id.in_(department_ids))
        .order_by(User.username)
    )
    supervisors: dict[int, list[UserBrief]] = defaultdict(list)
    for department_id, user in rows:
        supervisors[department_id].append(UserBrief.model_validate(user))
    return supervisors


def _calendar_id(session: Session, calendar_code: str | None) -> int | None:
    """The id of the calendar coded `calendar_code` (None for none); 422 when unknown."""
    if calendar_code is None:
        return None
    calendar_id = session.scalar(
        select(WorkCalendarRow.id).where(WorkCalendarRow.code == calendar_code)
    )
    if calendar_id is None:
        raise InvalidInput(f"no work calendar with code {calendar_code!r}", field="calendar_code")
    return calendar_id


# ---- calendars ---------------------------------------------------------------------------


@router.get("/api/calendars", dependencies=[STAFF])
def list_calendars(session: SessionDep) -> list[CalendarRead]:
    return [CalendarRead.model_validate(row) for row in calendars.list_calendars(session)]


@router.post("/api/calendars", status_code=201, dependencies=[ADMIN_ONLY])
def create_calendar(body: CalendarCreate, session: SessionDep) -> CalendarRead:
    row = calendars.create_calendar(session, **body.model_dump())
    session.commit()
    return CalendarRead.model_validate(row)


@router.get("/api/calendars/{code}", dependencies=[STAFF])
def get_calendar(
    code: str,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> CalendarYear:
    """The calendar and, for `year` (this year by default), its holidays, make-up workdays and
    overrides."""
    row = calendars.calendar_by_code(session, code)
    year = year or datetime.now(ZoneInfo(row.time_zone)).year
    days = calendars.special_days(session, row, year)
    return CalendarYear(
        **CalendarRead.model_validate(row).model_dump(),
        year=year,
        announced=calendars.OFFICIAL.announced(year),
        days=[SpecialDayRead.model_validate(day) for day in days],
    )


@router.put("/api/calendars/{code}/days/{day}")
def set_calendar_day(
    code: str,
    day: date,
    body: CalendarDayChange,
    session: SessionDep,
    principal: Annotated[Principal, Depends(ADMIN)],
) -> SpecialDayRead:
    """Declare `day` a holiday or a workday on the calendar, whatever the official calendar says."""
    row = calendars.calendar_by_code(session, code)
    override = calendars.set_calendar_day(
        session,
        row,
        day,
        is_workday=body.is_workday,
        name=body.name,
        created_by=principal.user_id,
    )
    session.commit()
    return SpecialDayRead(
        day=override.day, is_workday=override.is_workday, name=override.name, source="override"
    )


@router.delete("/api/calendars/{code}/days/{day}", status_code=204, dependencies=[ADMIN_ONLY])
def delete_calendar_day(code: str, day: date, session: SessionDep) -> Response:
    calendars.delete_calendar_day(session, calendars.calendar_by_code(session, code), day)
    session.commit()
    return Response(status_code=204)


@router.get("/api/calendars/{code}/deadline", dependencies=[STAFF])
def preview_deadline(
    code: str,
    start: datetime,
    hours: Annotated[float, Query(ge=0, le=MAX_PREVIEW_HOURS)],
    session: SessionDep,
) -> DeadlinePreview:
    """When a case dispatched at `start` with a limit of `hours` working hours falls due."""
    row = calendars.calendar_by_code(session, code)
    deadline = calendars.preview_deadline(session, row, start=start, hours=hours)
    return DeadlinePreview(due_at=deadline.at, provisional=deadline.provisional)
