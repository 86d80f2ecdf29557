"""The administration pages of departments: the list (and a new one), and one department with
its members and supervisors. Rendered on the server; their forms act through the JSON API
(citygrid/static/admin.js), which audits every change."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.admin_pages import ADMIN_MESSAGES
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, page_language, render
from dispatch.calendars.service import list_calendars
from dispatch.departments import service as departments
from events.taxonomy import department_type_label

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
AdminDep = Annotated[Principal, Depends(Allow(Role.ADMIN))]
DepartmentCode = Annotated[str, Path(max_length=32)]

DEPARTMENT_MESSAGES = {
    **ADMIN_MESSAGES,
    "error.field.code": N_("This code is already used."),
    "error.field.calendar_code": N_("Choose a calendar from the list."),
    "error.field.user_id": N_("A supervisor must be a manager or a department member."),
    "error.field.department_code": N_("Choose a department from the list."),
}


def calendar_choices(session: Session, default_code: str) -> dict[str, Any]:
    """The calendars to choose from, their names by code, and the name of the default one."""
    calendars = list_calendars(session)
    names = {calendar.code: calendar.name for calendar in calendars}
    return {
        "calendars": calendars,
        "calendar_names": names,
        "default_calendar_name": names.get(default_code, default_code),
    }


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: AdminDep
) -> HTMLResponse:
    """Every department with its calendar, members and supervisors; the form to add one."""
    context = {
        "departments": departments.department_views(session, None),
        **calendar_choices(session, settings.default_calendar_code),
        "kinds": departments.department_kinds(session),
        "kind_label": partial(department_type_label, language=page_language(request)),
        "js_messages": DEPARTMENT_MESSAGES,
    }
    return render(request, "dispatch/admin_departments.html", context, principal=principal)


@router.get("/admin/departments/{code}", response_class=HTMLResponse)
def department_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminDep,
    code: DepartmentCode,
) -> HTMLResponse:
    """One department: its details to change, its members and supervisors."""
    department = departments.department_by_code(session, code)
    context = {
        "department": departments.department_detail(session, department),
        **calendar_choices(session, settings.default_calendar_code),
        "kinds": departments.department_kinds(session),
        "supervisor_candidates": departments.supervisor_candidates(session, department.id),
        "members_elsewhere": departments.members_elsewhere(session, department.id),
        "js_messages": DEPARTMENT_MESSAGES,
    }
    return render(request, "dispatch/admin_department.html", context, principal=principal)
