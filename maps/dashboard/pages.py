"""The manager dashboard: the three maps with filters, evaluation tables, trends, exports.

One GET form holds the filters; the page applies them to everything it shows: the three map
pages (embedded in frames from `/dashboard/maps/<layer>`, which are the /maps/ pages allowed to
be framed by this site), the evaluation table (the period only: evaluation has no other
filters), the trend of reports and closures, and the export links. Invalid filters are shown
beside their fields and replaced by their defaults, so the page always renders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid import middleware
from citygrid.accounts.auth import Allow, Principal, Role, RoleCheckedRoute
from citygrid.accounts.models import Department
from citygrid.db import SessionDep
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, page_language, render
from dispatch.evaluation import grading as evaluation
from dispatch.evaluation import service as evaluation_service
from dispatch.evaluation.grading import GroupKind
from events.models import Category
from grid.models import GridRegion
from maps import service as map_service
from maps.filters import FiltersDep
from maps.pages import pages as map_pages
from maps.schemas import MapFilters, Metric, Unit

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
T = TypeVar("T")

DASHBOARD_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
DashboardViewer = Annotated[Principal, Depends(Allow(*DASHBOARD_ROLES))]
MAP_VIEWERS = Depends(Allow(*DASHBOARD_ROLES))
DEFAULT_PERIOD_DAYS = 30
DAILY_TREND_MAX_DAYS = 62  # longer periods are shown per week
CATEGORY_CODE = re.compile(r"[0-9A-Za-z]{1,8}")
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,2}")  # district, street or community
GROUPINGS = (GroupKind.DEPARTMENT, GroupKind.DISTRICT, GroupKind.STREET, GroupKind.COMMUNITY)
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 640, 220, 32
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


# Filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard shows: dates (inclusive), filters, the groups and map options."""

    date_from: date
    date_to: date
    category: str | None = None
    area: str | None = None
    department: str | None = None
    urgency: str | None = None
    by: GroupKind = GroupKind.DEPARTMENT
    metric: Metric = Metric.REPORTS
    unit: Unit = Unit.CELL

    def period(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in the city's time zone: from the first day's start to the day after
        the last."""
        start = datetime.combine(self.date_from, time(), zone)
        return start, datetime.combine(self.date_to + timedelta(days=1), time(), zone)

    def trend_step(self) -> str:
        """'day' for periods up to DAILY_TREND_MAX_DAYS, else 'week'."""
        days = (self.date_to - self.date_from).days + 1
        return "day" if days <= DAILY_TREND_MAX_DAYS else "week"


@dataclass
class ParsedFilters:
    """The filters that could be read, and an error message (N_) per field that could not."""

    filters: DashboardFilters
    errors: dict[str, str] = field(default_factory=dict)


def parse_date(value: str | None, default: date) -> date | None:
    """An ISO date (YYYY-MM-DD), the default when empty, None when unreadable."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_period(
    raw: Mapping[str, str | None], today: date, errors: dict[str, str]
) -> tuple[date, date]:
    """The first and last day: defaults to the last DEFAULT_PERIOD_DAYS days."""
    default_from = today - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    date_from = parse_date(raw.get("from"), default_from)
    date_to = parse_date(raw.get("to"), today)
    if date_from is None:
        errors["from"] = N_("Enter a date as YYYY-MM-DD.")
    if date_to is None:
        errors["to"] = N_("Enter a date as YYYY-MM-DD.")
    if date_from is None or date_to is None:
        return default_from, today
    if date_to < date_from:
        errors["to"] = N_("The last day must not be before the first day.")
        return default_from, today
    if (date_to - date_from).days >= evaluation.MAX_PERIOD_DAYS:
        errors["to"] = N_("The period may span at most a year.")
        return default_from, today
    return date_from, date_to


def choice(value: str | None, options: Sequence[T], default: T) -> T | None:
    """The option whose text is `value`, the default when empty, None when unknown."""
    if not value:
        return default
    return next((option for option in options if str(option) == value), None)


CODE_FIELDS = {
    "category": (CATEGORY_CODE, N_("A category code is 1 to 8 letters or digits.")),
    "area": (AREA_CODE, N_("An area code has 6, 9 or 12 digits.")),
}


def parse_code(raw: Mapping[str, str | None], name: str, errors: dict[str, str]) -> str | None:
    """A category or area code, None when empty or malformed (the latter noted in `errors`)."""
    code = (raw.get(name) or "").strip() or None
    pattern, message = CODE_FIELDS[name]
    if code is not None and not pattern.fullmatch(code):
        errors[name] = message
        return None
    return code


