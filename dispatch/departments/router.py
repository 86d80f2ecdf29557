"""Departments, their members and supervisors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Role
from citygrid.db import SessionDep
from dispatch.departments import service as departments
from dispatch.departments.schemas import (
    DepartmentChanges,
    DepartmentCreate,
    DepartmentDetail,
    DepartmentRead,
)

router = APIRouter(prefix="/api/departments", tags=["departments"], route_class=RoleCheckedRoute)
STAFF = Depends(Allow(*STAFF_ROLES))
ADMIN_ONLY = Depends(Allow(Role.ADMIN))
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", dependencies=[STAFF])
def list_departments(session: SessionDep) -> list[DepartmentRead]:
    """Every department with its calendar, member count and supervisors."""
    return departments.department_views(session, None)


@router.get("/{code}", dependencies=[STAFF])
def get_department(code: str, session: SessionDep) -> DepartmentDetail:
    return departments.department_detail(session, departments.department_by_code(session, code))


@router.post("", status_code=201, dependencies=[ADMIN_ONLY])
def create_department(body: DepartmentCreate, session: SessionDep) -> DepartmentDetail:
    department = departments.create_department(session, body)
    session.commit()
    return departments.department_detail(session, department)


@router.patch("/{code}", dependencies=[ADMIN_ONLY])
def update_department(code: str, body: DepartmentChanges, session: SessionDep) -> DepartmentDetail:
    changes = body.model_dump(exclude_unset=True)
    department = departments.update_department(session, code, changes)
    session.commit()
    return departments.department_detail(session, department)


@router.put("/{code}/supervisors/{user_id}", dependencies=[ADMIN_ONLY])
def add_supervisor(code: str, user_id: UserId, session: SessionDep) -> DepartmentDetail:
    """Make a manager or department user a supervisor of the department (idempotent)."""
    department = departments.add_supervisor(session, code, user_id)
    session.commit()
    return departments.department_detail(session, department)


@router.delete("/{code}/supervisors/{user_id}", status_code=204, dependencies=[ADMIN_ONLY])
def remove_supervisor(code: str, user_id: UserId, session: SessionDep) -> Response:
    departments.remove_supervisor(session, code, user_id)
    session.commit()
    return Response(status_code=204)
