"""What the dashboard reads from the database: the filters' references checked, the overview's
counts (tiles and top lists), the trend of reports and closures, the evaluation table and the
filter form's choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from events.categories.labels import CategoryNames, category_label, shared_category_names
from events.models import Category
from grid.models import GridRegion
from maps import service as map_service
from maps.dashboard.filters import DashboardFilters, ParsedFilters, replace_filters, to_map_filters
from maps.dashboard.overview import TOP_ROWS, Counts, Snapshot, Window
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


# The overview -----------------------------------------------------------------------------------

OVERVIEW_WINDOWS = 4  # today, yesterday up to now's time, this month, last month up to now's day
CLOSED_STATUS = "closed"
# Filed or returned: waiting for dispatch; these with a running clock can be overdue (as the
# case list's overdue=true: events.listing.service.overdue_condition).
WAITING_STATUSES = ("filed", "returned")
RUNNING_STATUSES = ("dispatched", "accepted", "rework", "suspended")
# Every case that was waiting or overdue a day ago and is not closed or cancelled since is in one
# of these statuses now (handled after then: it was still working).
SNAPSHOT_STATUSES = [*WAITING_STATUSES, *RUNNING_STATUSES, "handled"]


def window_counts(column: str, *, only: str = "TRUE", prefix: str = "w") -> str:
    """count(*) per overview window of the rows (meeting `only`) whose `column` falls in it,
    named <prefix>0, <prefix>1, …"""
    return ", ".join(
        f"count(*) FILTER (WHERE {only} AND {column} >= :start{i} AND {column} < :end{i}) "
        f"AS {prefix}{i}"
        for i in range(OVERVIEW_WINDOWS)
    )


# Each count: (name, the time column that places a case in a window, which cases count).
FLOWS: tuple[tuple[str, str, str], ...] = (
    ("reported", "e.created_at", "TRUE"),
    ("filed", "e.filed_at", "TRUE"),
    ("dispatched", "e.dispatched_at", "TRUE"),
    ("closed", "e.closed_at", "e.status = 'closed'"),
    ("closed_on_time", "e.closed_at", "e.status = 'closed' AND e.handled_at <= e.due_at"),
    (
        "closed_with_due",
        "e.closed_at",
        "e.status = 'closed' AND e.handled_at IS NOT NULL AND e.due_at IS NOT NULL",
    ),
)
FLOW_COLUMNS = ("e.created_at", "e.filed_at", "e.dispatched_at", "e.closed_at")
# One pass over the cases any of the four times places in the windows: PostgreSQL ORs the four
# indexes' bitmaps (ix_event_case_created_at, _filed_at, _dispatched_at, _closed_at) and reads
# each heap page once, where a scan per count read most pages four times (on a million cases,
# 0.7 s against 0.2 s for the same counts).
FLOWS_SQL = """
SELECT {counts} FROM event_case e WHERE ({placed}) AND {cases}
"""


def flows_sql(cases: str) -> str:
    counts = ", ".join(
        window_counts(column, only=only, prefix=f"{name}_") for name, column, only in FLOWS
    )
    placed = " OR ".join(f"({c} >= :earliest AND {c} < :latest)" for c in FLOW_COLUMNS)
    return FLOWS_SQL.format(counts=counts, placed=placed, cases=cases)


def flow_counts(
    session: Session, filters: DashboardFilters, zone: ZoneInfo, windows: list[Window]
) -> list[Counts]:
    """Reported, filed, dispatched and closed cases (and closed on time) in each window, under
    the dashboard's filters other than its period; one statement."""
    cases = map_service.case_conditions(to_map_filters(filters, zone), period=False)
    params: dict[str, Any] = {
        **cases.params,
        "earliest": min(window.start for window in windows),
        "latest": max(window.end for window in windows),
    }
    for index, window in enumerate(windows):
        params[f"start{index}"], params[f"end{index}"] = window.start, window.end
    row = session.execute(text(flows_sql(cases.sql)), params).one()._mapping
    return [
        Counts(**{name: int(row[f"{name}_{index}"]) for name, _, _ in FLOWS})
        for index in range(len(windows))
    ]


