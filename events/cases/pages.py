"""The case page: details, photos, location map with the cell outline, history, allowed actions.

What the caller may see and do comes from the case API's own service (`case_service.case_detail`
and `case_history`): the same visibility rules (a citizen sees only the cases they reported) and
the same allowed actions (`events.lifecycle` via `case_service.actions_for`). The page only adds
the names the API leaves as ids (category, cell, community, street, department, actors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import ALL_ROLES, STAFF_ROLES, Principal, Role
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, gettext_for, page_language, render
from events.cases import service as case_service
from events.cases.routing_reasons import routing_describer
from events.cases.schemas import CaseDetail, HistoryRow
from events.cases.workflow import CaseWorkflowDep
from events.categories.labels import category_label, shared_category_names, with_code
from events.lifecycle import RULES, CaseAction, CaseStatus
from events.models import Category
from events.recurrence.pages import case_links as recurrence_links
from events.suggestions.hints import case_hints

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

CaseReader = Annotated[Principal, Depends(Allow(*ALL_ROLES))]
COMPONENTS_URL = "/api/components"  # GeoJSON search by bbox (staff)
# Roles that see who acted in the history; the others see only the actor's role.
NAMES_SHOWN_TO = frozenset({Role.DISPATCHER, Role.DEPARTMENT, Role.MANAGER, Role.ADMIN})

# The case statuses as staff pages name them (the console, the desk and the case page).
STATUS_LABELS: dict[str, str] = {
    CaseStatus.REPORTED: N_("Reported"),
    CaseStatus.FILED: N_("Filed"),
    CaseStatus.NOT_FILED: N_("Not filed"),
    CaseStatus.DISPATCHED: N_("Dispatched"),
    CaseStatus.RETURNED: N_("Returned"),
    CaseStatus.ACCEPTED: N_("Accepted"),
    CaseStatus.HANDLED: N_("Handled"),
    CaseStatus.REWORK: N_("Rework"),
    CaseStatus.SUSPENDED: N_("Suspended"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.CANCELLED: N_("Cancelled"),
}
ACTION_LABELS: dict[str, str] = {
    CaseAction.FILE: N_("File the case"),
    CaseAction.NOT_FILE: N_("Do not file"),
    CaseAction.DISPATCH: N_("Dispatch"),
    CaseAction.ACCEPT: N_("Accept"),
    CaseAction.RETURN: N_("Return"),
    CaseAction.HANDLE: N_("Report handling"),
    CaseAction.VERIFY_PASS: N_("Verification passed"),
    CaseAction.VERIFY_FAIL: N_("Verification failed"),
    CaseAction.REQUEST_POSTPONEMENT: N_("Request postponement"),
    CaseAction.APPROVE_POSTPONEMENT: N_("Approve postponement"),
    CaseAction.REFUSE_POSTPONEMENT: N_("Refuse postponement"),
    CaseAction.REQUEST_SUSPENSION: N_("Request suspension"),
    CaseAction.APPROVE_SUSPENSION: N_("Approve suspension"),
    CaseAction.REFUSE_SUSPENSION: N_("Refuse suspension"),
    CaseAction.RESUME: N_("Resume"),
    CaseAction.CANCEL: N_("Cancel the case"),
    CaseAction.REOPEN: N_("Reopen"),
    CaseAction.REQUEST_RETURN: N_("Request a return"),
    CaseAction.APPROVE_RETURN: N_("Approve the return"),
    CaseAction.REFUSE_RETURN: N_("Refuse the return"),
    CaseAction.CALLBACK_CLOSE: N_("Closed after the callback"),
    CaseAction.CALLBACK_REWORK: N_("Rework after the callback"),
    # History rows that are not lifecycle actions.
    "report": N_("Reported"),
    "merge": N_("Merged into another case"),
    "merge_in": N_("A duplicate was merged in"),
    "split": N_("Split out again"),
    "split_out": N_("A merged case was split out"),
    "component_confirm": N_("Component confirmed"),
    "component_change": N_("Component changed"),
    "component_not_in_inventory": N_("Component not in the inventory"),
    "recategorise": N_("Category changed"),  # events.suggestions.service.recategorise
    # dispatch.summons.service (吹哨报到)
    "summons": N_("Units summoned"),
    "summons_report": N_("A summoned unit reported in"),
    "summons_answer": N_("A summoned unit answered"),
    # sensing.alarms (devices): notes for the verifier that do not move the case
    "sensor_recovery": N_("Device reported recovery"),
    "sensor_online": N_("Device back online"),
}
ROLE_LABELS: dict[str, str] = {
    Role.INSPECTOR: N_("Inspector"),
    Role.CITIZEN: N_("Citizen"),
    Role.DISPATCHER: N_("Dispatcher"),
    Role.DEPARTMENT: N_("Department"),
    Role.MANAGER: N_("Manager"),
    Role.ADMIN: N_("Administrator"),
    "sensing": N_("Sensing system"),  # a device or camera's verdict, no person (sensing/)
}
URGENCY_LABELS = {"normal": N_("Normal"), "urgent": N_("Urgent")}
LIGHT_LABELS = {"green": N_("On time"), "yellow": N_("Due soon"), "red": N_("Overdue")}
# Actions whose form asks for photos (uploaded first, then named in photo_ids).
PHOTO_ACTIONS = frozenset({CaseAction.HANDLE, CaseAction.VERIFY_PASS, CaseAction.VERIFY_FAIL})
HOURS_ACTIONS = frozenset({CaseAction.REQUEST_POSTPONEMENT, CaseAction.APPROVE_POSTPONEMENT})
JS_MESSAGES = {
    "case.done": N_("Done. The page is being reloaded."),
    "case.sending": N_("Sending…"),
    "case.uploading": N_("Uploading photos…"),
    "case.components": N_("Components nearby: {count}"),
    "case.here": N_("Reported location"),
    "case.cell": N_("Grid cell"),
    "error.field.action": N_("This action is not possible now: the case has changed. Reload."),
    "error.field.department_code": N_("Choose an active department."),
    "error.field.hours": N_("Give the number of working hours."),
    # Without these the page would add the API's English detail to a general message.
    "error.field.photo_ids": N_("A photo could not be attached: try again."),
    "error.field.case_id": N_("This case no longer exists: reload the page."),
}


@dataclass(frozen=True)
class CellPlace:
    """Where a case is: its cell with the community and street, and the cell's outline."""

    code: str
    name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    outline: dict[str, Any]  # GeoJSON geometry


