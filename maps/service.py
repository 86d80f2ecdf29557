"""The numbers behind the maps: per-unit aggregates, heat points, markers, outlines and hotspots.

Every aggregate is one set-based statement over `event_case` grouped by cell, so a map's size
follows the number of cells, never the number of reports. A "report" here is a reported problem:
merged duplicates (`merged_into_id` set) are counted once, on the case they were merged into.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import NotFound
from events.lifecycle import OPEN_STATUSES
from maps import hotspots as gi_star
from maps import weights as grid_weights
from maps.schemas import (
    CaseMarker,
    CellHotspot,
    HotspotResult,
    HotspotTimings,
    MapFilters,
    Metric,
    Unit,
    UnitValue,
)

METRES_PER_DEGREE = 111_320.0
GEOJSON_DECIMALS = 5  # about 1 m: enough for cells of 50-200 m, and it halves the page size
OPEN_STATUS_LIST = sorted(status.value for status in OPEN_STATUSES)
NOT_COUNTED_OVERDUE = ["cancelled", "not_filed"]

# The communities inside the filtered district, street or community.
AREA_COMMUNITIES = """
    SELECT m.id FROM grid_region m JOIN grid_region s ON s.id = m.parent_id
    WHERE m.level = 'community' AND :area_code IN (
        m.code, s.code, (SELECT d.code FROM grid_region d WHERE d.id = s.parent_id))
