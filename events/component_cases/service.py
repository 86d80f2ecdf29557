"""A component's cases: how often it failed ("failed N times this year"), its case history, the
components with the most repeat cases, and the components a map page draws with their cases.

Each answer is one or two set-based statements; "counted" cases are those a failure of the
component shows in: not merged into another case, not cancelled, not refused filing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput, NotFound
from components.service import (
    AREA_CELLS,
    CATEGORY_CONDITION,
    COUNT_CAP,
    Statement,
    capped_count,
    category_ids,
    check_area,
    checked_category_ids,
    component_facts,
)
from events.component_cases.schemas import (
    CaseCounts,
    ComponentCase,
    ComponentCaseHistory,
    ComponentRead,
    ComponentRepeats,
    MapComponent,
    RepeatComponent,
)
from events.lifecycle import OPEN_STATUSES, CaseStatus

NOT_COUNTED_CASE_STATUSES = [CaseStatus.CANCELLED.value, CaseStatus.NOT_FILED.value]
OPEN_CASE_STATUSES = sorted(status.value for status in OPEN_STATUSES)
CASES_LISTED_MAX = 500
MAP_GEOJSON_DECIMALS = 5  # about 1 m, as the rest of a map page
COUNTED_CASE = "e.merged_into_id IS NULL AND e.status <> ALL(CAST(:not_counted AS text[]))"


@dataclass(frozen=True)
class RepeatQuery:
    """Which components the repeat ranking considers, and how many it lists."""

    period_from: datetime
    period_to: datetime
    category: str | None = None
    area_code: str | None = None
    limit: int = 50
    min_cases: int = 2


def check_period(period_from: datetime, period_to: datetime) -> None:
    """Raise InvalidInput unless the period has a time zone and ends after it starts."""
    if period_from.tzinfo is None or period_to.tzinfo is None:
        raise InvalidInput("the period needs a time zone (e.g. +08:00)", field="period_from")
    if period_to <= period_from:
        raise InvalidInput("period_to must be after period_from", field="period_to")


def year_start(now: datetime, zone: tzinfo) -> datetime:
    """The start of `now`'s calendar year in the city's time zone `zone`."""
    local = now.astimezone(zone)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


CASE_COUNTS_SQL = f"""
    SELECT count(*) FILTER (WHERE {COUNTED_CASE}) AS total,
           count(*) FILTER (WHERE {COUNTED_CASE} AND e.created_at >= :year_start) AS this_year,
           count(*) FILTER (WHERE {COUNTED_CASE}
                            AND e.status = ANY(CAST(:open_statuses AS text[]))) AS open
    FROM event_case e WHERE e.component_id = :component_id
"""


def case_counts(session: Session, component_id: int, *, now: datetime, zone: tzinfo) -> CaseCounts:
    """The component's counted cases: in all, this calendar year (in `zone`), and still open."""
    params = {
        "component_id": component_id,
        "year_start": year_start(now, zone),
        "not_counted": NOT_COUNTED_CASE_STATUSES,
        "open_statuses": OPEN_CASE_STATUSES,
    }
    row = session.execute(text(CASE_COUNTS_SQL), params).one()
    return CaseCounts(total=row.total, this_year=row.this_year, open=row.open)


def component_detail(
    session: Session, component_id: int, *, now: datetime, zone: tzinfo
) -> ComponentRead:
    """One component with its category, cell code, departments (names) and case counts;
    NotFound when there is none with that id."""
    facts = component_facts(session, component_id)
    counts = case_counts(session, facts.id, now=now, zone=zone)
    return ComponentRead(**dict(facts), case_counts=counts)


CASES_SQL = f"""
    SELECT e.id, e.number, e.status, k.code AS category_code, k.name_zh AS category_name,
           e.urgency, d.name AS department_name, e.component_match, e.component_distance_m,
           e.merged_into_id, ({COUNTED_CASE}) AS counted, e.created_at, e.closed_at
    FROM event_case e JOIN category k ON k.id = e.category_id
    LEFT JOIN department d ON d.id = e.department_id
    WHERE e.component_id = :component_id
    ORDER BY e.created_at DESC, e.id DESC LIMIT :limit
"""