def parse_filters(raw: Mapping[str, str | None], today: date) -> ParsedFilters:
    """The dashboard's filters from the query string (pure: no database); what cannot be read
    is noted in `errors` and left at its default."""
    errors: dict[str, str] = {}
    date_from, date_to = parse_period(raw, today, errors)
    urgency = choice(raw.get("urgency"), ("normal", "urgent"), "")
    by = choice(raw.get("by"), GROUPINGS, GroupKind.DEPARTMENT)
    metric = choice(raw.get("metric"), list(Metric), Metric.REPORTS)
    unit = choice(raw.get("unit"), list(Unit), Unit.CELL)
    for name, value in (("urgency", urgency), ("by", by), ("metric", metric), ("unit", unit)):
        if value is None:
            errors[name] = N_("Choose one of the options.")
    filters = DashboardFilters(
        date_from,
        date_to,
        category=parse_code(raw, "category", errors),
        area=parse_code(raw, "area", errors),
        department=(raw.get("department") or "").strip() or None,
        urgency=urgency or None,
        by=by or GroupKind.DEPARTMENT,
        metric=metric or Metric.REPORTS,
        unit=unit or Unit.CELL,
    )
    return ParsedFilters(filters, errors)


def checked_references(session: Session, parsed: ParsedFilters) -> ParsedFilters:
    """The filters with an unknown area or department dropped (and said so beside the field)."""
    filters, errors = parsed.filters, dict(parsed.errors)
    if filters.area and not session.scalar(
        select(GridRegion.id).where(GridRegion.code == filters.area)
    ):
        errors["area"] = N_("No district, street or community has this code.")
        filters = replace_filters(filters, area=None)
    if filters.department and not session.scalar(
        select(Department.id).where(Department.code == filters.department)
    ):
        errors["department"] = N_("No department has this code.")
        filters = replace_filters(filters, department=None)
    return ParsedFilters(filters, errors)


def replace_filters(filters: DashboardFilters, **changes: Any) -> DashboardFilters:
    """The filters with the given fields changed."""
    return DashboardFilters(**{**vars(filters), **changes})


# Links -----------------------------------------------------------------------------------------


def map_query(filters: DashboardFilters, zone: ZoneInfo, *, choropleth: bool = False) -> str:
    """The /maps/ query string of the filters (the choropleth's also names metric and unit)."""
    start, end = filters.period(zone)
    pairs = [("period_from", start.isoformat()), ("period_to", end.isoformat())]
    for name, value in (
        ("category", filters.category),
        ("area", filters.area),
        ("department", filters.department),
        ("urgency", filters.urgency),
    ):
        if value:
            pairs.append((name, value))
    if choropleth:
        pairs += [("metric", filters.metric.value), ("unit", filters.unit.value)]
    return urlencode(pairs)


def export_links(filters: DashboardFilters, zone: ZoneInfo) -> list[tuple[str, str]]:
    """(label N_, URL) of every download the filters select."""
    start, end = filters.period(zone)
    period = [("from", start.isoformat()), ("to", end.isoformat())]
    evaluation_query = urlencode([*period, ("by", filters.by.value), ("format", "csv")])
    cases = [("created_from", start.isoformat()), ("created_to", end.isoformat())]
    for name, value in (
        ("category_code", filters.category),
        ("area_code", filters.area),
        ("department_code", filters.department),
        ("urgency", filters.urgency),
    ):
        if value:
            cases.append((name, value))
    query, choropleth = map_query(filters, zone), map_query(filters, zone, choropleth=True)
    return [
        (N_("Evaluation (CSV)"), f"/api/evaluation?{evaluation_query}"),
        (N_("Cases (CSV)"), f"/api/cases/export?{urlencode([*cases, ('format', 'csv')])}"),
        (N_("Cases (GeoJSON)"), f"/api/cases/export?{urlencode([*cases, ('format', 'geojson')])}"),
        (N_("Reports per cell (CSV)"), f"/maps/heatmap/csv?{query}"),
        (N_("Choropleth values (CSV)"), f"/maps/choropleth/csv?{choropleth}"),
        (N_("Hot spots (CSV)"), f"/maps/hotspots/csv?{query}"),
    ]


# Trend -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """Reports made and cases closed in one day or week (starting at `start`, local time)."""

    start: date
    reports: int
    closures: int


