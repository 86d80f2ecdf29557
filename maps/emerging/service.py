"""Emerging hot spots of the filtered cases: the space-time cube (one set-based statement of
counts per location × period), the spatial weights (the cells' cached graph from
`maps.weights`; communities' and streets' built the same way, cached per grid revision) and the
analysis of `analysis.emerging.cube`.

A location is a cell, community or street of the area, zeros included; a period a whole week or
calendar month in the city's time zone (`analysis.emerging.periods`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely
from libpysal.graph import Graph
from sqlalchemy import text
from sqlalchemy.orm import Session

from analysis.emerging import cube
from analysis.emerging.categories import EmergingCategory
from analysis.emerging.periods import PeriodUnit
from grid.revision import grid_revision
from maps import service as map_service
from maps import weights as grid_weights
from maps.schemas import MapFilters, Unit

TOO_FEW_LOCATIONS = f"fewer than {cube.MIN_LOCATIONS} locations in the area: no analysis"
NO_REPORTS = "no reports in the periods"
REGION_LEVEL = {Unit.COMMUNITY: "community", Unit.STREET: "street"}
# Where the statement finds each case's location.
LOCATION_OF_CASE = {
    Unit.CELL: ("e.cell_id", ""),
    Unit.COMMUNITY: ("c.community_id", "JOIN grid_cell c ON c.id = e.cell_id"),
    Unit.STREET: (
        "m.parent_id",
        "JOIN grid_cell c ON c.id = e.cell_id JOIN grid_region m ON m.id = c.community_id",
    ),
}
_region_weights: dict[tuple[str, str], grid_weights.CellWeights] = {}
_region_lock = threading.Lock()


@dataclass(frozen=True)
class EmergingOptions:
    """What the analysis counts and how: unit, period length, the periods' bounds (oldest first,
    aware), confidence and FDR."""

    unit: Unit
    period: PeriodUnit
    bounds: list[datetime]
    confidence: float = 0.95
    fdr: bool = True


@dataclass(frozen=True)
class Locations:
    """The area's locations in id order."""

    ids: npt.NDArray[np.int64]
    codes: list[str]
    names: list[str]


@dataclass(frozen=True)
class EmergingLocation:
    """One location's result: its category, the trend of its Gi* z-scores (None: no period was
    significant, so it was not tested), its cases and how many periods were hot and cold."""

    location_id: int
    code: str
    name: str
    category: EmergingCategory
    reports: int
    last_period_reports: int
    hot_periods: int
    cold_periods: int
    tau: float | None
    trend_p: float | None
    last_z: float


@dataclass(frozen=True)
class EmergingReport:
    """Every location of the area with its category, and how the analysis was made."""

    locations: list[EmergingLocation]
    options: EmergingOptions
    weights_kind: str
    weights_cached: bool
    timings_s: dict[str, float] = field(default_factory=dict)
    message: str | None = None

    def counts(self) -> dict[EmergingCategory, int]:
        """How many locations fell in each category (no pattern left out)."""
        found: dict[EmergingCategory, int] = {}
        for location in self.locations:
            if location.category is not EmergingCategory.NONE:
                found[location.category] = found.get(location.category, 0) + 1
        return found


def area_locations(session: Session, unit: Unit, filters: MapFilters) -> Locations:
    """The cells, communities or streets of the filtered area, in id order."""
    area = map_service.cell_condition(filters)
    if unit is Unit.CELL:
        sql = f"SELECT c.id, c.code, c.name FROM grid_cell c WHERE {area.sql} ORDER BY c.id"
    else:
        sql = (
            "SELECT r.id, r.code, r.name FROM grid_region r WHERE r.id IN ("
            f"SELECT DISTINCT {map_service.REGION_KEY[unit]} FROM grid_cell c "
            f"JOIN grid_region m ON m.id = c.community_id WHERE {area.sql}) ORDER BY r.id"
        )
    rows = session.execute(text(sql), area.params).all()
    return Locations(
        np.array([row.id for row in rows], dtype=np.int64),
        [row.code for row in rows],
        [row.name for row in rows],
    )


def count_cube(
    session: Session, filters: MapFilters, options: EmergingOptions, locations: Locations
) -> npt.NDArray[np.float64]:
    """Cases per location (rows, in `locations` order) and period (columns, oldest first): one
    statement grouping the filtered cases by location and period, one row per period back."""
    key, joins = LOCATION_OF_CASE[options.unit]
    cases = map_service.case_conditions(filters)
    sql = f"""
        SELECT q.period, array_agg(q.location_id) AS ids, array_agg(q.n) AS counts
        FROM (
            SELECT {key} AS location_id,
                   width_bucket(e.created_at, CAST(:bounds AS timestamptz[])) AS period,
                   count(*) AS n
            FROM event_case e {joins}
            WHERE {cases.sql} AND e.cell_id IS NOT NULL
            GROUP BY 1, 2
        ) q
        GROUP BY q.period
    """
    params = {**cases.params, "bounds": options.bounds}
    periods = len(options.bounds) - 1
    counts = np.zeros((len(locations.ids), periods))
    if len(locations.ids) == 0:
        return counts
    for row in session.execute(text(sql), params):
        ids = np.asarray(row.ids, dtype=np.int64)
        rows = np.minimum(np.searchsorted(locations.ids, ids), len(locations.ids) - 1)
        inside = locations.ids[rows] == ids  # the area's cases lie in its locations
        counts[rows[inside], row.period - 1] = np.asarray(row.counts, dtype=np.float64)[inside]
    return counts


