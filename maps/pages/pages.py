"""Map pages (/maps/…), their table views and CSV downloads, and the map assets served offline.

The pages are built by `maps.pages.service`, the tables by `maps.pages.tables`; the same
numbers as JSON are served by `maps.api.router`. Pages and tables speak the reader's language
(`citygrid.web.page_language`) and show times in the city's time zone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from citygrid.accounts.auth import PUBLIC, Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.api_types import CSV, FILE_TYPES, PAGE_MAX, answers
from citygrid.db import ReadSessionDep
from citygrid.errors import NotFound
from citygrid.served_files import file_inside
from citygrid.settings import Settings, SettingsDep
from citygrid.web import page_language
from maps.filters import ComponentsQuery, ConfidenceQuery, FiltersDep, OptionsDep
from maps.page_assets import ASSETS_DIR
from maps.pages import service, tables
from maps.schemas import MapFilters

router = APIRouter(tags=["maps"], route_class=RoleCheckedRoute)

MAP_VIEWERS = Depends(Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN))
CSV_TABLE = "The table as CSV (UTF-8 with a BOM, for spreadsheets)"
PageQuery = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Table page (1000 rows each).")]


@router.get("/maps/heatmap", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def heatmap(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Heatmap of reports weighted by per-cell counts; markers when few cases, components
    when few (or asked for)."""
    limits = service.map_limits(settings)
    page = service.heatmap_html(
        session,
        filters,
        limits,
        query=request.url.query,
        components=components,
        language=page_language(request),
    )
    return HTMLResponse(page)


@router.get("/maps/choropleth", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def choropleth(
    request: Request,
    filters: FiltersDep,
    options: OptionsDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Cells, communities or streets coloured by a metric, with legend and tooltips."""
    limits = service.map_limits(settings)
    page = service.choropleth_html(
        session,
        filters,
        options,
        limits,
        query=request.url.query,
        components=components,
        language=page_language(request),
    )
    return HTMLResponse(page)


@router.get("/maps/hotspots", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def hotspots(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    confidence: ConfidenceQuery = 0.95,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Statistically significant hot and cold spots, with their trend."""
    page = service.hotspots_html(
        session,
        filters,
        service.map_limits(settings),
        confidence=confidence,
        query=request.url.query,
        components=components,
        language=page_language(request),
    )
    return HTMLResponse(page)


@router.get("/maps/heatmap/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def heatmap_table_view(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PageQuery = 1,
) -> HTMLResponse:
    """The heatmap's numbers as an HTML table."""
    table = tables.heatmap_table(session, filters)
    return table_view(table, filters, request, settings, layer="heatmap", page=page)


@router.get("/maps/heatmap/csv", dependencies=[MAP_VIEWERS], **answers(CSV, description=CSV_TABLE))
def heatmap_csv(filters: FiltersDep, session: ReadSessionDep) -> Response:
    """The heatmap's numbers as CSV."""
    return tables.csv_response(tables.heatmap_table(session, filters), "heatmap.csv")


@router.get("/maps/choropleth/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def choropleth_table_view(
    request: Request,
    filters: FiltersDep,
    options: OptionsDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    page: PageQuery = 1,
) -> HTMLResponse:
    """The choropleth's numbers as an HTML table."""
    table = tables.choropleth_table(session, filters, options)
    return table_view(table, filters, request, settings, layer="choropleth", page=page)


@router.get(
    "/maps/choropleth/csv", dependencies=[MAP_VIEWERS], **answers(CSV, description=CSV_TABLE)
)
def choropleth_csv(filters: FiltersDep, options: OptionsDep, session: ReadSessionDep) -> Response:
    """The choropleth's numbers as CSV."""
    table = tables.choropleth_table(session, filters, options)
    return tables.csv_response(table, "choropleth.csv")


@router.get("/maps/hotspots/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def hotspots_table_view(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    confidence: ConfidenceQuery = 0.95,
    page: PageQuery = 1,
) -> HTMLResponse:
    """Every cell's Gi* numbers as an HTML table."""
    table = tables.hotspots_table(session, filters, confidence)
    return table_view(table, filters, request, settings, layer="hotspots", page=page)


def table_view(
    table: tables.Table,
    filters: MapFilters,
    request: Request,
    settings: Settings,
    *,
    layer: str,
    page: int,
) -> HTMLResponse:
    """The table page in the reader's language, its period in the city's time."""
    return tables.table_response(
        table,
        filters,
        request,
        layer=layer,
        page=page,
        language=page_language(request),
        zone=settings.city_zone,
    )


@router.get("/maps/hotspots/csv", dependencies=[MAP_VIEWERS], **answers(CSV, description=CSV_TABLE))
def hotspots_csv(
    filters: FiltersDep, session: ReadSessionDep, confidence: ConfidenceQuery = 0.95
) -> Response:
    """Every cell's Gi* numbers as CSV."""
    table = tables.hotspots_table(session, filters, confidence)
    return tables.csv_response(table, "hotspots.csv")


@router.get(
    "/maps/assets/{path:path}",
    dependencies=[Depends(PUBLIC)],
    **answers(*FILE_TYPES, description="The file"),
)
def asset(path: str) -> FileResponse:
    """A vendored Leaflet/plugin file (public: open-source code, no data)."""
    target = file_inside(ASSETS_DIR.resolve(), path)
    if target is None:
        raise NotFound(f"no map asset {path}", field="path")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})
