"""The case list page (`/cases`) and what every work list page shares: the search box and
filters read from the URL, keyset paging links, and the choices the filter selects offer.

A list page is a GET form: the search, filters and sort live in the query string, so a list
can be bookmarked, shared and reloaded, and each dashboard tile links to the list behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import RowMapping, select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal, Role
from citygrid.db import ReadSessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, page_language, render
from events.cases import pages as case_page
from events.categories.labels import category_label, shared_category_names
from events.lifecycle import CaseStatus
from events.listing.params import (
    PAGE_SIZE_DEFAULT,
    AfterParam,
    SortParam,
    case_filters_from_texts,
    parse_sort,
)
from events.listing.schemas import CaseFilters, CaseListItem, CasePage, CaseSort
from events.listing.service import list_cases
from events.models import Category
from grid.models import GridRegion

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

LIST_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.DEPARTMENT)
# The sorts a list page offers, in the order of its select.
SORT_LABELS: dict[str, str] = {
    CaseSort.CREATED_AT_DESC.value: N_("Newest first"),
    CaseSort.URGENCY.value: N_("Urgent first"),
    CaseSort.DUE_AT.value: N_("Nearest deadline first"),
    CaseSort.CREATED_AT.value: N_("Oldest first"),
}
CHANNEL_LABELS: dict[str, str] = {
    "app": N_("Inspector app"),
    "open311": N_("Open311"),
    "hotline": N_("12345 hotline"),
    "demo": N_("Demo history"),
}
URGENCIES = ("normal", "urgent")
LIGHTS = ("red", "yellow", "green")
# The query parameters a list page keeps in its links (the filters, the search and the sort).
LIST_PARAMETERS = (
    "q",
    "status",
    "category_code",
    "area_code",
    "department_code",
    "urgency",
    "light",
    "channel",
    "created_from",
    "created_to",
    "filed_from",
    "filed_to",
    "dispatched_from",
    "dispatched_to",
    "closed_from",
    "closed_to",
    "overdue",
    "sort",
)


@dataclass(frozen=True)
class Paging:
    """Links of a keyset-paged list: the first page, and the next one when there is one."""

    total: int
    shown: int
    first_url: str | None  # None on the first page
    next_url: str | None


def kept_parameters(request: Request) -> dict[str, str]:
    """The list's filters, search and sort from the URL, blank ones left out (a form sends its
    empty selects); of two area codes (street and community selects) the narrower one."""
    kept: dict[str, str] = {}
    for name in LIST_PARAMETERS:
        given = [value.strip() for value in request.query_params.getlist(name) if value.strip()]
        if given:
            kept[name] = max(given, key=len) if name == "area_code" else given[-1]
    return kept


def _city_day(value: str | None, zone: ZoneInfo, *, next_day: bool = False) -> str | None:
    """A date picked in a form (YYYY-MM-DD) as the start of that day in the city (or of the day
    after, for an inclusive end); a full date-time goes through as given."""
    if value is None or len(value) != len("2026-12-06"):
        return value
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value  # the listing's parser names the field
    start = datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tzinfo=zone)
    return start.isoformat()


async def page_filters(request: Request, settings: SettingsDep) -> CaseFilters:
    """The listing filters of a list page's URL: blanks ignored, picked dates in city days,
    checked by the same parser as the API's."""
    kept = kept_parameters(request)
    for name, allowed in (("urgency", URGENCIES), ("light", LIGHTS)):
        if name in kept and kept[name] not in allowed:
            raise InvalidInput(f"{name} must be one of: {', '.join(allowed)}", field=name)
    zone = settings.city_zone
    return await case_filters_from_texts(
        status=kept.get("status"),
        category_code=kept.get("category_code"),
        urgency=kept.get("urgency"),  # checked above
        area_code=kept.get("area_code"),
        department_code=kept.get("department_code"),
        created_from=_city_day(kept.get("created_from"), zone),
        created_to=_city_day(kept.get("created_to"), zone, next_day=True),
        filed_from=_city_day(kept.get("filed_from"), zone),
        filed_to=_city_day(kept.get("filed_to"), zone, next_day=True),
        dispatched_from=_city_day(kept.get("dispatched_from"), zone),
        dispatched_to=_city_day(kept.get("dispatched_to"), zone, next_day=True),
        closed_from=_city_day(kept.get("closed_from"), zone),
        closed_to=_city_day(kept.get("closed_to"), zone, next_day=True),
        overdue=kept.get("overdue") == "true" if "overdue" in kept else None,
        q=kept.get("q"),
        light=kept.get("light"),  # checked above
        channel=kept.get("channel"),
    )


