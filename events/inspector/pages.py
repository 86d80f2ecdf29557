"""Inspector pages (mobile first): new report with an offline queue, my reports, checks.

The report form and the verification tasks act through the JSON API (`POST /api/reports`,
`/api/cases/{id}/photos`, `/api/cases/{id}/actions/…`) from their scripts; these routes only
render. Reports made without network wait in the browser (IndexedDB, `inspector_queue.js`) and
are sent with the report UUID made when the user pressed submit, so a retry is the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import LateralFromClause

from citygrid.accounts.auth import Allow, Principal, Role, RoleCheckedRoute
from citygrid.accounts.models import Department
from citygrid.db import SessionDep
from citygrid.web import N_, render
from events.cases import pages as case_page
from events.intake.service import CITY_TIME_ZONE
from events.lifecycle import CaseAction, CaseStatus
from events.listing import service as listing
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort
from events.models import Case, CasePhoto, CaseTransition, Category
from grid.models import GridCell, GridRegion

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

# Who may file a report from the form: the roles intake admits (dispatchers take hotline calls).
REPORTERS = Allow(Role.INSPECTOR, Role.CITIZEN, Role.DISPATCHER, Role.ADMIN)
Reporter = Annotated[Principal, Depends(REPORTERS)]
Inspector = Annotated[Principal, Depends(Allow(Role.INSPECTOR))]
MY_REPORTS_SHOWN = 100
TASKS_SHOWN = 50  # a phone's page: the longest-waiting ones; verified ones make room
TIME_FORMAT = "%Y-%m-%d %H:%M"

STATUS_NAMES: dict[CaseStatus, str] = {
    CaseStatus.REPORTED: N_("Reported, waiting to be filed"),
    CaseStatus.FILED: N_("Filed, waiting for dispatch"),
    CaseStatus.NOT_FILED: N_("Not filed"),
    CaseStatus.DISPATCHED: N_("Dispatched"),
    CaseStatus.RETURNED: N_("Returned to the dispatchers"),
    CaseStatus.ACCEPTED: N_("Being handled"),
    CaseStatus.HANDLED: N_("Handled, waiting for verification"),
    CaseStatus.REWORK: N_("Rework"),
    CaseStatus.SUSPENDED: N_("Suspended"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.CANCELLED: N_("Cancelled"),
}

# What the offline queue shows, on the report page and on "my reports".
QUEUE_MESSAGES = {
    "queue.none": N_("Nothing is waiting to be sent."),
    "queue.count.one": N_("1 report is waiting to be sent."),
    "queue.count.other": N_("{n} reports are waiting to be sent."),
    "queue.offline": N_(
        "You are offline: reports are kept on this device until the network is back."
    ),
    "queue.saved": N_("No network: the report is kept on this device and will be sent later."),
    "queue.sending": N_("Sending waiting reports…"),
    "queue.sent": N_("Sent: case {number}."),
    "queue.replayed": N_("Already received earlier: case {number}."),
    "queue.refused": N_("Refused: {error}"),
    "queue.discard": N_("Discard"),
    "queue.discarded": N_("The waiting report was discarded."),
    "queue.queued_at": N_("Kept at {time}"),
    "queue.unavailable": N_("This browser cannot keep reports offline; send it when online."),
    "queue.no_category": N_("(no category)"),
}
REPORT_MESSAGES = {
    **QUEUE_MESSAGES,
    "locate.asking": N_("Finding your position…"),
    "locate.accuracy": N_("Accuracy: about {metres} m"),
    "locate.denied": N_("Your position is not available: tap the map or enter a cell code."),
    "locate.cell": N_("Cell {code} ({name}), community {community}"),
    "locate.outside": N_("This place is outside the city's grid."),
    "locate.kept": N_("Position kept ({lat}, {lon}); its cell is found when the report is sent."),
    "locate.searching": N_("Looking up the place…"),
    "locate.no_cell": N_("No cell has this code."),
    "category.loading": N_("Loading categories…"),
    "category.count": N_("{n} categories match."),
    "category.none": N_("No category matches."),
    "category.offline": N_("Categories could not be loaded: check the network and reload."),
    "report.sending": N_("Sending…"),
    "error.field.lon/lat": N_(
        "Set a place inside the city's grid: use your location, tap the map or enter a cell code."
    ),
    "error.field.lon": N_("Set a place: use your location, tap the map or enter a cell code."),
    "error.field.lat": N_("Set a place: use your location, tap the map or enter a cell code."),
    "error.field.category_id": N_("Choose a category from the list."),
    "error.field.category_code": N_("Choose a category from the list."),
    "error.field.description": N_("Describe what you see (at most 4000 characters)."),
    "error.field.address": N_("The address is too long."),
    "error.field.code": N_("No cell has this code."),
}
TASK_MESSAGES = {
    "task.passed": N_("Case {number} verified: closed."),
    "task.failed": N_("Case {number} sent back for rework."),
    "task.sending": N_("Sending…"),
    "task.none": N_("No case is waiting for your verification."),
    "error.field.action": N_("This case has changed meanwhile: reload the page."),
    "error.field.photo_ids": N_("A photo could not be attached: try again."),
}


def status_name(status: str) -> str:
    """The catalogue message of a case status (translated in the template)."""
    return STATUS_NAMES[CaseStatus(status)]


def local_time(moment: datetime | None) -> str:
    """A time as the city reads it (Beijing time), or an empty string."""
    return moment.astimezone(CITY_TIME_ZONE).strftime(TIME_FORMAT) if moment else ""


def grid_centre(session: Session) -> tuple[float, float] | None:
    """(lon, lat) of the middle of the managed area, from its districts; None without a grid."""
    box = (
        select(func.ST_Extent(GridRegion.geom).label("box"))
        .where(GridRegion.level == "district")
        .subquery()
    )
    corners = select(
        func.ST_XMin(box.c.box),
        func.ST_YMin(box.c.box),
        func.ST_XMax(box.c.box),
        func.ST_YMax(box.c.box),
    )
    west, south, east, north = session.execute(corners).one()
    if west is None:
        return None
    return (west + east) / 2, (south + north) / 2


@router.get("/m/report")
def report_page(request: Request, session: SessionDep, principal: Reporter) -> HTMLResponse:
    """The new-report form: place, category, description, photos, urgency; the offline queue."""
    centre = grid_centre(session)
    page_setup = {"centre": list(centre) if centre else None, "user_id": principal.user_id}
    context = {
        "page_setup": page_setup,
        "reload_after_send": False,
        "js_messages": REPORT_MESSAGES,
    }
    return render(request, "events/inspector_report.html", context, principal=principal)


def my_reports(session: Session, principal: Principal) -> list[CaseListItem]:
    """The cases the user reported (merged ones as their own), newest first."""
    filters = CaseFilters(reporter_id=principal.user_id)
    page = listing.list_cases(
        session,
        principal,
        filters,
        sort=CaseSort.CREATED_AT_DESC,
        page=1,
        page_size=MY_REPORTS_SHOWN,
    )
    return page.items


@router.get("/m/reports")
def my_reports_page(request: Request, session: SessionDep, principal: Reporter) -> HTMLResponse:
    """The user's reports with status and traffic light; the offline queue on top."""
    rows = [
        {
            "item": item,
            "status": status_name(item.status),
            "light": case_page.LIGHT_LABELS.get(item.light or ""),
            "created": local_time(item.created_at),
        }
        for item in my_reports(session, principal)
    ]
    context = {
        "rows": rows,
        "page_setup": {"user_id": principal.user_id},
        "reload_after_send": True,  # the list above comes from the server: show the new cases
        "js_messages": QUEUE_MESSAGES,
    }
    return render(request, "events/inspector_reports.html", context, principal=principal)


