"""Map pages (/maps/…), their table views and CSV downloads, and the map assets served offline.

The page builders (`heatmap_html`, `choropleth_html`, `hotspots_html`) take a session and plain
options; the routes and `citygrid maps export` both call them.
"""

from __future__ import annotations

import csv
import html
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PUBLIC, Allow, Role, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput, NotFound
from citygrid.served_files import file_inside
from citygrid.settings import Settings, SettingsDep
from components import queries as component_queries
from components.query_schemas import MapComponent
from grid.service import grid_revision
from maps import render
from maps import service as map_service
from maps.filters import FiltersDep
from maps.schemas import CaseMarker, CellHotspot, HotspotClass, MapFilters, Metric, Unit, UnitValue

# Defaults of the settings map_tiles_url, map_markers_cap, map_cells_drawn_max (for callers
# without settings, e.g. the benchmark).
MAP_TILES_URL: str | None = None  # None: district, street and community outlines are the base
MAP_MARKERS_CAP = 2_000
MAP_CELLS_DRAWN_MAX = 3_000  # ~300 bytes a cell polygon: with the base, a page stays < 2 MB
OUTLINES_SIMPLIFY_M = 20.0
CELLS_SIMPLIFY_M = 2.0
TABLE_ROWS_MAX = 1_000
OUTLINES_CACHED = 32  # (grid revision, area) pairs
METRIC_LABELS = {
    Metric.REPORTS: "Reports",
    Metric.REPORTS_PER_KM2: "Reports per km²",
    Metric.OPEN_BACKLOG: "Open backlog",
    Metric.OVERDUE: "Overdue cases",
    Metric.ON_TIME_RATE: "On-time handling rate",
}
COARSER_UNIT = {Unit.CELL: Unit.COMMUNITY, Unit.COMMUNITY: Unit.STREET}
UNIT_PLURALS = {Unit.CELL: "cells", Unit.COMMUNITY: "communities", Unit.STREET: "streets"}

router = APIRouter(tags=["maps"], route_class=RoleCheckedRoute)


@dataclass(frozen=True)
class MapLimits:
    """How a page draws: the base tiles (None: outlines), marker cap, cell polygons drawn."""

    tiles_url: str | None = MAP_TILES_URL
    markers_cap: int = MAP_MARKERS_CAP
    cells_drawn_max: int = MAP_CELLS_DRAWN_MAX


def map_limits(settings: Settings) -> MapLimits:
    """The limits from the settings, or this module's defaults for settings not (yet) there."""
    return MapLimits(
        tiles_url=settings.map_tiles_url,
        markers_cap=settings.map_markers_cap,
        cells_drawn_max=settings.map_cells_drawn_max,
    )


MAP_VIEWERS = Depends(Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN))


@dataclass(frozen=True)
class ChoroplethOptions:
    """What a choropleth shows: the metric, the unit, and how values are classed."""

    metric: Metric = Metric.REPORTS
    unit: Unit = Unit.CELL
    scheme: str = "quantiles"
    classes: int = 5
    bounds: tuple[float, ...] = ()


def choropleth_options(
    metric: Metric = Metric.REPORTS,
    unit: Unit = Unit.CELL,
    scheme: Annotated[str, Query(description="quantiles, natural_breaks or user")] = "quantiles",
    classes: Annotated[int, Query(ge=2, le=9)] = 5,
    bounds: Annotated[str | None, Query(description="User-set upper bounds: 1,5,10")] = None,
) -> ChoroplethOptions:
    """The choropleth options from the query string."""
    if scheme not in render.SCHEMES:
        raise InvalidInput(f"scheme is one of {', '.join(render.SCHEMES)}", field="scheme")
    return ChoroplethOptions(metric, unit, scheme, classes, parse_bounds(bounds, scheme))


def parse_bounds(bounds: str | None, scheme: str) -> tuple[float, ...]:
    """User-set class bounds from "1,5,10"; required (and only allowed) with scheme=user."""
    if scheme != "user":
        return ()
    try:
        parsed = tuple(sorted(float(part) for part in (bounds or "").split(",") if part.strip()))
    except ValueError as error:
        raise InvalidInput("bounds are numbers separated by commas", field="bounds") from error
    if not parsed:
        raise InvalidInput("scheme=user needs bounds, e.g. bounds=1,5,10", field="bounds")
    return parsed