PageFilters = Annotated[CaseFilters, Depends(page_filters)]


def paging_links(request: Request, page: CasePage, *, on_first_page: bool) -> Paging:
    kept = kept_parameters(request)
    base = request.url.path
    first = f"{base}?{urlencode(kept)}" if kept else base
    following = (
        f"{base}?{urlencode({**kept, 'after': page.next_cursor})}" if page.next_cursor else None
    )
    return Paging(
        total=page.total,
        shown=len(page.items),
        first_url=None if on_first_page else first,
        next_url=following,
    )


def _region_choices(session: Session, level: str, prefix: str | None) -> list[RowMapping]:
    query = select(GridRegion.code, GridRegion.name).where(GridRegion.level == level)
    if prefix is not None:
        query = query.where(GridRegion.code.startswith(prefix, autoescape=True))
    return list(session.execute(query.order_by(GridRegion.code)).mappings())


def filter_choices(session: Session, language: str, area_code: str | None) -> dict[str, Any]:
    """What the filter selects offer: categories in use (labelled so two of the same name differ),
    streets, the chosen street's communities, active departments, statuses, channels."""
    shared = shared_category_names(session)
    categories = session.scalars(
        select(Category)
        .where(Category.retired_at.is_(None), Category.level == "minor")
        .order_by(Category.kind, Category.code)
    ).all()
    street = area_code[:9] if area_code and len(area_code) >= 9 else None
    departments = session.execute(
        select(Department.code, Department.name)
        .where(Department.is_active)
        .order_by(Department.name, Department.code)
    ).mappings()
    return {
        "categories": [
            (category.code, category_label(category, language, shared_names=shared))
            for category in categories
        ],
        "streets": _region_choices(session, "street", None),
        "communities": _region_choices(session, "community", street) if street else [],
        "departments": list(departments),
        "statuses": case_page.STATUS_LABELS,
        "urgencies": case_page.URGENCY_LABELS,
        "lights": case_page.LIGHT_LABELS,
        "channels": CHANNEL_LABELS,
        "sorts": SORT_LABELS,
    }


def list_rows(items: list[CaseListItem], zone: ZoneInfo, language: str) -> list[dict[str, Any]]:
    """A page's cases with their times in city time and their category in the page's language."""
    return [
        {
            "item": item,
            "category": item.category_name_en if language == "en" else item.category_name_zh,
            "created": local_time(item.created_at, zone),
            "due": local_time(item.due_at, zone),
        }
        for item in items
    ]


@router.get("/cases", response_class=HTMLResponse)
def case_list_page(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*LIST_ROLES))],
    filters: PageFilters,
    sort: SortParam = CaseSort.CREATED_AT_DESC,
    after: AfterParam = None,
) -> HTMLResponse:
    """Every case the user may see, searched and filtered, newest first, a page at a time."""
    language = page_language(request)
    page = list_cases(
        session,
        principal,
        filters,
        sort=parse_sort(sort),
        page_size=PAGE_SIZE_DEFAULT,
        after=after,
    )
    context = {
        "rows": list_rows(page.items, settings.city_zone, language),
        "paging": paging_links(request, page, on_first_page=after is None),
        "values": kept_parameters(request),
        "choices": filter_choices(session, language, filters.area_code),
        "sort": sort,
        "status_labels": case_page.STATUS_LABELS,
        "light_labels": case_page.LIGHT_LABELS,
        "export_query": urlencode(
            {key: value for key, value in kept_parameters(request).items() if key != "sort"}
        ),
        "statuses": [status.value for status in CaseStatus],
    }
    return render(request, "events/case_list.html", context, principal=principal)