def failure_summary(counts: CaseCounts) -> str:
    """What the counts say in words: "failed 5 times this year"."""
    times = "once" if counts.this_year == 1 else f"{counts.this_year} times"
    return f"failed {times} this year ({counts.total} in all, {counts.open} open)"


def component_cases(
    session: Session, component_id: int, *, now: datetime, zone: tzinfo
) -> ComponentCaseHistory:
    """The component's cases, newest first (at most CASES_LISTED_MAX), with their counts;
    NotFound when there is no component with that id."""
    code = session.scalar(text("SELECT code FROM component WHERE id = :id"), {"id": component_id})
    if code is None:
        raise NotFound(f"no component with id {component_id}")
    params = {
        "component_id": component_id,
        "not_counted": NOT_COUNTED_CASE_STATUSES,
        "limit": CASES_LISTED_MAX,
    }
    rows = session.execute(text(CASES_SQL), params).all()
    counts = case_counts(session, component_id, now=now, zone=zone)
    return ComponentCaseHistory(
        component_id=component_id,
        component_code=code,
        counts=counts,
        summary=failure_summary(counts),
        cases=[ComponentCase.model_validate(row._asdict()) for row in rows],
        cases_listed_max=CASES_LISTED_MAX,
    )


# Counted cases per component in the period, grouped once; ranked and cut to the limit before
# the names are joined, so only the listed components are looked up.
REPEAT_SQL = f"""
    WITH counted AS (
        SELECT e.component_id, count(*) AS cases,
               count(*) FILTER (WHERE e.status = ANY(CAST(:open_statuses AS text[])))
                   AS open_cases,
               min(e.created_at) AS first_case_at, max(e.created_at) AS last_case_at
        FROM event_case e
        WHERE e.component_id IS NOT NULL AND {COUNTED_CASE}
          AND e.created_at >= :period_from AND e.created_at < :period_to
        GROUP BY e.component_id HAVING count(*) >= :min_cases
    ), ranked AS (
        SELECT n.*, rank() OVER (ORDER BY n.cases DESC) AS rank, count(*) OVER () AS total
        FROM counted n {{component_filter}}
        ORDER BY n.cases DESC, n.last_case_at DESC, n.component_id LIMIT :limit
    )
    SELECT r.rank, r.total, c.id AS component_id, c.code, k.code AS category_code,
           k.name_zh AS category_name, c.status, d.name AS maintainer_name,
           g.code AS cell_code, r.cases, r.open_cases, r.first_case_at, r.last_case_at
    FROM ranked r JOIN component c ON c.id = r.component_id
    JOIN category k ON k.id = c.category_id
    LEFT JOIN department d ON d.id = c.maintainer_department_id
    LEFT JOIN grid_cell g ON g.id = c.cell_id
    ORDER BY r.cases DESC, r.last_case_at DESC, r.component_id
"""


def repeat_statement(query: RepeatQuery, category_ids: list[int] | None) -> Statement:
    """One statement: counted cases per component in the period (GROUP BY component_id),
    ranked, with the total of components at or above min_cases."""
    conditions: list[str] = []
    params: dict[str, Any] = {
        "period_from": query.period_from,
        "period_to": query.period_to,
        "min_cases": query.min_cases,
        "limit": query.limit,
        "not_counted": NOT_COUNTED_CASE_STATUSES,
        "open_statuses": OPEN_CASE_STATUSES,
    }
    if category_ids is not None:
        conditions.append(CATEGORY_CONDITION)
        params["category_ids"] = category_ids
    if query.area_code is not None:
        conditions.append(f"c.cell_id IN ({AREA_CELLS})")
        params["area_code"] = query.area_code
    component_filter = (
        f"JOIN component c ON c.id = n.component_id WHERE {' AND '.join(conditions)}"
        if conditions
        else ""
    )
    return Statement(REPEAT_SQL.format(component_filter=component_filter), params)