def location_weights(
    session: Session, unit: Unit, ids: npt.NDArray[np.int64]
) -> tuple[grid_weights.CellWeights, bool]:
    """The weights over exactly `ids` (ascending): the cells' cached graph, or the communities'
    or streets' (queen contiguity, else a distance band, as for cells), built once per grid
    revision; and whether they came from the cache."""
    if unit is Unit.CELL:
        return grid_weights.weights_for(session, ids)
    key = (grid_revision(session), REGION_LEVEL[unit])
    with _region_lock:
        full = _region_weights.get(key)
    cached = full is not None
    if full is None:
        rows = session.execute(
            text("SELECT id, ST_AsBinary(geom) AS wkb FROM grid_region WHERE level = :level"),
            {"level": REGION_LEVEL[unit]},
        ).all()
        all_ids = np.array([row.id for row in rows], dtype=np.int64)
        polygons = shapely.from_wkb([row.wkb for row in rows]) if rows else np.array([], object)
        full = grid_weights.build_weights(all_ids, polygons)
        with _region_lock:
            while len(_region_weights) >= 2 * grid_weights.KEEP_REVISIONS:
                _region_weights.pop(next(iter(_region_weights)))
            _region_weights[key] = full
    if len(ids) == len(full.ids) and np.array_equal(ids, full.ids):
        return full, cached
    return grid_weights.CellWeights(full.weights.subgraph(ids), full.kind), cached


def analysis_weights(
    session: Session, unit: Unit, ids: npt.NDArray[np.int64]
) -> tuple[grid_weights.CellWeights, bool]:
    """`location_weights`, or with too few locations for an analysis a graph without edges
    (nothing is built or cut for them)."""
    if len(ids) >= cube.MIN_LOCATIONS:
        return location_weights(session, unit, ids)
    return grid_weights.CellWeights(Graph.from_arrays(ids, ids, np.zeros(len(ids))), "queen"), False


def emerging_hot_spots(
    session: Session, filters: MapFilters, options: EmergingOptions
) -> EmergingReport:
    """The emerging hot spot category of every location of the filtered area over the periods
    (`filters`' own period is the periods' span)."""
    map_service.check_area(session, filters)
    started = time.perf_counter()
    locations = area_locations(session, options.unit, filters)
    counts = count_cube(session, filters, options, locations)
    counted = time.perf_counter()
    weights, cached = analysis_weights(session, options.unit, locations.ids)
    order = np.searchsorted(locations.ids, weights.ids)  # the graph's order of the locations
    weighted = time.perf_counter()
    result = cube.emerging_hot_spots(
        weights.weights, counts[order], confidence=options.confidence, fdr=options.fdr
    )
    done = time.perf_counter()
    timings = {"cube_s": counted - started, "weights_s": weighted - counted,
               "analysis_s": done - weighted}  # fmt: skip
    return EmergingReport(
        located(locations, counts, order, result),
        options,
        weights.kind,
        cached,
        timings,
        message=_message(counts),
    )


def located(
    locations: Locations,
    counts: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    result: cube.EmergingResult,
) -> list[EmergingLocation]:
    """Each location's result, in code order."""
    totals, last = counts.sum(axis=1), counts[:, -1]  # there are always ≥ 3 periods
    found = []
    for position, row in enumerate(order.tolist()):
        tau, trend_p = float(result.tau[position]), float(result.trend_p[position])
        found.append(
            EmergingLocation(
                location_id=int(locations.ids[row]),
                code=locations.codes[row],
                name=locations.names[row],
                category=result.categories[position],
                reports=int(totals[row]),
                last_period_reports=int(last[row]),
                hot_periods=int(result.hot_periods[position]),
                cold_periods=int(result.cold_periods[position]),
                tau=None if np.isnan(tau) else tau,
                trend_p=None if np.isnan(trend_p) else trend_p,
                last_z=float(result.z[position, -1]),
            )
        )
    return sorted(found, key=lambda location: location.code)


def _message(counts: npt.NDArray[np.float64]) -> str | None:
    if counts.shape[0] < cube.MIN_LOCATIONS:
        return TOO_FEW_LOCATIONS
    if not counts.any():
        return NO_REPORTS
    return None


def location_geometries(
    session: Session, unit: Unit, ids: list[int], *, simplify_m: float
) -> dict[int, dict[str, object]]:
    """GeoJSON geometry of each given cell or region, simplified, coordinates rounded to ~1 m."""
    if unit is Unit.CELL:
        return map_service.cell_geometries(session, ids, simplify_m=simplify_m)
    rows = session.execute(
        text(
            "SELECT id, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tolerance), "
            f"{map_service.GEOJSON_DECIMALS})::json AS geometry "
            "FROM grid_region WHERE id = ANY(:ids)"
        ),
        {"ids": ids, "tolerance": simplify_m / map_service.METRES_PER_DEGREE},
    )
    return {row.id: row.geometry for row in rows}
