"""The administration pages of accounts: the index of every administration section, and the
users (find, add, change role and department, reset password, disable). Rendered on the server;
their forms act through the JSON API (citygrid/static/admin.js), which audits every change."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts import audit
from citygrid.accounts import service as accounts
from citygrid.accounts.audit import AuditKind
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.models import User
from citygrid.accounts.passwords import MIN_PASSWORD_LENGTH
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from citygrid.web import N_, render

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
AdminDep = Annotated[Principal, Depends(Allow(Role.ADMIN))]

USERS_PER_PAGE = 50
HISTORY_SHOWN = 20
# The administration sections, in the index's order: (path, title, what it is for).
SECTIONS = (
    ("/admin/users", N_("Users"), N_("Accounts, roles and departments; passwords; disabling.")),
    (
        "/admin/departments",
        N_("Departments"),
        N_("The departments that handle cases, their members and supervisors."),
    ),
    (
        "/admin/calendars",
        N_("Work calendars"),
        N_("Working hours, holidays and working weekend days of each department."),
    ),
    (
        "/admin/rules",
        N_("Routing rules"),
        N_("Which department a case goes to: versions, drafts, simulation, activation."),
    ),
    ("/admin/categories", N_("Categories"), N_("Case categories: names, time limits, retiring.")),
    ("/admin/open311-keys", N_("Open311 keys"), N_("API keys of the Open311 clients.")),
    ("/admin/webhooks", N_("Webhooks"), N_("Subscribers told of case events, and deliveries.")),
    ("/admin/devices", N_("Sensing devices"), N_("IoT sensors and AI cameras: status, import.")),
)
ROLE_LABELS = {
    Role.INSPECTOR: N_("Inspector"),
    Role.CITIZEN: N_("Citizen"),
    Role.DISPATCHER: N_("Dispatcher"),
    Role.DEPARTMENT: N_("Department member"),
    Role.MANAGER: N_("Manager"),
    Role.ADMIN: N_("Administrator"),
}
HISTORY_LABELS = {
    AuditKind.LOGIN_FAILED: N_("Failed login"),
    AuditKind.TOKEN_REVOKED: N_("Logged out"),
    AuditKind.TOKENS_RESET: N_("Logged out everywhere"),
    AuditKind.USER_DISABLED: N_("Disabled"),
    AuditKind.USER_ENABLED: N_("Enabled"),
    AuditKind.PASSWORD_CHANGED: N_("Password changed"),
    AuditKind.USER_CREATED: N_("Created"),
    AuditKind.USER_ROLE_CHANGED: N_("Role or department changed"),
}
# What admin.js says on every administration page (the pages' `js_messages` start with these).
ADMIN_MESSAGES = {
    "error.forbidden": N_("You may not do this."),
    "error.gone": N_("It no longer exists: reload the page."),
    "done.saved": N_("Saved."),
}
# What the users' forms say about a refused change (domain errors by field; see citygrid.js).
USER_MESSAGES = {
    **ADMIN_MESSAGES,
    "error.field.username": N_("This username is taken."),
    "error.field.department_code": N_("A department member needs a department; others none."),
    "error.field.password": N_(
        "This password is too easy to guess: use a longer one, unlike the username or the name."
    ),
    "error.field.is_active": N_("You cannot disable your own account."),
    "error.field.role": N_("You cannot change your own role."),
}


@router.get("/admin", response_class=HTMLResponse)
def admin_index(request: Request, principal: AdminDep) -> HTMLResponse:
    """Every administration section, with what it is for."""
    return render(request, "admin/index.html", {"sections": SECTIONS}, principal=principal)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    q: Annotated[str, Query(max_length=100)] = "",
    role: Role | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The users found by username or name (and role), a page at a time; the form to add one."""
    search = q.strip()
    found = accounts.users_page(
        session,
        search=search or None,
        role=role,
        offset=(page - 1) * USERS_PER_PAGE,
        limit=USERS_PER_PAGE,
    )
    context = {
        "found": found,
        "q": search,
        "role": role.value if role else "",
        "page": page,
        "pages": max(1, math.ceil(found.total / USERS_PER_PAGE)),
        "departments": accounts.department_choices(session),
        "role_labels": ROLE_LABELS,
        "min_password_length": MIN_PASSWORD_LENGTH,
        "js_messages": USER_MESSAGES,
    }
    return render(request, "admin/users.html", context, principal=principal)


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    """One user: their role and department, what they supervise, their recent history, and the
    forms to change them."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    department = accounts.department_of(session, user)
    choices = accounts.department_choices(session)
    if department is not None and not department.is_active:
        choices = [*choices, department]  # where they are, though it takes no new cases
    context = {
        "user": user,
        "department": department,
        "supervised": accounts.supervised_departments(session, user.id),
        "history": audit.user_history(session, user.id, limit=HISTORY_SHOWN),
        "history_labels": HISTORY_LABELS,
        "departments": choices,
        "role_labels": ROLE_LABELS,
        "is_self": user.id == principal.user_id,
        "min_password_length": MIN_PASSWORD_LENGTH,
        "js_messages": USER_MESSAGES,
    }
    return render(request, "admin/user.html", context, principal=principal)
