"""The command centre's dashboard: today's and this month's figures, the hot spots on a large
map, the most reported categories and streets, the other maps, evaluation, trend and exports.

One GET form holds the filters. The overview (`maps.dashboard.overview`: tiles for today and this
month against the period before, overdue and waiting cases now, top categories and streets) is
always about today and this month in the city's time zone and takes the other filters (category,
area, department, urgency); every tile links to the case list behind it. Everything else takes
the period too: the hot spots, drawn by the page itself on the vendored Leaflet from
`/dashboard/maps/hotspots.json`; the heatmap and the choropleth (embedded in frames from
`/dashboard/maps/<layer>`, the /maps/ pages allowed to be framed by this site); the evaluation
table (the period only: evaluation has no other filters), the trend of reports and closures, and
the export links. Invalid filters are shown beside their fields and replaced by their defaults,
so the page always renders. The filters are read by `maps.dashboard.filters`, the numbers by
`maps.dashboard.service`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from citygrid import middleware
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import ReadSessionDep
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, local_time, page_language, render
from dispatch.evaluation.grading import GroupKind
from maps.dashboard import overview, service
from maps.dashboard.filters import (
    FILTER_NAMES,
    GROUPINGS,
    DashboardFilters,
    ParsedFilters,
    export_links,
    map_frames,
    map_query,
    parse_filters,
)
from maps.dashboard.trend import trend_chart
from maps.filters import ConfidenceQuery, FiltersDep, OptionsDep
from maps.pages import service as map_pages
from maps.schemas import Metric, Unit

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

DASHBOARD_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
DashboardViewer = Annotated[Principal, Depends(Allow(*DASHBOARD_ROLES))]
MAP_VIEWERS = Depends(Allow(*DASHBOARD_ROLES))
# The map pages may be framed by this site only (the /maps/ pages themselves refuse framing).
FRAMED_MAP_HEADERS = {"X-Frame-Options": "SAMEORIGIN"}

GROUPING_LABELS = {
    GroupKind.DEPARTMENT: N_("Department"),
    GroupKind.DISTRICT: N_("District"),
    GroupKind.STREET: N_("Street"),
    GroupKind.COMMUNITY: N_("Community"),
}
METRIC_LABELS = {
    Metric.REPORTS: N_("Reports"),
    Metric.REPORTS_PER_KM2: N_("Reports per km²"),
    Metric.OPEN_BACKLOG: N_("Open backlog"),
    Metric.OVERDUE: N_("Overdue cases"),
    Metric.ON_TIME_RATE: N_("On-time handling rate"),
}
UNIT_LABELS = {
    Unit.CELL: N_("Cells"),
    Unit.COMMUNITY: N_("Communities"),
    Unit.STREET: N_("Streets"),
}
URGENCY_LABELS = {"": N_("Any urgency"), "normal": N_("Normal"), "urgent": N_("Urgent")}
FIELD_LABELS = {
    "dispatched": N_("Cases dispatched"),
    "returned": N_("Cases returned"),
    "due_to_handle": N_("Due to handle"),
    "handled": N_("Cases handled"),
    "handled_on_time": N_("Handled on time"),
    "overdue": N_("Overdue cases"),
    "reworked": N_("Cases reworked"),
    "postponements": N_("Postponements"),
    "handling_rate": N_("Handling rate"),
    "on_time_handling_rate": N_("On-time handling rate"),
    "return_rate": N_("Return rate"),
    "rework_rate": N_("Rework rate"),
    "closed_cases": N_("Cases closed by the department"),
    "recurred": N_("Closed cases that came back"),
    "recurrence_rate": N_("Recurrence rate"),
    "average_handling_hours": N_("Average handling hours"),
    "reported": N_("Cases reported"),
    "filed": N_("Cases filed"),
    "due_to_close": N_("Due to close"),
    "closed": N_("Cases closed"),
    "closed_on_time": N_("Closed on time"),
    "filing_rate": N_("Filing rate"),
    "closure_rate": N_("Closure rate"),
    "on_time_closure_rate": N_("On-time closure rate"),
    "area_km2": N_("Area (km²)"),
    "cases_per_km2": N_("Cases per km²"),
    "score": N_("Score"),
    "grade": N_("Grade"),
}
MAP_TITLES = {
    "heatmap": N_("Heatmap of reports"),
    "choropleth": N_("Choropleth"),
    "hotspots": N_("Hot spots"),
}


JS_MESSAGES = {
    "dashboard.map.loading": N_("Loading the hot spots…"),
    "dashboard.map.failed": N_("The map could not be loaded: check the network and reload."),
}


def overview_context(
    session: Session, filters: DashboardFilters, *, zone: ZoneInfo, language: str, now: datetime
) -> dict[str, Any]:
    """The overview's tiles (today, this month, now) and top lists, with their links."""
    comparisons = overview.comparisons(now, zone)
    windows = [window for c in comparisons for window in (c.current, c.previous)]
    counts = service.flow_counts(session, filters, zone, windows)
    links = overview.list_filters(
        category=filters.category,
        area=filters.area,
        department=filters.department,
        urgency=filters.urgency,
    )
    periods = [
        (overview.PERIOD_LABELS[c.name], c.current,
         overview.flow_tiles(c, counts[2 * i], counts[2 * i + 1], links))
        for i, c in enumerate(comparisons)
    ]  # fmt: skip
    before = overview.snapshot_before(now, zone)
    snapshot = service.snapshot(session, filters, zone, now=now, before=before)
    month = comparisons[1].current
    top = service.top_lists(session, filters, zone, month, language=language)

    def ranked(rows: list[tuple[str, str, int]], parameter: str) -> list[overview.TopRow]:
        return overview.top_rows(
            rows, top.total, parameter=parameter, since=month.start, filters=links
        )

    return {
        "as_of": local_time(now, zone),
        "month_from": local_time(month.start, zone),
        "periods": periods,
        "snapshot": overview.snapshot_tiles(snapshot, links),
        "top_categories": ranked(top.categories, "category_code"),
        "top_streets": ranked(top.streets, "area_code"),
        "month_reports": top.total,
    }


