"""Departments, their members and supervisors; every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
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
AdminDep = Annotated[Principal, Depends(Allow(Role.ADMIN))]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", dependencies=[STAFF])
def list_departments(session: SessionDep) -> list[DepartmentRead]:
    """Every department with its calendar, member count and supervisors."""
    return departments.department_views(session, None)


@router.get("/{code}", dependencies=[STAFF])
def get_department(code: str, session: SessionDep) -> DepartmentDetail:
    return departments.department_detail(session, departments.department_by_code(session, code))


@router.post("", status_code=201)
def create_department(
    request: Request, body: DepartmentCreate, principal: AdminDep, session: SessionDep
) -> DepartmentDetail:
    department = departments.create_department(
        session, body, by=principal, origin=request_origin(request)
    )
    session.commit()
    return departments.department_detail(session, department)


@router.patch("/{code}")
def update_department(
    request: Request, code: str, body: DepartmentChanges, principal: AdminDep, session: SessionDep
) -> DepartmentDetail:
    """Change the fields sent; is_active false deactivates the department: no case can be
    dispatched to it."""
    changes = body.model_dump(exclude_unset=True)
    department = departments.update_department(
        session, code, changes, by=principal, origin=request_origin(request)
    )
    session.commit()
    return departments.department_detail(session, department)


@router.put("/{code}/supervisors/{user_id}")
def add_supervisor(
    request: Request, code: str, user_id: UserId, principal: AdminDep, session: SessionDep
) -> DepartmentDetail:
    """Make a manager or department user a supervisor of the department (idempotent)."""
    department = departments.add_supervisor(
        session, code, user_id, by=principal, origin=request_origin(request)
    )
    session.commit()
    return departments.department_detail(session, department)


@router.delete("/{code}/supervisors/{user_id}", status_code=204)
def remove_supervisor(
    request: Request, code: str, user_id: UserId, principal: AdminDep, session: SessionDep
) -> Response:
    departments.remove_supervisor(
        session, code, user_id, by=principal, origin=request_origin(request)
    )
    session.commit()
    return Response(status_code=204)