"""

# Per-cell counts over the filtered cases; each metric computes only the ones it needs (a
# FILTER over a million rows costs as much as the scan).
COUNTS = {
    "reports": "count(*)",
    "open_backlog": f"count(*) FILTER (WHERE e.status = ANY(ARRAY{OPEN_STATUS_LIST}))",
    "overdue": (
        "count(*) FILTER (WHERE e.due_at < coalesce(e.handled_at, now()) "
        f"AND e.status <> ALL(ARRAY{NOT_COUNTED_OVERDUE}))"
    ),
    "handled_on_time": "count(*) FILTER (WHERE e.handled_at <= e.due_at)",
    "handled_with_due": (
        "count(*) FILTER (WHERE e.handled_at IS NOT NULL AND e.due_at IS NOT NULL)"
    ),
}
METRIC_COUNTS = {
    Metric.REPORTS: ["reports"],
    Metric.REPORTS_PER_KM2: ["reports"],
    Metric.OPEN_BACKLOG: ["open_backlog"],
    Metric.OVERDUE: ["overdue"],
    Metric.ON_TIME_RATE: ["handled_on_time", "handled_with_due"],
}
METRIC_VALUE = {
    Metric.REPORTS: "u.reports::float8",
    Metric.REPORTS_PER_KM2: "u.reports * 1e6 / nullif(u.area_m2, 0)",
    Metric.OPEN_BACKLOG: "u.open_backlog::float8",
    Metric.OVERDUE: "u.overdue::float8",
    Metric.ON_TIME_RATE: "u.handled_on_time::float8 / nullif(u.handled_with_due, 0)",
}
REGION_KEY = {Unit.COMMUNITY: "c.community_id", Unit.STREET: "m.parent_id"}


@dataclass(frozen=True)
class Statement:
    """SQL text and its parameters."""

    sql: str
    params: dict[str, Any]


def cell_condition(filters: MapFilters) -> Statement:
    """A condition on `grid_cell c`: the cell lies in the filtered area (TRUE without one)."""
    if filters.area_code is None:
        return Statement("TRUE", {})
    return Statement(f"c.community_id IN ({AREA_COMMUNITIES})", {"area_code": filters.area_code})


def case_conditions(filters: MapFilters, *, period: bool = True) -> Statement:
    """The WHERE conditions (on `event_case e`) and parameters selecting the filtered cases."""
    conditions = ["e.merged_into_id IS NULL"]
    params: dict[str, Any] = {"period_from": filters.period_from, "period_to": filters.period_to}
    if period:
        conditions.append("e.created_at >= :period_from AND e.created_at < :period_to")
    if filters.category is not None:
        conditions.append(
            "e.category_id IN (SELECT k.id FROM category k LEFT JOIN category p "
            "ON p.id = k.parent_id WHERE :category IN (k.code, p.code))"
        )
        params["category"] = filters.category
    if filters.status:
        conditions.append("e.status = ANY(:statuses)")
        params["statuses"] = list(filters.status)
    if filters.urgency is not None:
        conditions.append("e.urgency = :urgency")
        params["urgency"] = filters.urgency
    if filters.department_code is not None:
        conditions.append("e.department_id = (SELECT id FROM department WHERE code = :department)")
        params["department"] = filters.department_code
    if filters.area_code is not None:
        area = cell_condition(filters)
        conditions.append(f"e.cell_id IN (SELECT c.id FROM grid_cell c WHERE {area.sql})")
        params.update(area.params)
    return Statement(" AND ".join(conditions), params)


def case_counts(filters: MapFilters, names: list[str]) -> Statement:
    """Per cell (`cell_id`), the named counts of the filtered cases."""
    cases = case_conditions(filters)
    columns = ", ".join(f"{COUNTS[name]} AS {name}" for name in names)
    sql = f"SELECT e.cell_id, {columns} FROM event_case e WHERE {cases.sql} GROUP BY e.cell_id"
    return Statement(sql, cases.params)


def check_area(session: Session, filters: MapFilters) -> None:
    """Raise NotFound when the area code names no region."""
    if filters.area_code is None:
        return
    found = session.scalar(
        text("SELECT 1 FROM grid_region WHERE code = :code"), {"code": filters.area_code}
    )
    if found is None:
        raise NotFound(f"no district, street or community with code {filters.area_code}")


def units_with_counts(unit: Unit, filters: MapFilters, names: list[str]) -> Statement:
    """Rows (unit_id, code, name, area_m2, counts…) of every unit in the area, zeros included."""
    counts = case_counts(filters, names)
    area = cell_condition(filters)
    if unit is Unit.CELL:
        columns = ", ".join(f"coalesce(n.{name}, 0) AS {name}" for name in names)
        sql = f"""
            SELECT c.id AS unit_id, c.code, c.name, c.area_m2, {columns}
            FROM grid_cell c LEFT JOIN ({counts.sql}) n ON n.cell_id = c.id
            WHERE {area.sql}
        """
        return Statement(sql, {**counts.params, **area.params})
    sums = ", ".join(f"coalesce(sum(n.{name}), 0) AS {name}" for name in names)
    sql = f"""
        SELECT t.id AS unit_id, t.code, t.name, a.*
        FROM (
            SELECT {REGION_KEY[unit]} AS region_id, sum(c.area_m2) AS area_m2, {sums}
            FROM grid_cell c JOIN grid_region m ON m.id = c.community_id
            LEFT JOIN ({counts.sql}) n ON n.cell_id = c.id
            WHERE {area.sql}
            GROUP BY 1
        ) a JOIN grid_region t ON t.id = a.region_id
    """
    return Statement(sql, {**counts.params, **area.params})


def unit_values(
    session: Session, unit: Unit, metric: Metric, filters: MapFilters
) -> list[UnitValue]:
    """The metric for every cell, community or street of the filtered area, in code order."""
    check_area(session, filters)
    units = units_with_counts(unit, filters, METRIC_COUNTS[metric])
    sql = f"""
        SELECT u.unit_id, u.code, u.name, {METRIC_VALUE[metric]} AS value
        FROM ({units.sql}) u ORDER BY u.code
    """
    rows = session.execute(text(sql), units.params)
    return [UnitValue(row.unit_id, row.code, row.name, row.value) for row in rows]


def unit_count(session: Session, unit: Unit, filters: MapFilters) -> int:
    """How many cells, communities or streets the filtered area has (cheap: no case is read),
    so a page can pick a coarser unit before aggregating."""
    check_area(session, filters)
    area = cell_condition(filters)
    counted = {Unit.CELL: "c.id", **REGION_KEY}[unit]
    sql = (
        f"SELECT count(DISTINCT {counted}) FROM grid_cell c "
        f"JOIN grid_region m ON m.id = c.community_id WHERE {area.sql}"
    )
    return int(session.scalar(text(sql), area.params) or 0)


def unit_counts(session: Session, filters: MapFilters) -> dict[Unit, int]:
    """How many cells, communities and streets the filtered area has (one scan of its cells)."""
    area = cell_condition(filters)
    row = session.execute(
        text(
            "SELECT count(*) AS cells, count(DISTINCT c.community_id) AS communities, "
            "count(DISTINCT m.parent_id) AS streets "
            f"FROM grid_cell c JOIN grid_region m ON m.id = c.community_id WHERE {area.sql}"
        ),
        area.params,
    ).one()
    return {Unit.CELL: row.cells, Unit.COMMUNITY: row.communities, Unit.STREET: row.streets}


def heat_points(session: Session, filters: MapFilters) -> list[tuple[float, float, float]]:
    """(lat, lon, reports) per cell with reports, in cell id order: one point on each cell's
    surface (cached per grid revision), weighted by the cell's count."""
    check_area(session, filters)
    counts = case_counts(filters, ["reports"])
    rows = session.execute(text(f"{counts.sql} ORDER BY e.cell_id"), counts.params).all()
    if not rows:
        return []
    cell_ids = np.array([row.cell_id for row in rows], dtype=np.int64)
    points = grid_weights.grid_points(session)
    if not points.covers(cell_ids):  # cells added without a new grid revision
        points = grid_weights.load_points(session)
    lat, lon = points.locate(cell_ids)
    weights = [float(row.reports) for row in rows]
    return list(zip(np.round(lat, 6).tolist(), np.round(lon, 6).tolist(), weights, strict=True))