@dataclass(frozen=True)
class ActionForm:
    """One action the caller may take, and the fields its form asks for."""

    action: str
    label: str
    reason_required: bool
    asks_department: bool
    asks_hours: bool
    asks_photos: bool


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    action: str
    actor: str | None
    actor_role: str | None
    from_status: str | None
    to_status: str
    reason: str | None
    merged_case_id: int | None
    photo_ids: list[int]


CELL_SQL = text(
    "SELECT c.code, c.name, m.code AS community_code, m.name AS community_name, "
    "s.code AS street_code, s.name AS street_name, "
    "ST_AsGeoJSON(c.geom, 6)::json AS outline "
    "FROM grid_cell c JOIN grid_region m ON m.id = c.community_id "
    "JOIN grid_region s ON s.id = m.parent_id WHERE c.id = :cell_id"
)
POINT_SQL = text("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM event_case WHERE id = :id")


def cell_place(session: Session, cell_id: int) -> CellPlace:
    """The cell with its community, street and outline."""
    row = session.execute(CELL_SQL, {"cell_id": cell_id}).mappings().one()
    return CellPlace(**row)


def case_point(session: Session, case_id: int) -> tuple[float, float]:
    """The reported location (lon, lat)."""
    row = session.execute(POINT_SQL, {"id": case_id}).one()
    return float(row.lon), float(row.lat)


def actor_names(session: Session, rows: Sequence[HistoryRow]) -> dict[int, str]:
    """Display names of the people in the history."""
    ids = {row.actor_id for row in rows if row.actor_id is not None}
    if not ids:
        return {}
    found = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in found}


