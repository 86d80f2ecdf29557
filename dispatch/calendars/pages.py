"""The administration pages of work calendars: the list (and a new one), and one calendar with
a year's holidays and working weekend days, its overrides, and the departments that work by it.
Rendered on the server; their forms act through the JSON API (citygrid/static/admin.js), which
audits every change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.admin_pages import ADMIN_MESSAGES
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, render
from dispatch.calendars import service as calendars

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
AdminDep = Annotated[Principal, Depends(Allow(Role.ADMIN))]

WEEKDAY_LABELS = {
    1: N_("Monday"),
    2: N_("Tuesday"),
    3: N_("Wednesday"),
    4: N_("Thursday"),
    5: N_("Friday"),
    6: N_("Saturday"),
    7: N_("Sunday"),
}
# The names chinese_calendar gives the official holidays (and their make-up workdays).
HOLIDAY_NAMES = {
    "New Year's Day": N_("New Year's Day"),
    "Spring Festival": N_("Spring Festival"),
    "Tomb-sweeping Day": N_("Tomb-sweeping Day"),
    "Labour Day": N_("Labour Day"),
    "Dragon Boat Festival": N_("Dragon Boat Festival"),
    "Mid-autumn Festival": N_("Mid-autumn Festival"),
    "National Day": N_("National Day"),
    "Anti-Fascist 70th Day": N_("Anti-Fascist 70th Day"),
}
CALENDAR_MESSAGES = {
    **ADMIN_MESSAGES,
    "error.field.code": N_("This code is already used."),
    "error.field.periods": N_(
        "Write the working periods as 08:30-12:00 13:30-17:30: in order, not overlapping."
    ),
    "error.field.weekdays": N_("Tick at least one working weekday."),
    "error.field.time_zone": N_("Unknown time zone."),
    "error.field.calendar_code": N_("Choose a calendar from the list."),
}
Year = Annotated[int | None, Query(ge=1900, le=2200)]


@router.get("/admin/calendars", response_class=HTMLResponse)
def calendars_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: AdminDep
) -> HTMLResponse:
    """Every calendar with its working hours and weekdays; the form to add one."""
    context = {
        "calendars": calendars.list_calendars(session),
        "department_counts": calendars.departments_by_calendar(session),
        "default_code": settings.default_calendar_code,
        "weekday_labels": WEEKDAY_LABELS,
        "js_messages": CALENDAR_MESSAGES,
    }
    return render(request, "dispatch/admin_calendars.html", context, principal=principal)


@router.get("/admin/calendars/{code}", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: AdminDep,
    code: Annotated[str, Path(max_length=32)],
    year: Year = None,
) -> HTMLResponse:
    """One calendar: a year's holidays and working weekend days (official and overridden), the
    form to override a day, and the departments that work by it."""
    row = calendars.calendar_by_code(session, code)
    year = year or calendars.current_year(row, datetime.now(UTC))
    is_default = row.code == settings.default_calendar_code
    context = {
        "calendar": row,
        "year": year,
        "announced": calendars.OFFICIAL.announced(year),
        "days": calendars.special_days(session, row, year),
        "is_default": is_default,
        "departments": calendars.departments_of(session, row, is_default=is_default),
        "all_departments": calendars.departments_by_name(session),
        "weekday_labels": WEEKDAY_LABELS,
        "holiday_names": HOLIDAY_NAMES,
        "js_messages": CALENDAR_MESSAGES,
    }
    return render(request, "dispatch/admin_calendar.html", context, principal=principal)
