"""Inspector pages (mobile first): new report with an offline queue, my reports, checks.

The report form and the verification tasks act through the JSON API (`POST /api/reports`,
`/api/cases/{id}/photos`, `/api/cases/{id}/actions/…`) from their scripts; these routes only
render. Reports made without network wait in the browser (IndexedDB, `inspector_queue.js`) and
are sent with the report UUID made when the user pressed submit, so a retry is the same report.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, page_language, render
from events.cases import pages as case_page
from events.categories.labels import shared_name_labels
from events.inspector import service
from events.lifecycle import CaseStatus
from events.listing.pages import kept_parameters, paging_links
from events.listing.params import AfterParam
from events.listing.schemas import CaseSort
from events.listing.search import SEARCH_MAX_CHARS, SearchTerms, parse_search

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

# Who may file a report from the form: the roles intake admits (dispatchers take hotline calls).
REPORTERS = Allow(Role.INSPECTOR, Role.CITIZEN, Role.DISPATCHER, Role.ADMIN)
Reporter = Annotated[Principal, Depends(REPORTERS)]
Inspector = Annotated[Principal, Depends(Allow(Role.INSPECTOR))]
SearchQuery = Annotated[str | None, Query(max_length=SEARCH_MAX_CHARS)]

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
    "locate.cell_unnamed": N_("Cell {code}, community {community}"),  # named by its code
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


@router.get("/m/report", response_class=HTMLResponse)
def report_page(request: Request, session: SessionDep, principal: Reporter) -> HTMLResponse:
    """The new-report form: place, category, description, photos, urgency; the offline queue."""
    centre = service.grid_centre(session)
    page_setup = {
        "centre": list(centre) if centre else None,
        "user_id": principal.user_id,
        # Options whose name another category bears say their code and standard too.
        "category_labels": shared_name_labels(session, page_language(request)),
    }
    context = {
        "page_setup": page_setup,
        "reload_after_send": False,
        "js_messages": REPORT_MESSAGES,
    }
    return render(request, "events/inspector_report.html", context, principal=principal)


# The orders the verification list offers.
TASK_SORTS = {
    CaseSort.CREATED_AT_DESC.value: N_("Newest first"),
    CaseSort.CREATED_AT.value: N_("Waiting longest first"),
}


def search_of(q: str | None) -> SearchTerms | None:
    return parse_search(q) if q else None


@router.get("/m/reports", response_class=HTMLResponse)
def my_reports_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reporter,
    q: SearchQuery = None,
    after: AfterParam = None,
) -> HTMLResponse:
    """The user's reports with status and traffic light, newest first, searchable, a page at a
    time; the offline queue on top."""
    page = service.my_reports(session, principal, search_of(q), after)
    rows = [
        {
            "item": item,
            "status": status_name(item.status),
            "light": case_page.LIGHT_LABELS.get(item.light or ""),
            "created": local_time(item.created_at, settings.city_zone),
        }
        for item in page.items
    ]
    context = {
        "rows": rows,
        "paging": paging_links(request, page, on_first_page=after is None),
        "values": kept_parameters(request),
        "page_setup": {"user_id": principal.user_id},
        "reload_after_send": True,  # the list above comes from the server: show the new cases
        "js_messages": QUEUE_MESSAGES,
    }
    return render(request, "events/inspector_reports.html", context, principal=principal)


@router.get("/m/tasks", response_class=HTMLResponse)
def tasks_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Inspector,
    q: SearchQuery = None,
    sort: Annotated[Literal["-created_at", "created_at"], Query()] = "-created_at",
    after: AfterParam = None,
) -> HTMLResponse:
    """Verification tasks (核查): pass or fail each handled case, with a note and a photo;
    the newest first (or the longest waiting), searchable, a page at a time."""
    page, shown = service.verification_tasks(
        session, principal, search_of(q), sort=CaseSort(sort), after=after
    )
    tasks = [
        {"task": task, "handled": local_time(task.handled_at, settings.city_zone)} for task in shown
    ]
    context = {
        "tasks": tasks,
        "paging": paging_links(request, page, on_first_page=after is None),
        "values": kept_parameters(request),
        "sorts": TASK_SORTS,
        "js_messages": TASK_MESSAGES,
    }
    return render(request, "events/inspector_tasks.html", context, principal=principal)
