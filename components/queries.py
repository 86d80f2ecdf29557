"""Reading the component inventory: search by box and filters, one component, its cases, the
components with the most repeat cases, and the components a map page draws.

Each answer is one or two set-based statements; "counted" cases are those a failure of the
component shows in: not merged into another case, not cancelled, not refused filing.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput, NotFound
from components.query_schemas import (
    CaseCounts,
    CategoryRef,
    ComponentCase,
    ComponentCaseHistory,
    ComponentFeature,
    ComponentFeatureCollection,
    ComponentFeatureProperties,
    ComponentRead,
    ComponentRepeats,
    DepartmentRef,
    MapComponent,
    RepeatComponent,
)
from events.intake.service import CITY_TIME_ZONE
from events.lifecycle import OPEN_STATUSES

BBox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat
COMPONENT_STATUSES = ("in_use", "damaged", "removed")
NOT_COUNTED_CASE_STATUSES = ["cancelled", "not_filed"]
OPEN_CASE_STATUSES = sorted(status.value for status in OPEN_STATUSES)
COUNT_CAP = 10_000  # a search counts its matches up to here: beyond, "at least 10,000"
CASES_LISTED_MAX = 500
GEOJSON_DECIMALS = 6  # about 0.1 m: a manhole cover is about 0.7 m across
MAP_GEOJSON_DECIMALS = 5  # about 1 m, as the rest of a map page
# The city's calendar year for "failed N times this year" (the demo city is in Beijing).

COUNTED_CASE = "e.merged_into_id IS NULL AND e.status <> ALL(CAST(:not_counted AS text[]))"
# Component categories with the given code, or under the major category with that code.
CATEGORY_IDS = """
    SELECT k.id FROM category k LEFT JOIN category p ON p.id = k.parent_id
    WHERE k.kind = 'component' AND :category IN (k.code, p.code)
"""
CATEGORY_CONDITION = "c.category_id = ANY(CAST(:category_ids AS integer[]))"
# The cells inside the district, street or community with the given code.
AREA_CELLS = """
    SELECT g.id FROM grid_cell g WHERE g.community_id IN (
        SELECT m.id FROM grid_region m JOIN grid_region s ON s.id = m.parent_id
        WHERE m.level = 'community' AND :area_code IN (
            m.code, s.code, (SELECT d.code FROM grid_region d WHERE d.id = s.parent_id)))