# One pass over each index range, aggregated to at most a few hundred buckets: no join of
# generated rows (whose wild estimate made the planner JIT-compile, ~1.4 s of a 3 s query on a
# million cases); empty buckets are filled in by `filled_trend`.
TREND_SQL = """
SELECT start, sum(reports) AS reports, sum(closures) AS closures
FROM (
    SELECT CAST(date_trunc(:step, e.created_at AT TIME ZONE :zone) AS date) AS start,
           1 AS reports, 0 AS closures
    FROM event_case e WHERE {reported}
    UNION ALL
    SELECT CAST(date_trunc(:step, e.closed_at AT TIME ZONE :zone) AS date), 0, 1
    FROM event_case e
    WHERE {closed} AND e.closed_at >= :period_from AND e.closed_at < :period_to
) AS events
GROUP BY start
"""


def bucket_start(day: date, step: str) -> date:
    """The first day of the day's bucket: itself, or the Monday of its week (as date_trunc)."""
    return day if step == "day" else day - timedelta(days=day.weekday())


def filled_trend(
    counts: Mapping[date, tuple[int, int]], first: date, last: date, step: str
) -> list[TrendPoint]:
    """Every bucket from the one holding `first` to the one holding `last`, zeros where
    nothing happened (pure)."""
    stride = timedelta(days=1 if step == "day" else 7)
    start, points = bucket_start(first, step), []
    while start <= last:
        reports, closures = counts.get(start, (0, 0))
        points.append(TrendPoint(start, reports, closures))
        start += stride
    return points


def trend(session: Session, filters: DashboardFilters, zone: ZoneInfo) -> list[TrendPoint]:
    """Reports (by creation) and closures (by closing time) per day or week of the period, in
    one statement; merged duplicates are not counted, the other filters are the maps'."""
    map_filters = to_map_filters(filters, zone)
    reported = map_service.case_conditions(map_filters)
    closed = map_service.case_conditions(map_filters, period=False)
    sql = TREND_SQL.format(reported=reported.sql, closed=closed.sql)
    step = filters.trend_step()
    params = {**reported.params, **closed.params, "step": step, "zone": str(zone)}
    counts = {
        row.start: (int(row.reports), int(row.closures))
        for row in session.execute(text(sql), params)
    }
    return filled_trend(counts, filters.date_from, filters.date_to, step)


