"""What the dashboard reads from the database: the filters' references checked, the trend of
reports and closures, the evaluation table and the filter form's choices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.settings import Settings
from citygrid.web import N_
from dispatch.evaluation import grading
from dispatch.evaluation import service as evaluation_service
from events.models import Category
from grid.models import GridRegion
from maps import service as map_service
from maps.dashboard.filters import DashboardFilters, ParsedFilters, replace_filters, to_map_filters
from maps.dashboard.trend import TrendPoint, filled_trend


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
        city_zone=settings.city_zone,
        verification_limit_hours=settings.verification_limit_hours,
    )
    fields = [name for name in grading.output_fields(filters.by) if name != "grade"]

    def cells(row: Mapping[str, Any]) -> list[str]:
        return [format_figure(name, row.get(name)) for name in fields]

    return {
        "fields": fields,
        "rows": [(row["key"], row["name"], cells(row), row["grade"]) for row in result.rows],
        "totals": (cells(result.totals), result.totals["grade"]),
    }


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