def repeat_ranking(session: Session, query: RepeatQuery) -> ComponentRepeats:
    """The components with the most counted cases in the period, most first (ties: the most
    recent case first), filtered by component category and area."""
    check_period(query.period_from, query.period_to)
    ids = checked_category_ids(session, query.category)
    check_area(session, query.area_code)
    statement = repeat_statement(query, ids)
    rows = session.execute(text(statement.sql), statement.params).all()
    components = [
        RepeatComponent.model_validate({k: v for k, v in row._asdict().items() if k != "total"})
        for row in rows
    ]
    return ComponentRepeats(
        period_from=query.period_from,
        period_to=query.period_to,
        category=query.category,
        area=query.area_code,
        min_cases=query.min_cases,
        total=rows[0].total if rows else 0,
        components=components,
    )


REPEAT_CSV_COLUMNS = [
    "rank", "code", "category_code", "category_name", "status", "maintainer_name", "cell_code",
    "cases", "open_cases", "first_case_at", "last_case_at",
]  # fmt: skip


def repeats_csv(repeats: ComponentRepeats) -> str:
    """The ranking as CSV text, a header row first (times in ISO 8601)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPEAT_CSV_COLUMNS)
    for component in repeats.components:
        values = component.model_dump(mode="json")
        writer.writerow(["" if values[c] is None else values[c] for c in REPEAT_CSV_COLUMNS])
    return buffer.getvalue()


@dataclass(frozen=True)
class MapArea:
    """Which components a map page may draw: the page's area, category and period."""

    area_code: str | None
    category: str | None
    period_from: datetime
    period_to: datetime


def map_conditions(area: MapArea, category_ids: list[int] | None) -> Statement:
    """The WHERE conditions on `component c` of a map page (removed components are left out),
    its category resolved to `category_ids`."""
    conditions = ["c.status <> 'removed'"]
    params: dict[str, Any] = {}
    if area.area_code is not None:
        conditions.append(f"c.cell_id IN ({AREA_CELLS})")
        params["area_code"] = area.area_code
    if category_ids is not None:
        conditions.append(CATEGORY_CONDITION)
        params["category_ids"] = category_ids
    return Statement(" AND ".join(conditions), params)


def components_on_map(
    session: Session, area: MapArea, *, cap: int
) -> tuple[int, list[MapComponent]]:
    """How many components the page's area has (counted up to COUNT_CAP), and when that is at
    most `cap`, each with its counted cases in the page's period (else none)."""
    where = map_conditions(area, category_ids(session, area.category))
    total = capped_count(session, where, cap=max(cap + 1, COUNT_CAP))
    if total > cap or total == 0:
        return total, []
    sql = f"""
        WITH shown AS (SELECT c.* FROM component c WHERE {where.sql})
        SELECT s.id, s.code, s.status, k.code AS category_code, k.name_zh AS category_name,
               d.name AS maintainer_name, coalesce(n.cases, 0) AS cases,
               ST_AsGeoJSON(s.geom, {MAP_GEOJSON_DECIMALS})::json AS geometry
        FROM shown s JOIN category k ON k.id = s.category_id
        LEFT JOIN department d ON d.id = s.maintainer_department_id
        LEFT JOIN (
            SELECT e.component_id, count(*) AS cases FROM event_case e
            WHERE e.component_id IN (SELECT id FROM shown) AND {COUNTED_CASE}
              AND e.created_at >= :period_from AND e.created_at < :period_to
            GROUP BY e.component_id
        ) n ON n.component_id = s.id
        ORDER BY s.id
    """
    params = {
        **where.params,
        "period_from": area.period_from,
        "period_to": area.period_to,
        "not_counted": NOT_COUNTED_CASE_STATUSES,
    }
    rows = session.execute(text(sql), params).all()
    return total, [
        MapComponent(r.id, r.code, r.status, r.category_code, r.category_name,
                     r.maintainer_name, r.cases, r.geometry)
        for r in rows
    ]  # fmt: skip
