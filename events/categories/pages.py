"""`/admin/categories`: the administrators' page of categories. Search and page through them,
rename them, change their time limits and duplicate radius, retire and restore them.

The page reads with the category service; its script (events/static/admin_forms.js) changes
categories through the JSON API (`/api/categories`, audited by events.categories.admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import PAGE_MAX
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, render
from events.categories import service
from events.categories.labels import shared_category_names
from events.categories.service import CategoryFilter
from events.taxonomy import Kind, Level

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]

PAGE_SIZE = 50
KIND_LABELS = {Kind.EVENT.value: N_("Event"), Kind.COMPONENT.value: N_("Component")}
LEVEL_LABELS = {Level.MAJOR.value: N_("Major category"), Level.MINOR.value: N_("Minor category")}
# What the page's forms say (citygrid/static/admin.js), besides citygrid.js's common messages.
ADMIN_FORM_MESSAGES = {
    "done.saved": N_("Saved."),
    "error.forbidden": N_("You may not do this."),
    "error.gone": N_("It no longer exists: reload the page."),
}
CATEGORY_MESSAGES = {
    **ADMIN_FORM_MESSAGES,
    "error.field.name_zh": N_("Give a name (at most 200 characters)."),
    "error.field.name_en": N_("Give a name (at most 200 characters)."),
}


@router.get("/admin/categories", response_class=HTMLResponse)
def categories_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    q: Annotated[str | None, Query(max_length=200)] = None,
    kind: Kind | None = None,
    retired: bool = False,
    page: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1,
) -> HTMLResponse:
    """Categories by kind, standard and code, 50 a page, each with its change form."""
    where = CategoryFilter(q=q or None, kind=kind, include_retired=retired)
    found = service.search_categories(session, where, page=page, page_size=PAGE_SIZE)
    filters = {"q": q or "", "kind": kind.value if kind else "", "retired": retired}
    context: dict[str, Any] = {
        "categories": found,
        "page_count": max(1, -(-found.total // PAGE_SIZE)),
        "filters": filters,
        "query": {key: value for key, value in filters.items() if value},
        "shared_names": shared_category_names(session),
        "department_types": service.department_types(session),
        "kind_labels": KIND_LABELS,
        "level_labels": LEVEL_LABELS,
        "hours": number_text,
        "hours_value": lambda value: "" if value is None else f"{value:g}",
        "city_time": lambda moment: local_time(moment, settings.city_zone),
        "js_messages": CATEGORY_MESSAGES,
    }
    return render(request, "events/admin_categories.html", context, principal=principal)


def number_text(value: float | None) -> str:
    """A limit as people write it (4, 0.5), a dash for none."""
    return "–" if value is None else f"{value:g}"