@dataclass(frozen=True)
class VerificationTask:
    """A handled case waiting for an inspector, with what the department said it did."""

    case_id: int
    number: str
    version: int
    category_name_zh: str
    category_name_en: str
    cell_code: str
    address: str | None
    description: str
    department_name: str | None
    handled_at: datetime | None
    feedback: str | None
    photo_ids: list[int]


WAITING_FOR_VERIFICATION = (Case.status == CaseStatus.HANDLED.value, Case.merged_into_id.is_(None))


def tasks_waiting(session: Session) -> int:
    """How many cases wait for verification in all."""
    count = session.scalar(select(func.count()).where(*WAITING_FOR_VERIFICATION))
    return int(count or 0)


def last_handling() -> LateralFromClause:
    """Per case (correlated, LATERAL): the id and note of the department's last handling."""
    handling = aliased(CaseTransition)
    return (
        select(handling.id, handling.reason)
        .where(handling.case_id == Case.id, handling.action == CaseAction.HANDLE.value)
        .order_by(handling.at.desc(), handling.id.desc())
        .limit(1)
        .lateral("last_handling")
    )


def verification_tasks(session: Session) -> list[VerificationTask]:
    """Cases handled and waiting for on-site verification (any inspector may verify any one, as
    events.lifecycle says), oldest handling first, with the department's last handling note
    and the photos it attached: one statement."""
    handling = last_handling()
    photo_ids = (
        select(func.array_agg(aggregate_order_by(CasePhoto.id, CasePhoto.id)))
        .where(CasePhoto.transition_id == handling.c.id)
        .scalar_subquery()
    )
    query = (
        select(
            Case.id.label("case_id"),
            Case.number,
            Case.version,
            Category.name_zh.label("category_name_zh"),
            Category.name_en.label("category_name_en"),
            GridCell.code.label("cell_code"),
            Case.address,
            Case.description,
            Department.name.label("department_name"),
            Case.handled_at,
            handling.c.reason.label("feedback"),
            photo_ids.label("photo_ids"),
        )
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(handling, true())
        .where(*WAITING_FOR_VERIFICATION)
        .order_by(Case.handled_at.asc().nulls_last(), Case.id)
        .limit(TASKS_SHOWN)
    )
    rows = session.execute(query).all()
    return [VerificationTask(**{**row._asdict(), "photo_ids": row.photo_ids or []}) for row in rows]


@router.get("/m/tasks")
def tasks_page(request: Request, session: SessionDep, principal: Inspector) -> HTMLResponse:
    """Verification tasks (核查): pass or fail each handled case, with a note and a photo."""
    tasks = [
        {"task": task, "handled": local_time(task.handled_at)}
        for task in verification_tasks(session)
    ]
    waiting = tasks_waiting(session) if len(tasks) == TASKS_SHOWN else len(tasks)
    context = {"tasks": tasks, "waiting": waiting, "js_messages": TASK_MESSAGES}
    return render(request, "events/inspector_tasks.html", context, principal=principal)