"""


@dataclass(frozen=True)
class Statement:
    """SQL text and its parameters."""

    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ComponentSearch:
    """Which components a search wants: every given filter must hold."""

    bbox: BBox | None = None
    category: str | None = None  # a minor code, or a major code for all its minors
    statuses: tuple[str, ...] = ()
    maintainer_id: int | None = None
    limit: int = 1_000
    after_id: int | None = None  # keyset paging: components with a larger id


@dataclass(frozen=True)
class RepeatQuery:
    """Which components the repeat ranking considers, and how many it lists."""

    period_from: datetime
    period_to: datetime
    category: str | None = None
    area_code: str | None = None
    limit: int = 50
    min_cases: int = 2


def parse_bbox(value: str | None) -> BBox | None:
    """(minlon, minlat, maxlon, maxlat) from "minlon,minlat,maxlon,maxlat"; None for None."""
    if value is None:
        return None
    try:
        west, south, east, north = (float(part) for part in value.split(","))
    except ValueError as error:
        raise InvalidInput(
            "bbox must be four numbers: minlon,minlat,maxlon,maxlat", field="bbox"
        ) from error
    if not all(math.isfinite(number) for number in (west, south, east, north)):
        raise InvalidInput("bbox must be finite numbers", field="bbox")
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(
            "bbox must have -180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90",
            field="bbox",
        )
    return west, south, east, north


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """Component statuses from repeated or comma-separated values, each one known."""
    statuses = tuple(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )
    for status in statuses:
        if status not in COMPONENT_STATUSES:
            known = ", ".join(COMPONENT_STATUSES)
            raise InvalidInput(f"unknown status {status!r} (known: {known})", field="status")
    return statuses


def check_period(period_from: datetime, period_to: datetime) -> None:
    """Raise InvalidInput unless the period has a time zone and ends after it starts."""
    if period_from.tzinfo is None or period_to.tzinfo is None:
        raise InvalidInput("the period needs a time zone (e.g. +08:00)", field="period_from")
    if period_to <= period_from:
        raise InvalidInput("period_to must be after period_from", field="period_to")


def category_ids(session: Session, category: str | None) -> list[int] | None:
    """The ids of the component categories with that code or under the major category with
    that code (None without a category); resolved first, so the planner sees the ids."""
    if category is None:
        return None
    return list(session.scalars(text(CATEGORY_IDS), {"category": category}))


def checked_category_ids(session: Session, category: str | None) -> list[int] | None:
    """As `category_ids`, raising InvalidInput when no component category has that code."""
    ids = category_ids(session, category)
    if ids == []:
        raise InvalidInput(f"no component category with code {category}", field="category")
    return ids


def check_area(session: Session, area_code: str | None) -> None:
    """Raise InvalidInput when no district, street or community has that code."""
    if area_code is None:
        return
    found = session.scalar(
        text("SELECT 1 FROM grid_region WHERE code = :code"), {"code": area_code}
    )
    if found is None:
        raise InvalidInput(f"no district, street or community with code {area_code}", field="area")


def check_maintainer(session: Session, department_id: int | None) -> None:
    """Raise InvalidInput when no department has that id."""
    if department_id is None:
        return
    found = session.scalar(text("SELECT 1 FROM department WHERE id = :id"), {"id": department_id})
    if found is None:
        raise InvalidInput(f"no department with id {department_id}", field="maintainer")


def search_conditions(search: ComponentSearch, category_ids: list[int] | None) -> Statement:
    """The WHERE conditions on `component c` of a search (without its paging), its category
    resolved to `category_ids`."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {}
    if search.bbox is not None:
        # `&&` is answered by the GiST index on component.geom.
        conditions.append("c.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)")
        params.update(zip(("west", "south", "east", "north"), search.bbox, strict=True))
    if category_ids is not None:
        conditions.append(CATEGORY_CONDITION)
        params["category_ids"] = category_ids
    if search.statuses:
        conditions.append("c.status = ANY(CAST(:statuses AS text[]))")
        params["statuses"] = list(search.statuses)
    if search.maintainer_id is not None:
        conditions.append("c.maintainer_department_id = :maintainer")
        params["maintainer"] = search.maintainer_id
    return Statement(" AND ".join(conditions), params)


SEARCH_SQL = f"""
    SELECT c.id, c.code, k.code AS category_code, k.name_zh AS category_name, c.status,
           c.maintainer_department_id, d.name AS maintainer_name,
           ST_AsGeoJSON(c.geom, {GEOJSON_DECIMALS})::json AS geometry
    FROM component c JOIN category k ON k.id = c.category_id
    LEFT JOIN department d ON d.id = c.maintainer_department_id
    WHERE {{where}} AND c.id > :after
    ORDER BY c.id LIMIT :limit
"""


def search_components(
    session: Session, search: ComponentSearch, *, count_cap: int = COUNT_CAP
) -> ComponentFeatureCollection:
    """One page (ordered by id) of the components matching the search, as GeoJSON, and how
    many match in all (counted up to `count_cap`)."""
    check_maintainer(session, search.maintainer_id)
    where = search_conditions(search, checked_category_ids(session, search.category))
    params = {**where.params, "after": search.after_id or 0, "limit": search.limit + 1}
    rows = session.execute(text(SEARCH_SQL.format(where=where.sql)), params).all()
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    if search.after_id is None and not more:
        total = len(rows)
    else:
        total = capped_count(session, where, cap=count_cap)
    return ComponentFeatureCollection(
        features=[component_feature(row) for row in rows],
        total=total,
        total_capped=total >= count_cap,
        limit=search.limit,
        next_after=rows[-1].id if more else None,
    )


def capped_count(session: Session, where: Statement, *, cap: int) -> int:
    """How many components match `where`, counting no further than `cap`."""
    sql = f"SELECT count(*) FROM (SELECT 1 FROM component c WHERE {where.sql} LIMIT :cap) s"
    return int(session.scalar(text(sql), {**where.params, "cap": cap}) or 0)