@dataclass(frozen=True)
class TrendChart:
    """An SVG line chart's geometry: two polylines, the y scale's top, x labels."""

    width: int
    height: int
    reports_points: str
    closures_points: str
    y_max: int
    baseline_y: int
    top_y: int
    labels: list[tuple[float, str]]  # x, text


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (at least 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def trend_chart(points: Sequence[TrendPoint], *, labels_max: int = 6) -> TrendChart:
    """Where each point of the two series lies on the chart (pure)."""
    y_max = nice_ceiling(max([1, *(p.reports for p in points), *(p.closures for p in points)]))
    inner_width = CHART_WIDTH - 2 * CHART_MARGIN
    inner_height = CHART_HEIGHT - 2 * CHART_MARGIN
    step_x = inner_width / max(1, len(points) - 1)

    def x_of(index: int) -> float:
        return round(CHART_MARGIN + index * step_x, 1)

    def y_of(value: int) -> float:
        return round(CHART_HEIGHT - CHART_MARGIN - value * inner_height / y_max, 1)

    every = max(1, -(-len(points) // labels_max))
    return TrendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        reports_points=" ".join(f"{x_of(i)},{y_of(p.reports)}" for i, p in enumerate(points)),
        closures_points=" ".join(f"{x_of(i)},{y_of(p.closures)}" for i, p in enumerate(points)),
        y_max=y_max,
        baseline_y=CHART_HEIGHT - CHART_MARGIN,
        top_y=CHART_MARGIN,
        labels=[(x_of(i), f"{p.start:%m-%d}") for i, p in enumerate(points) if i % every == 0],
    )


# Evaluation ------------------------------------------------------------------------------------


def format_figure(name: str, value: Any) -> str:
    """A figure as the table shows it: rates in %, hours and densities to 0.1, none as —."""
    if value is None:
        return "—"
    if name.endswith("_rate"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def evaluation_table(
    session: Session, settings: Settings, filters: DashboardFilters, zone: ZoneInfo
) -> dict[str, Any]:
    """The evaluation of the period grouped as asked: columns, rows and totals, formatted."""
    start, end = filters.period(zone)
    result = evaluation_service.evaluate(
        session,
        filters.by,
        period_from=start,
        period_to=end,
        now=datetime.now(UTC),
        calendar_code=settings.default_calendar_code,
        verification_limit_hours=settings.verification_limit_hours,
    )
    fields = [name for name in evaluation.output_fields(filters.by) if name != "grade"]

    def cells(row: Mapping[str, Any]) -> list[str]:
        return [format_figure(name, row.get(name)) for name in fields]

    return {
        "fields": fields,
        "rows": [(row["key"], row["name"], cells(row), row["grade"]) for row in result.rows],
        "totals": (cells(result.totals), result.totals["grade"]),
    }


# Page ------------------------------------------------------------------------------------------


def dashboard_choices(session: Session, language: str) -> dict[str, Any]:
    """The options of the filter form: departments and category codes with names."""
    departments = session.execute(
        select(Department.code, Department.name)
        .where(Department.is_active)
        .order_by(Department.code)
    ).all()
    name = Category.name_en if language == "en" else Category.name_zh
    categories = session.execute(
        select(Category.code, name)
        .where(Category.retired_at.is_(None))
        .distinct()
        .order_by(Category.code)
    ).all()
    return {"departments": departments, "categories": categories}


def map_frames(filters: DashboardFilters, zone: ZoneInfo) -> list[tuple[str, str, str]]:
    """(layer, framed page URL, full page URL) of the three maps under the filters."""
    frames = []
    for layer in ("heatmap", "choropleth", "hotspots"):
        query = map_query(filters, zone, choropleth=layer == "choropleth")
        frames.append((layer, f"/dashboard/maps/{layer}?{query}", f"/maps/{layer}?{query}"))
    return frames


def to_map_filters(filters: DashboardFilters, zone: ZoneInfo) -> MapFilters:
    """The filters as the map pages and their statements take them."""
    start, end = filters.period(zone)
    return MapFilters(
        period_from=start,
        period_to=end,
        category=filters.category,
        urgency=filters.urgency,
        department_code=filters.department,
        area_code=filters.area,
    )


FILTER_NAMES = ("from", "to", "category", "area", "department", "urgency", "by", "metric", "unit")


def city_zone(session: Session, settings: Settings) -> ZoneInfo:
    """The city's time zone: that of the default work calendar (evaluation reads dates in it)."""
    calendar = evaluation_service.default_calendar(session, settings.default_calendar_code)
    return ZoneInfo(calendar.time_zone)


def dashboard_context(
    session: Session, settings: Settings, parsed: ParsedFilters, *, zone: ZoneInfo, language: str
) -> dict[str, Any]:
    """Everything the dashboard page shows for the filters."""
    filters = parsed.filters
    points = trend(session, filters, zone)
    return {
        "filters": filters,
        "errors": parsed.errors,
        "maps": map_frames(filters, zone),
        "evaluation": evaluation_table(session, settings, filters, zone),
        "trend": points,
        "chart": trend_chart(points),
        "exports": export_links(filters, zone),
        **dashboard_choices(session, language),
        "labels": {
            "grouping": GROUPING_LABELS,
            "metric": METRIC_LABELS,
            "unit": UNIT_LABELS,
            "urgency": URGENCY_LABELS,
            "field": FIELD_LABELS,
            "map": MAP_TITLES,
        },
        "groupings": GROUPINGS,
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: DashboardViewer
) -> HTMLResponse:
    """The dashboard for the filters in the query string (invalid ones shown beside their
    fields, and replaced by their defaults)."""
    zone = city_zone(session, settings)
    raw = {name: request.query_params.get(name) for name in FILTER_NAMES}
    parsed = checked_references(session, parse_filters(raw, datetime.now(zone).date()))
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
    request: Request, filters: FiltersDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """/maps/heatmap, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.heatmap_html(session, filters, limits, query=request.url.query)
    return framed(page, settings, "heatmap")


@router.get("/dashboard/maps/choropleth", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def framed_choropleth(
    request: Request,
    filters: FiltersDep,
    options: map_pages.OptionsDep,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """/maps/choropleth, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.choropleth_html(session, filters, options, limits, query=request.url.query)
    return framed(page, settings, "choropleth")


@router.get("/dashboard/maps/hotspots", response_class=HTMLResponse, dependencies=[MAP_VIEWERS])
def framed_hotspots(
    request: Request,
    filters: FiltersDep,
    session: SessionDep,
    settings: SettingsDep,
    confidence: Annotated[float, Query(description="0.90, 0.95 or 0.99")] = 0.95,
) -> HTMLResponse:
    """/maps/hotspots, for the dashboard's frame."""
    limits = map_pages.map_limits(settings)
    page = map_pages.hotspots_html(
        session, filters, limits, confidence=confidence, query=request.url.query
    )
    return framed(page, settings, "hotspots")
