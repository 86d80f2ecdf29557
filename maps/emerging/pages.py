"""The emerging hot spot map (/maps/emerging), its table view and CSV: managers, dispatchers and
admins, in the reader's language, the window in the city's time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.api_types import CSV, answers
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import page_language
from maps.emerging import page, service
from maps.emerging.query import EmergingQueryDep
from maps.pages import tables
from maps.pages.service import map_limits

router = APIRouter(tags=["maps"], route_class=RoleCheckedRoute)

MAP_VIEWERS = Depends(Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN))
PageQuery = Annotated[int, Query(ge=1, description="Table page (1000 rows each).")]


@router.get("/maps/emerging", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def emerging_map(
    request: Request, query: EmergingQueryDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Emerging hot spots: each place's category over the weeks or months, with a legend."""
    built = page.emerging_html(
        session,
        query,
        map_limits(settings),
        url_query=request.url.query,
        language=page_language(request),
    )
    return HTMLResponse(built)


@router.get("/maps/emerging/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def emerging_table(
    request: Request,
    query: EmergingQueryDep,
    session: SessionDep,
    settings: SettingsDep,
    page_number: Annotated[int, Query(alias="page", ge=1, description="1000 rows a page.")] = 1,
) -> HTMLResponse:
    """Every place's category and numbers as an HTML table."""
    report = service.emerging_hot_spots(session, query.filters, query.options)
    return tables.table_response(
        page.html_table(report),
        query.filters,
        request,
        layer="emerging",
        page=page_number,
        language=page_language(request),
        zone=settings.city_zone,
    )


@router.get("/maps/emerging/csv", dependencies=[MAP_VIEWERS], **answers(CSV, description="CSV"))
def emerging_csv(query: EmergingQueryDep, session: SessionDep) -> Response:
    """Every place's category and numbers as CSV (category codes: new_hot, …)."""
    report = service.emerging_hot_spots(session, query.filters, query.options)
    return tables.csv_response(page.csv_table(report), "emerging_hotspots.csv")