def timeline(
    rows: Sequence[HistoryRow], names: dict[int, str], *, show_names: bool
) -> list[TimelineEntry]:
    """The history rows as the page shows them (newest last); names only for staff viewers."""
    return [
        TimelineEntry(
            at=row.at,
            action=row.action,
            actor=names.get(row.actor_id) if show_names and row.actor_id is not None else None,
            actor_role=row.actor_role,
            from_status=row.from_status.value if row.from_status else None,
            to_status=row.to_status.value,
            reason=row.reason,
            merged_case_id=row.case_id if row.merged_case else None,
            photo_ids=[int(i) for i in row.details.get("photo_ids", [])],
        )
        for row in rows
    ]


def action_forms(actions: Sequence[CaseAction], status: CaseStatus) -> list[ActionForm]:
    """The forms of the caller's allowed actions; a reassign (dispatching a dispatched case)
    needs a reason like the actions whose rule says so."""
    return [
        ActionForm(
            action=action.value,
            label=ACTION_LABELS[action],
            reason_required=RULES[action].needs_reason
            or (action is CaseAction.DISPATCH and status is CaseStatus.DISPATCHED),
            asks_department=action is CaseAction.DISPATCH,
            asks_hours=action in HOURS_ACTIONS,
            asks_photos=action in PHOTO_ACTIONS,
        )
        for action in actions
    ]


def active_departments(session: Session) -> list[Department]:
    """The departments a case may be dispatched to, by code."""
    return list(
        session.scalars(select(Department).where(Department.is_active).order_by(Department.code))
    )


def map_data(
    session: Session, detail: CaseDetail, place: CellPlace, principal: Principal
) -> dict[str, Any]:
    """What the page's script draws: the point, the cell outline, and where nearby components
    come from (staff only: the inventory is not public)."""
    lon, lat = case_point(session, detail.id)
    components = COMPONENTS_URL if principal.role in STAFF_ROLES else None
    return {"point": [lon, lat], "cell": place.outline, "components_url": components}


def case_context(
    session: Session, detail: CaseDetail, history: list[HistoryRow], principal: Principal
) -> dict[str, Any]:
    """The page's context, apart from the language."""
    category = session.get(Category, detail.category_id)
    assert category is not None  # a foreign key
    place = cell_place(session, detail.cell_id)
    department = session.get(Department, detail.department_id) if detail.department_id else None
    show_names = principal.role in NAMES_SHOWN_TO
    return {
        "case": detail,
        "category": category,
        "place": place,
        "department": department,
        "entries": timeline(history, actor_names(session, history), show_names=show_names),
        "forms": action_forms(detail.allowed_actions, detail.status),
        "departments": active_departments(session)
        if CaseAction.DISPATCH in detail.allowed_actions
        else [],
        "map_data": map_data(session, detail, place, principal),
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: BigRowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    workflow: CaseWorkflowDep,
    principal: CaseReader,
) -> HTMLResponse:
    """The case as the caller may see it (403 for a case that is not theirs to read), with the
    forms of the actions the caller may take now."""
    now, window = datetime.now(UTC), timedelta(days=settings.reopen_window_days)
    detail = case_service.case_detail(session, case_id, principal, now, window, workflow)
    history = case_service.case_history(session, case_id, principal)
    context = case_context(session, detail, history, principal)
    language = page_language(request)
    shared = shared_category_names(session)
    context |= {
        "category_label": category_label(context["category"], language, shared_names=shared),
        "describe_routing": routing_describer(gettext_for(request), language=language),
        "with_code": partial(with_code, language=language),
        "now": now,
        "status_labels": STATUS_LABELS,
        "action_labels": ACTION_LABELS,
        "role_labels": ROLE_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "light_labels": LIGHT_LABELS,
        "js_messages": JS_MESSAGES,
        "recurrence": recurrence_links(session, detail.id, principal),
        "category_hints": case_hints(session, detail.id, principal, language),
    }
    return render(request, "events/case.html", context, principal=principal)