OptionsDep = Annotated[ChoroplethOptions, Depends(choropleth_options)]
ComponentsQuery = Annotated[
    bool | None,
    Query(
        description="1: draw the component layer (up to map_markers_cap components); 0: never; "
        "default: when an area is chosen and it has at most that many."
    ),
]
ConfidenceQuery = Annotated[float, Query(description="0.90, 0.95 or 0.99")]


def describe(filters: MapFilters) -> str:
    """The filters in words, for the page header."""
    parts = [f"{filters.period_from:%Y-%m-%d %H:%M} – {filters.period_to:%Y-%m-%d %H:%M}"]
    for label, value in (
        ("category", filters.category),
        ("status", ", ".join(filters.status or []) or None),
        ("urgency", filters.urgency),
        ("department", filters.department_code),
        ("area", filters.area_code),
    ):
        if value:
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def page_links(layer: str, query: str | None) -> list[tuple[str, str]]:
    """Links from a map page to its table view and CSV, keeping the query string (None: a
    standalone file, which has no application to link to)."""
    if query is None:
        return []
    suffix = f"?{query}" if query else ""
    return [("Table view", f"/maps/{layer}/table{suffix}"), ("CSV", f"/maps/{layer}/csv{suffix}")]


_outlines_cache: dict[tuple[str, str | None], tuple[dict[str, Any], list[str]]] = {}
_outlines_lock = threading.Lock()


def base_layer(
    session: Session, filters: MapFilters, limits: MapLimits, notices: list[str]
) -> render.BaseLayer:
    """Tiles when configured, else the outlines of the area's districts, streets, communities
    (the finer levels left out, with a notice, when the area has too many of them)."""
    if limits.tiles_url:
        return render.BaseLayer(limits.tiles_url)
    outlines, dropped = area_outlines(session, filters)
    if dropped:
        notices.append(
            f"Base map: {' and '.join(dropped)} outlines left out "
            "(too many to draw for this area); choose a smaller area to see them."
        )
    return render.BaseLayer(None, outlines)


def area_outlines(session: Session, filters: MapFilters) -> tuple[dict[str, Any], list[str]]:
    """The area's trimmed base outlines and the levels left out; cached per grid revision, as
    they change only with the grid (building them takes about 0.5 s for a whole city)."""
    key = (grid_revision(session), filters.area_code)
    with _outlines_lock:
        cached = _outlines_cache.get(key)
    if cached is not None:
        return cached
    outlines = map_service.outlines_base(session, filters, simplify_m=OUTLINES_SIMPLIFY_M)
    trimmed = render.trimmed_outlines(outlines)
    with _outlines_lock:
        while len(_outlines_cache) >= OUTLINES_CACHED:
            _outlines_cache.pop(next(iter(_outlines_cache)))
        _outlines_cache[key] = trimmed
    return trimmed


def markers_and_notice(
    session: Session, filters: MapFilters, limits: MapLimits, *, known_total: int | None = None
) -> tuple[list[CaseMarker], list[str]]:
    """The case markers when few enough, else none and a notice saying why. A `known_total`
    over the cap (the heatmap sums its cells) saves counting the cases again."""
    markers: list[CaseMarker] = []
    if known_total is not None and known_total > limits.markers_cap:
        total = known_total
    else:
        total, markers = map_service.case_markers(session, filters, cap=limits.markers_cap)
    if total <= limits.markers_cap:
        return markers, []
    return [], [
        f"{total:,} cases match: more than the {limits.markers_cap:,} shown as markers, so "
        "only the aggregate layers are drawn. Narrow the filters to see individual cases."
    ]


def component_layer(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    notices: list[str],
    *,
    wanted: bool | None,
) -> list[MapComponent]:
    """The area's components (of the filtered category) when there are at most the marker cap
    of them, and either they are asked for (`wanted`) or, by default, the page has an area
    filter; none, with a notice, when there are more (never more than the cap)."""
    if wanted is False or (wanted is None and filters.area_code is None):
        return []
    area = component_queries.MapArea(
        filters.area_code, filters.category, filters.period_from, filters.period_to
    )
    total, components = component_queries.components_on_map(session, area, cap=limits.markers_cap)
    if total > limits.markers_cap:
        counted = f"{total:,}{'+' if total >= component_queries.COUNT_CAP else ''}"
        notices.append(
            f"{counted} components in this area: more than the {limits.markers_cap:,} a map "
            "draws, so the component layer is left out. Choose a smaller area (area=…) or a "
            "component category to see them."
        )
    return components