# A day ago is read from the cases' own times: filed by then and not yet dispatched (or returned
# by then and not moved since); past the deadline by then while dispatched and neither handled
# nor closed. A return or a reopening before then that was undone since is not replayed.
SNAPSHOT_SQL = """
SELECT
    count(*) FILTER (WHERE e.status = ANY(:waiting)) AS waiting,
    count(*) FILTER (WHERE e.status = ANY(:running) AND e.due_at IS NOT NULL
                     AND e.due_at < coalesce(e.suspended_at, :now)) AS overdue,
    count(*) FILTER (WHERE e.filed_at <= :before
                     AND (e.closed_at IS NULL OR e.closed_at > :before)
                     AND (e.dispatched_at IS NULL OR e.dispatched_at > :before
                          OR (e.status = 'returned' AND e.updated_at <= :before)))
        AS waiting_before,
    count(*) FILTER (WHERE e.dispatched_at <= :before
                     AND e.due_at < least(:before, coalesce(e.suspended_at, :before))
                     AND (e.handled_at IS NULL OR e.handled_at > :before)
                     AND (e.closed_at IS NULL OR e.closed_at > :before)
                     AND NOT (e.status = 'returned' AND e.updated_at <= :before))
        AS overdue_before
FROM event_case e
WHERE (e.status = ANY(:statuses) OR (e.closed_at >= :before AND e.status = 'closed'))
  AND {cases}
"""


def snapshot(
    session: Session,
    filters: DashboardFilters,
    zone: ZoneInfo,
    *,
    now: datetime,
    before: datetime,
) -> Snapshot:
    """Cases waiting for dispatch and overdue now, and (from the cases' times) at `before`."""
    cases = map_service.case_conditions(to_map_filters(filters, zone), period=False)
    params = {
        **cases.params,
        "waiting": list(WAITING_STATUSES),
        "running": list(RUNNING_STATUSES),
        "statuses": SNAPSHOT_STATUSES,
        "now": now,
        "before": before,
    }
    row = session.execute(text(SNAPSHOT_SQL.format(cases=cases.sql)), params).one()
    return Snapshot(row.overdue, row.waiting, row.overdue_before, row.waiting_before)


# This month's reports, read once, grouped by category and by street.
TOP_SQL = """
WITH reports AS MATERIALIZED (
    SELECT e.category_id, e.cell_id FROM event_case e
    WHERE e.created_at >= :start AND e.created_at < :end AND {cases}
),
by_category AS (SELECT category_id, count(*) AS reports FROM reports GROUP BY category_id),
by_street AS (
    SELECT m.parent_id AS street_id, count(*) AS reports
    FROM reports r JOIN grid_cell c ON c.id = r.cell_id JOIN grid_region m ON m.id = c.community_id
    GROUP BY m.parent_id
)
(SELECT 'category' AS kind, k.code, k.standard, k.name_zh, k.name_en, b.reports
 FROM by_category b JOIN category k ON k.id = b.category_id
 ORDER BY b.reports DESC, k.code LIMIT :limit)
UNION ALL
(SELECT 'street', s.code, '', s.name, s.name, b.reports
 FROM by_street b JOIN grid_region s ON s.id = b.street_id
 ORDER BY b.reports DESC, s.code LIMIT :limit)
UNION ALL
SELECT 'total', '', '', '', '', count(*) FROM reports
"""


@dataclass(frozen=True)
class TopLists:
    """The categories and streets with the most reports in a window, and all its reports."""

    categories: list[tuple[str, str, int]]  # code, label, reports
    streets: list[tuple[str, str, int]]
    total: int


def top_lists(
    session: Session,
    filters: DashboardFilters,
    zone: ZoneInfo,
    window: Window,
    *,
    language: str,
    limit: int = TOP_ROWS,
) -> TopLists:
    """The `limit` categories (named by events.categories.labels) and streets most reported
    in the window, under the dashboard's filters other than its period; one statement."""
    cases = map_service.case_conditions(to_map_filters(filters, zone), period=False)
    params = {**cases.params, "start": window.start, "end": window.end, "limit": limit}
    rows = session.execute(text(TOP_SQL.format(cases=cases.sql)), params).all()
    shared = shared_category_names(session)
    categories = [
        (row.code, category_label(CategoryNames(row.code, row.standard, row.name_zh,
                                                row.name_en), language, shared_names=shared),
         int(row.reports))
        for row in rows if row.kind == "category"
    ]  # fmt: skip
    streets = [(row.code, row.name_zh, int(row.reports)) for row in rows if row.kind == "street"]
    total = next(int(row.reports) for row in rows if row.kind == "total")
    return TopLists(categories, streets, total)
