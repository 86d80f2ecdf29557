"""Departments: create and change them, their supervisors (each change audited), and how they
are read (with their calendar, member count, supervisors and members)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.orm import Session

from citygrid.accounts.audit import AuditKind, RequestOrigin, audit_change
from citygrid.accounts.models import Department, DepartmentSupervisor, User
from citygrid.accounts.roles import SUPERVISOR_ROLES, Principal, Role
from citygrid.errors import Conflict, InvalidInput, NotFound
from dispatch.departments.schemas import (
    DepartmentCreate,
    DepartmentDetail,
    DepartmentRead,
    UserBrief,
)
from dispatch.models import WorkCalendar as WorkCalendarRow

REQUIRED_FIELDS = ("name", "kind", "is_active")  # a change may not set them to null


def department_by_code(session: Session, code: str) -> Department:
    """The department coded `code`; NotFound otherwise."""
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"no department with code {code!r}")
    return department


def active_departments(session: Session) -> list[RowMapping]:
    """Id, code and name of every active department, by code."""
    statement = (
        select(Department.id, Department.code, Department.name)
        .where(Department.is_active)
        .order_by(Department.code)
    )
    return list(session.execute(statement).mappings())


def create_department(
    session: Session, body: DepartmentCreate, *, by: Principal, origin: RequestOrigin
) -> Department:
    """A new active department; Conflict when the code is taken, InvalidInput for an unknown
    calendar."""
    if session.scalar(select(Department.id).where(Department.code == body.code)):
        raise Conflict(f"a department with code {body.code!r} exists", field="code")
    department = Department(
        code=body.code,
        name=body.name,
        kind=body.kind,
        contact=body.contact,
        calendar_id=calendar_id_of(session, body.calendar_code),
        is_active=True,
    )
    session.add(department)
    session.flush()
    audit_change(session, AuditKind.DEPARTMENT_CREATED, by=by, origin=origin, **body.model_dump())
    return department


def update_department(
    session: Session,
    code: str,
    changes: dict[str, Any],
    *,
    by: Principal,
    origin: RequestOrigin,
) -> Department:
    """The department with the fields sent changed; InvalidInput for a null required field."""
    department = department_by_code(session, code)
    for required in REQUIRED_FIELDS:
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    columns = dict(changes)
    if "calendar_code" in columns:
        department.calendar_id = calendar_id_of(session, columns.pop("calendar_code"))
    for column, value in columns.items():
        setattr(department, column, value)
    session.flush()
    audit_change(
        session, AuditKind.DEPARTMENT_CHANGED, by=by, origin=origin, code=code, changes=changes
    )
    return department


def add_supervisor(
    session: Session, code: str, user_id: int, *, by: Principal, origin: RequestOrigin
) -> Department:
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
        audit_change(
            session,
            AuditKind.SUPERVISOR_ADDED,
            by=by,
            origin=origin,
            code=code,
            user_id=user_id,
            username=user.username,
        )
    return department


def remove_supervisor(
    session: Session, code: str, user_id: int, *, by: Principal, origin: RequestOrigin
) -> None:
    """The user is no longer a supervisor of the department; NotFound when they were not."""
    department = department_by_code(session, code)
    supervisor = session.get(DepartmentSupervisor, (department.id, user_id))
    if supervisor is None:
        raise NotFound(f"user {user_id} is not a supervisor of {code!r}")
    session.delete(supervisor)
    session.flush()
    audit_change(
        session, AuditKind.SUPERVISOR_REMOVED, by=by, origin=origin, code=code, user_id=user_id
    )


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
    supervisors = supervisors_by_department(session, [row[0].id for row in rows])
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


def supervisors_by_department(
    session: Session, department_ids: Sequence[int]
) -> dict[int, list[UserBrief]]:
    """The supervisors of each of the departments, by username."""
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


def calendar_id_of(session: Session, calendar_code: str | None) -> int | None:
    """The id of the calendar coded `calendar_code` (None for none: the default calendar);
    InvalidInput when there is no such calendar."""
    if calendar_code is None:
        return None
    calendar_id = session.scalar(
        select(WorkCalendarRow.id).where(WorkCalendarRow.code == calendar_code)
    )
    if calendar_id is None:
        raise InvalidInput(f"no work calendar with code {calendar_code!r}", field="calendar_code")
    return calendar_id


def supervisor_candidates(session: Session, department_id: int) -> Sequence[User]:
    """Active users who may supervise the department and do not yet, by name."""
    already = select(DepartmentSupervisor.user_id).where(
        DepartmentSupervisor.department_id == department_id
    )
    query = (
        select(User)
        .where(
            User.is_active,
            User.role.in_([role.value for role in SUPERVISOR_ROLES]),
            User.id.not_in(already),
        )
        .order_by(User.display_name, User.username)
    )
    return session.scalars(query).all()


def members_elsewhere(session: Session, department_id: int) -> list[tuple[User, Department]]:
    """Active members of the other departments (who could move here), by department and name."""
    query = (
        select(User, Department)
        .join(Department, Department.id == User.department_id)
        .where(
            User.is_active,
            User.role == Role.DEPARTMENT.value,
            User.department_id != department_id,
        )
        .order_by(Department.name, User.display_name, User.username)
    )
    return [(user, department) for user, department in session.execute(query)]


def department_kinds(session: Session) -> list[str]:
    """The kinds the departments have, to pick one from."""
    query = select(Department.kind).distinct().order_by(Department.kind)
    return list(session.scalars(query))