def heatmap_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The heatmap page of the filtered reports, with case markers and components under the
    cap (`components`: True to ask for them, False for none, None: with an area filter)."""
    points = map_service.heat_points(session, filters)
    total = round(sum(weight for _, _, weight in points))
    markers, notices = markers_and_notice(session, filters, limits, known_total=total)
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    header = render.PageHeader(
        "Heatmap of reports", describe(filters), notices, page_links("heatmap", query)
    )
    return render.heatmap_page(points, base=base, header=header, markers=markers, components=drawn)


def unit_counts(session: Session, filters: MapFilters) -> dict[Unit, int]:
    """How many cells, communities and streets the filtered area has (one scan of its cells)."""
    area = map_service.cell_condition(filters)
    row = session.execute(
        text(
            "SELECT count(*) AS cells, count(DISTINCT c.community_id) AS communities, "
            "count(DISTINCT m.parent_id) AS streets "
            f"FROM grid_cell c JOIN grid_region m ON m.id = c.community_id WHERE {area.sql}"
        ),
        area.params,
    ).one()
    return {Unit.CELL: row.cells, Unit.COMMUNITY: row.communities, Unit.STREET: row.streets}


def drawable_unit(
    session: Session, unit: Unit, filters: MapFilters, limits: MapLimits
) -> tuple[Unit, list[str]]:
    """The asked unit, or a coarser one when the area has too many to draw; and why."""
    counts = unit_counts(session, filters)
    notices: list[str] = []
    while counts[unit] > limits.cells_drawn_max and unit in COARSER_UNIT:
        coarser = COARSER_UNIT[unit]
        notices.append(
            f"The area has {counts[unit]:,} {UNIT_PLURALS[unit]}, more than the "
            f"{limits.cells_drawn_max:,} a page draws: showing {UNIT_PLURALS[coarser]}. "
            f"Choose a smaller area (area=…) to see {UNIT_PLURALS[unit]}."
        )
        unit = coarser
    return unit, notices


def choropleth_breaks(
    values: Sequence[UnitValue], options: ChoroplethOptions
) -> render.ClassBreaks:
    """Class breaks over the defined values, user-set bounds checked."""
    defined = [unit.value for unit in values if unit.value is not None]
    try:
        return render.class_breaks(
            defined, scheme=options.scheme, k=options.classes, user_bounds=options.bounds
        )
    except ValueError as error:
        raise InvalidInput(str(error), field="bounds") from error


def choropleth_html(
    session: Session,
    filters: MapFilters,
    options: ChoroplethOptions,
    limits: MapLimits,
    *,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The choropleth page: units by the metric's class, legend, tooltips, markers and
    components under the cap (`components` as for `heatmap_html`)."""
    map_service.check_area(session, filters)
    unit, notices = drawable_unit(session, options.unit, filters, limits)
    values = map_service.unit_values(session, unit, options.metric, filters)
    outlines = map_service.unit_outlines(session, unit, filters, simplify_m=CELLS_SIMPLIFY_M)
    markers, marker_notices = markers_and_notice(session, filters, limits)
    notices += marker_notices
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    label = METRIC_LABELS[options.metric]
    header = render.PageHeader(
        f"{label} by {unit}", describe(filters), notices,
        page_links("choropleth", query),
    )  # fmt: skip
    return render.choropleth_page(
        outlines,
        values,
        choropleth_breaks(values, options),
        metric_label=label,
        base=base,
        header=header,
        markers=markers,
        components=drawn,
    )


def drawn_hotspot_cells(
    cells: Sequence[CellHotspot], cells_drawn_max: int
) -> tuple[list[CellHotspot], list[str]]:
    """All cells when few enough; else the significant ones, strongest |z| first, up to the cap."""
    if len(cells) <= cells_drawn_max:
        return list(cells), []
    significant = [cell for cell in cells if cell.hotspot_class is not HotspotClass.NS]
    significant.sort(key=lambda cell: abs(cell.z), reverse=True)
    notice = (
        f"The area has {len(cells):,} cells, more than the {cells_drawn_max:,} a page draws: "
        "only hot and cold spots are drawn"
    )
    if len(significant) > cells_drawn_max:
        notice += f" (the {cells_drawn_max:,} strongest of {len(significant):,})"
    return significant[:cells_drawn_max], [notice + ". The table view lists every cell."]