def component_feature(row: Row[Any]) -> ComponentFeature:
    """A search row as a GeoJSON Feature."""
    properties = ComponentFeatureProperties(
        id=row.id,
        code=row.code,
        category_code=row.category_code,
        category_name=row.category_name,
        status=row.status,
        maintainer_department_id=row.maintainer_department_id,
        maintainer_name=row.maintainer_name,
    )
    return ComponentFeature(id=row.code, geometry=row.geometry, properties=properties)


def year_start(now: datetime) -> datetime:
    """The start of `now`'s calendar year in the city's time zone."""
    local = now.astimezone(CITY_TIME_ZONE)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


CASE_COUNTS_SQL = f"""
    SELECT count(*) FILTER (WHERE {COUNTED_CASE}) AS total,
           count(*) FILTER (WHERE {COUNTED_CASE} AND e.created_at >= :year_start) AS this_year,
           count(*) FILTER (WHERE {COUNTED_CASE}
                            AND e.status = ANY(CAST(:open_statuses AS text[]))) AS open
    FROM event_case e WHERE e.component_id = :component_id
"""


def case_counts(session: Session, component_id: int, *, now: datetime) -> CaseCounts:
    """The component's counted cases: in all, this calendar year, and still open."""
    params = {
        "component_id": component_id,
        "year_start": year_start(now),
        "not_counted": NOT_COUNTED_CASE_STATUSES,
        "open_statuses": OPEN_CASE_STATUSES,
    }
    row = session.execute(text(CASE_COUNTS_SQL), params).one()
    return CaseCounts(total=row.total, this_year=row.this_year, open=row.open)


def department_object(alias: str, role: str) -> str:
    """A SQL select item: the joined department `alias` as JSON (id, code, name), or NULL."""
    return (
        f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE json_build_object("
        f"'id', {alias}.id, 'code', {alias}.code, 'name', {alias}.name) END AS {role}"
    )


DEPARTMENT_OBJECTS = ", ".join(
    department_object(alias, role)
    for alias, role in (("o", "owner"), ("s", "supervisor"), ("m", "maintainer"))
)
COMPONENT_SQL = f"""
    SELECT c.id, c.code, c.status, c.name, c.address, c.attributes, c.created_at, c.updated_at,
           ST_AsGeoJSON(c.geom, {GEOJSON_DECIMALS})::json AS geometry, g.code AS cell_code,
           json_build_object('id', k.id, 'code', k.code, 'name_zh', k.name_zh,
                             'name_en', k.name_en, 'standard', k.standard) AS category,
           {DEPARTMENT_OBJECTS}
    FROM component c JOIN category k ON k.id = c.category_id
    LEFT JOIN grid_cell g ON g.id = c.cell_id
    LEFT JOIN department o ON o.id = c.owner_department_id
    LEFT JOIN department s ON s.id = c.supervisor_department_id
    LEFT JOIN department m ON m.id = c.maintainer_department_id
    WHERE c.id = :component_id
"""


def department_ref(value: dict[str, Any] | None) -> DepartmentRef | None:
    return None if value is None else DepartmentRef.model_validate(value)


def component_detail(
    session: Session, component_id: int, *, now: datetime | None = None
) -> ComponentRead:
    """One component with its category, cell code, departments (names) and case counts;
    NotFound when there is none with that id."""
    row = session.execute(text(COMPONENT_SQL), {"component_id": component_id}).one_or_none()
    if row is None:
        raise NotFound(f"no component with id {component_id}")
    return ComponentRead(
        id=row.id,
        code=row.code,
        category=CategoryRef.model_validate(row.category),
        status=row.status,
        name=row.name,
        address=row.address,
        geometry=row.geometry,
        cell_code=row.cell_code,
        owner=department_ref(row.owner),
        supervisor=department_ref(row.supervisor),
        maintainer=department_ref(row.maintainer),
        attributes=row.attributes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        case_counts=case_counts(session, row.id, now=now or datetime.now(CITY_TIME_ZONE)),
    )


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
    session: Session, component_id: int, *, now: datetime | None = None
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
    counts = case_counts(session, component_id, now=now or datetime.now(CITY_TIME_ZONE))
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