def dashboard_context(
    session: Session,
    settings: Settings,
    parsed: ParsedFilters,
    *,
    zone: ZoneInfo,
    language: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything the dashboard page shows for the filters (the overview as of `now`, by
    default the present)."""
    filters = parsed.filters
    points = service.trend(session, filters, zone)
    query = map_query(filters, zone)
    return {
        "filters": filters,
        "errors": parsed.errors,
        "overview": overview_context(
            session, filters, zone=zone, language=language, now=now or datetime.now(UTC)
        ),
        "hotspots": {
            "data_url": f"/dashboard/maps/hotspots.json?{query}",
            "page_url": f"/maps/hotspots?{query}",
            "table_url": f"/maps/hotspots/table?{query}",
        },
        "maps": [frame for frame in map_frames(filters, zone) if frame[0] != "hotspots"],
        "evaluation": service.evaluation_table(session, settings, filters, zone),
        "trend": points,
        "chart": trend_chart(points),
        "exports": export_links(filters, zone),
        **service.dashboard_choices(session, language),
        "labels": {
            "grouping": GROUPING_LABELS,
            "metric": METRIC_LABELS,
            "unit": UNIT_LABELS,
            "urgency": URGENCY_LABELS,
            "field": FIELD_LABELS,
            "map": MAP_TITLES,
        },
        "groupings": GROUPINGS,
        "js_messages": JS_MESSAGES,
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request, session: ReadSessionDep, settings: SettingsDep, principal: DashboardViewer
) -> HTMLResponse:
    """The dashboard for the filters in the query string (invalid ones shown beside their
    fields, and replaced by their defaults)."""
    zone = settings.city_zone
    raw = {name: request.query_params.get(name) for name in FILTER_NAMES}
    parsed = service.checked_references(session, parse_filters(raw, datetime.now(zone).date()))
    context = dashboard_context(
        session, settings, parsed, zone=zone, language=page_language(request)
    )
    return render(request, "maps/dashboard.html", context, principal=principal)


# Framed maps -----------------------------------------------------------------------------------


def framed(page: str, settings: Settings, layer: str) -> HTMLResponse:
    """A map page that this site (only) may frame: the map pages' own policy, but with
    frame-ancestors 'self'."""
    policy = middleware.page_policies(settings).get(f"/maps/{layer}", middleware.MAP_PAGE_POLICY)
    headers = {
        **FRAMED_MAP_HEADERS,
        "Content-Security-Policy": policy.replace(
            "frame-ancestors 'none'", "frame-ancestors 'self'"
        ),
    }
    return HTMLResponse(page, headers=headers)


@router.get("/dashboard/maps/heatmap", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def framed_heatmap(
    request: Request, filters: FiltersDep, session: ReadSessionDep, settings: SettingsDep
) -> HTMLResponse:
    """/maps/heatmap, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.heatmap_html(
        session, filters, limits, query=request.url.query, language=page_language(request)
    )
    return framed(page, settings, "heatmap")


@router.get("/dashboard/maps/choropleth", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def framed_choropleth(
    request: Request,
    filters: FiltersDep,
    options: OptionsDep,
    session: ReadSessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """/maps/choropleth, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.choropleth_html(
        session, filters, options, limits, query=request.url.query, language=page_language(request)
    )
    return framed(page, settings, "choropleth")


@router.get("/dashboard/maps/hotspots", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def framed_hotspots(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    confidence: ConfidenceQuery = 0.95,
) -> HTMLResponse:
    """/maps/hotspots, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.hotspots_html(
        session,
        filters,
        limits,
        confidence=confidence,
        query=request.url.query,
        language=page_language(request),
    )
    return framed(page, settings, "hotspots")


@router.get("/dashboard/maps/hotspots.json", dependencies=[MAP_VIEWERS])
def hotspots_map_data(
    request: Request,
    filters: FiltersDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    confidence: ConfidenceQuery = 0.95,
) -> JSONResponse:
    """The hot and cold spots the dashboard draws on its own map (maps.pages.service's
    hotspot_map_data), in the reader's language."""
    data = map_pages.hotspot_map_data(
        session,
        filters,
        map_pages.map_limits(settings),
        confidence=confidence,
        language=page_language(request),
    )
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