def cell_geometries(
    session: Session, cell_ids: Sequence[int], *, simplify_m: float
) -> dict[int, dict[str, Any]]:
    """GeoJSON geometry of each given cell, simplified, coordinates rounded to about 1 m."""
    rows = session.execute(
        text(
            "SELECT id, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tolerance), "
            f"{render.COORDINATE_DECIMALS})::json AS geometry "
            "FROM grid_cell WHERE id = ANY(:ids)"
        ),
        {"ids": list(cell_ids), "tolerance": simplify_m / map_service.METRES_PER_DEGREE},
    )
    return {row.id: row.geometry for row in rows}


def hotspots_html(
    session: Session,
    filters: MapFilters,
    limits: MapLimits,
    *,
    confidence: float = 0.95,
    query: str | None = "",
    components: bool | None = None,
) -> str:
    """The hotspot page: Gi* classes per cell with z, p and trend in each tooltip; components
    under the cap (`components` as for `heatmap_html`)."""
    result = map_service.hotspots(session, filters, confidence=confidence)
    cells, notices = drawn_hotspot_cells(result.cells, limits.cells_drawn_max)
    if result.message:
        notices.insert(0, result.message)
    geometries = cell_geometries(
        session, [cell.cell_id for cell in cells], simplify_m=CELLS_SIMPLIFY_M
    )
    drawn = component_layer(session, filters, limits, notices, wanted=components)
    base = base_layer(session, filters, limits, notices)
    timings = result.timings
    description = (
        f"{describe(filters)} · {result.weights_kind} weights"
        f"{' (cached)' if timings.weights_cached else ''} · "
        f"confidence ≥ {confidence:.0%}{', FDR-corrected' if result.fdr else ''}"
    )
    header = render.PageHeader(
        "Hot spots (Getis-Ord Gi*)", description, notices, page_links("hotspots", query)
    )
    return render.hotspots_page(cells, geometries, base=base, header=header, components=drawn)