def case_markers(
    session: Session, filters: MapFilters, *, cap: int
) -> tuple[int, list[CaseMarker]]:
    """How many cases match, and their markers when that is at most `cap` (else no markers)."""
    check_area(session, filters)
    cases = case_conditions(filters)
    sql = f"""
        SELECT e.id, e.number, ST_Y(e.geom) AS lat, ST_X(e.geom) AS lon, e.status,
               k.code AS category_code, e.urgency
        FROM event_case e JOIN category k ON k.id = e.category_id
        WHERE {cases.sql}
        ORDER BY e.id LIMIT :limit
    """
    rows = session.execute(text(sql), {**cases.params, "limit": cap + 1}).all()
    if len(rows) <= cap:
        markers = [
            CaseMarker(r.id, r.number, r.lat, r.lon, r.status, r.category_code, r.urgency)
            for r in rows
        ]
        return len(rows), markers
    count_sql = f"SELECT count(*) FROM event_case e WHERE {cases.sql}"
    return int(session.scalar(text(count_sql), cases.params) or 0), []


def feature_collection(session: Session, units_sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON FeatureCollection of `units_sql`'s rows (id, code, name, geom, properties json),
    simplified by `:tolerance` degrees, coordinates rounded to about 1 m."""
    sql = f"""
        SELECT coalesce(json_agg(json_build_object(
            'type', 'Feature', 'id', u.code, 'properties', u.properties,
            'geometry', ST_AsGeoJSON(
                ST_SimplifyPreserveTopology(u.geom, :tolerance), {GEOJSON_DECIMALS})::json
        ) ORDER BY u.code), '[]'::json)::text
        FROM ({units_sql}) u
    """
    features = session.scalar(text(sql), params)
    return {"type": "FeatureCollection", "features": json.loads(features or "[]")}


def properties_of(alias: str) -> str:
    """The feature properties (id, code, name) of a cell or region row."""
    return (
        f"json_build_object('id', {alias}.id, 'code', {alias}.code, 'name', {alias}.name) "
        "AS properties"
    )


def unit_outlines(
    session: Session, unit: Unit, filters: MapFilters, *, simplify_m: float
) -> dict[str, Any]:
    """GeoJSON FeatureCollection of the units of the filtered area (properties id, code, name),
    simplified by `simplify_m` metres, coordinates rounded to about 1 m."""
    check_area(session, filters)
    area = cell_condition(filters)
    if unit is Unit.CELL:
        units = f"SELECT c.code, c.geom, {properties_of('c')} FROM grid_cell c WHERE {area.sql}"
    else:
        units = (
            f"SELECT r.code, r.geom, {properties_of('r')} FROM grid_region r WHERE r.id IN "
            f"(SELECT DISTINCT {REGION_KEY[unit]} FROM grid_cell c "
            f"JOIN grid_region m ON m.id = c.community_id WHERE {area.sql})"
        )
    tolerance = simplify_m / METRES_PER_DEGREE
    return feature_collection(session, units, {**area.params, "tolerance": tolerance})


def cell_geometries(
    session: Session, cell_ids: Sequence[int], *, simplify_m: float
) -> dict[int, dict[str, Any]]:
    """GeoJSON geometry of each given cell, simplified, coordinates rounded to about 1 m."""
    rows = session.execute(
        text(
            "SELECT id, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tolerance), "
            f"{GEOJSON_DECIMALS})::json AS geometry "
            "FROM grid_cell WHERE id = ANY(:ids)"
        ),
        {"ids": list(cell_ids), "tolerance": simplify_m / METRES_PER_DEGREE},
    )
    return {row.id: row.geometry for row in rows}


def outlines_base(
    session: Session, filters: MapFilters, *, simplify_m: float = 10.0
) -> dict[str, Any]:
    """GeoJSON of the district, street and community outlines over the filtered area (property
    `level`), the base layer when there are no tiles."""
    check_area(session, filters)
    area = cell_condition(filters)  # only its parameters: the communities come from the area
    communities = (
        "SELECT id FROM grid_region WHERE level = 'community'"
        if filters.area_code is None
        else AREA_COMMUNITIES
    )
    units = f"""
        SELECT r.code, r.geom,
               json_build_object('code', r.code, 'name', r.name, 'level', r.level) AS properties
        FROM grid_region r
        WHERE r.id IN (
            WITH community AS ({communities}),
            street AS (SELECT DISTINCT parent_id AS id FROM grid_region
                       WHERE id IN (SELECT * FROM community))
            SELECT * FROM community UNION ALL SELECT * FROM street
            UNION ALL
            SELECT DISTINCT parent_id FROM grid_region WHERE id IN (SELECT id FROM street))
    """
    tolerance = simplify_m / METRES_PER_DEGREE
    return feature_collection(session, units, {**area.params, "tolerance": tolerance})


@dataclass(frozen=True)
class CellCounts:
    """Cells of the filtered area in id order, with their counts now and in the previous period."""

    ids: np.ndarray
    codes: list[str]
    names: list[str]
    current: np.ndarray
    previous: np.ndarray


def cell_counts(session: Session, filters: MapFilters) -> CellCounts:
    """Reports per cell of the filtered area, this period and the previous one (one scan)."""
    area = cell_condition(filters)
    previous = filters.previous_period()
    cases = case_conditions(filters, period=False)
    sql = f"""
        SELECT c.id, c.code, c.name, coalesce(n.current, 0) AS current,
               coalesce(n.previous, 0) AS previous
        FROM grid_cell c LEFT JOIN (
            SELECT e.cell_id,
                   count(*) FILTER (WHERE e.created_at >= :period_from) AS current,
                   count(*) FILTER (WHERE e.created_at < :period_from) AS previous
            FROM event_case e
            WHERE e.created_at >= :previous_from AND e.created_at < :period_to AND {cases.sql}
            GROUP BY e.cell_id
        ) n ON n.cell_id = c.id
        WHERE {area.sql}
        ORDER BY c.id
    """
    params = {**area.params, **cases.params, "previous_from": previous.period_from}
    rows = session.execute(text(sql), params).all()
    return CellCounts(
        ids=np.array([row.id for row in rows], dtype=np.int64),
        codes=[row.code for row in rows],
        names=[row.name for row in rows],
        current=np.array([row.current for row in rows], dtype=np.float64),
        previous=np.array([row.previous for row in rows], dtype=np.float64),
    )


def hotspots(
    session: Session, filters: MapFilters, *, confidence: float = 0.95, fdr: bool = True
) -> HotspotResult:
    """Gi* per cell of the filtered area on this period's counts, classed at 90/95/99 % (cells
    below `confidence` are 'ns'), with the trend against the previous period of the same length."""
    gi_star.check_confidence(confidence)
    check_area(session, filters)
    started = time.perf_counter()
    counts = cell_counts(session, filters)
    aggregated = time.perf_counter()
    graph, cached = grid_weights.weights_for(session, counts.ids)
    weighted = time.perf_counter()
    analysis = gi_star.analyse(
        graph.weights, counts.current, counts.previous, confidence=confidence, fdr=fdr
    )
    done = time.perf_counter()
    cells = [
        CellHotspot(
            cell_id=int(counts.ids[row]),
            code=counts.codes[row],
            name=counts.names[row],
            count=int(counts.current[row]),
            previous_count=int(counts.previous[row]),
            z=float(analysis.z[row]),
            p=float(analysis.p[row]),
            hotspot_class=analysis.classes[row],
            trend=analysis.trends[row],
        )
        for row in range(len(counts.ids))
    ]
    timings = HotspotTimings(aggregated - started, weighted - aggregated, cached, done - weighted)
    return HotspotResult(cells, confidence, fdr, graph.kind, timings, message=analysis.message)