@router.get("/maps/heatmap", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def heatmap(
    request: Request,
    filters: FiltersDep,
    session: SessionDep,
    settings: SettingsDep,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Heatmap of reports weighted by per-cell counts; markers when few cases, components
    when few (or asked for)."""
    limits = map_limits(settings)
    page = heatmap_html(session, filters, limits, query=request.url.query, components=components)
    return HTMLResponse(page)


@router.get("/maps/choropleth", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def choropleth(
    request: Request,
    filters: FiltersDep,
    options: OptionsDep,
    session: SessionDep,
    settings: SettingsDep,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Cells, communities or streets coloured by a metric, with legend and tooltips."""
    limits = map_limits(settings)
    page = choropleth_html(
        session, filters, options, limits, query=request.url.query, components=components
    )
    return HTMLResponse(page)


@router.get("/maps/hotspots", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def hotspots(
    request: Request,
    filters: FiltersDep,
    session: SessionDep,
    settings: SettingsDep,
    confidence: ConfidenceQuery = 0.95,
    components: ComponentsQuery = None,
) -> HTMLResponse:
    """Statistically significant hot and cold spots, with their trend."""
    page = hotspots_html(
        session,
        filters,
        map_limits(settings),
        confidence=confidence,
        query=request.url.query,
        components=components,
    )
    return HTMLResponse(page)


@dataclass(frozen=True)
class Table:
    """A map's numbers: a title, column names and rows (already formatted for display)."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def value_table(title: str, label: str, values: Sequence[UnitValue]) -> Table:
    """Code, name and value of each unit."""
    rows = [[unit.code, unit.name, render.format_value(unit.value)] for unit in values]
    return Table(title, ["code", "name", label], rows)


def heatmap_table(session: Session, filters: MapFilters) -> Table:
    """The heatmap's numbers: reports per cell."""
    values = map_service.unit_values(session, Unit.CELL, Metric.REPORTS, filters)
    return value_table("Reports per cell", "reports", values)


def choropleth_table(session: Session, filters: MapFilters, options: ChoroplethOptions) -> Table:
    """The choropleth's numbers at the asked unit (all of them: a table has no drawing cap)."""
    values = map_service.unit_values(session, options.unit, options.metric, filters)
    label = METRIC_LABELS[options.metric]
    return value_table(f"{label} by {options.unit}", options.metric.value, values)


def hotspots_table(session: Session, filters: MapFilters, confidence: float) -> Table:
    """Every cell's Gi* numbers."""
    result = map_service.hotspots(session, filters, confidence=confidence)
    columns = ["code", "name", "reports", "previous_reports", "z", "p", "class", "trend"]
    rows = [
        [c.code, c.name, str(c.count), str(c.previous_count), f"{c.z:.3f}", f"{c.p:.5f}",
         c.hotspot_class.value, c.trend.value]
        for c in result.cells
    ]  # fmt: skip
    return Table("Hot spots (Getis-Ord Gi*)", columns, rows)


def table_html(table: Table, filters: MapFilters, *, page: int, links_html: str) -> str:
    """An accessible HTML table, TABLE_ROWS_MAX rows a page, with links to the map and CSV."""
    first = (page - 1) * TABLE_ROWS_MAX
    shown = table.rows[first : first + TABLE_ROWS_MAX]
    head = "".join(f'<th scope="col">{html.escape(name)}</th>' for name in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in shown
    )
    position = f"rows {first + 1:,}–{first + len(shown):,} of {len(table.rows):,}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(table.title)}</title></head><body>"
        f"<h1>{html.escape(table.title)}</h1><p>{html.escape(describe(filters))}</p>"
        f"<p>{position} · {links_html}</p><table><caption>{html.escape(table.title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )


def csv_response(table: Table, filename: str) -> Response:
    """The table as a UTF-8 CSV download (with a BOM, so spreadsheets read the names right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def table_response(
    table: Table, filters: MapFilters, request: Request, *, layer: str, page: int
) -> HTMLResponse:
    """The table view of one map page at `page`, linking the map, the CSV and its neighbours."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pages = max(1, -(-len(table.rows) // TABLE_ROWS_MAX))
    links = [
        f'<a href="/maps/{layer}?{html.escape(urlencode(query))}">Map</a>',
        f'<a href="/maps/{layer}/csv?{html.escape(urlencode(query))}">CSV</a>',
    ]
    for number in (page - 1, page + 1):
        if 1 <= number <= pages:
            target = urlencode([*query, ("page", str(number))])
            links.append(f'<a href="/maps/{layer}/table?{html.escape(target)}">page {number}</a>')
    return HTMLResponse(table_html(table, filters, page=page, links_html=" · ".join(links)))


PageQuery = Annotated[int, Query(ge=1, description="Table page (1000 rows each).")]


@router.get("/maps/heatmap/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def heatmap_table_view(
    request: Request, filters: FiltersDep, session: SessionDep, page: PageQuery = 1
) -> HTMLResponse:
    """The heatmap's numbers as an HTML table."""
    return table_response(
        heatmap_table(session, filters), filters, request, layer="heatmap", page=page
    )


@router.get("/maps/heatmap/csv", dependencies=[MAP_VIEWERS])
def heatmap_csv(filters: FiltersDep, session: SessionDep) -> Response:
    """The heatmap's numbers as CSV."""
    return csv_response(heatmap_table(session, filters), "heatmap.csv")


@router.get("/maps/choropleth/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def choropleth_table_view(
    request: Request,
    filters: FiltersDep,
    options: OptionsDep,
    session: SessionDep,
    page: PageQuery = 1,
) -> HTMLResponse:
    """The choropleth's numbers as an HTML table."""
    table = choropleth_table(session, filters, options)
    return table_response(table, filters, request, layer="choropleth", page=page)


@router.get("/maps/choropleth/csv", dependencies=[MAP_VIEWERS])
def choropleth_csv(filters: FiltersDep, options: OptionsDep, session: SessionDep) -> Response:
    """The choropleth's numbers as CSV."""
    return csv_response(choropleth_table(session, filters, options), "choropleth.csv")


@router.get("/maps/hotspots/table", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def hotspots_table_view(
    request: Request,
    filters: FiltersDep,
    session: SessionDep,
    confidence: ConfidenceQuery = 0.95,
    page: PageQuery = 1,
) -> HTMLResponse:
    """Every cell's Gi* numbers as an HTML table."""
    table = hotspots_table(session, filters, confidence)
    return table_response(table, filters, request, layer="hotspots", page=page)


@router.get("/maps/hotspots/csv", dependencies=[MAP_VIEWERS])
def hotspots_csv(
    filters: FiltersDep, session: SessionDep, confidence: ConfidenceQuery = 0.95
) -> Response:
    """Every cell's Gi* numbers as CSV."""
    return csv_response(hotspots_table(session, filters, confidence), "hotspots.csv")


@router.get("/maps/assets/{path:path}", dependencies=[Depends(PUBLIC)])
def asset(path: str) -> FileResponse:
    """A vendored Leaflet/plugin file (public: open-source code, no data)."""
    target = file_inside(render.ASSETS_DIR.resolve(), path)
    if target is None:
        raise NotFound(f"no map asset {path}", field="path")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})
