"""Grid service functions: locating points, reading units, writing a generated grid.

Locate rule (documented in the README): a point belongs to the cells whose closed polygon
(boundary included) contains it; on an edge or vertex shared by several cells the cell with the
lowest code wins. A point outside every cell snaps to the nearest cell (geodesic distance, ties to
the lowest code) when it lies within the snap tolerance, and is refused beyond it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.db import RowFetcher
from citygrid.errors import InvalidInput, NotFound, OutsideGrid
from grid import generate_write
from grid.bbox import BBox
from grid.codes import GridLevel, level_of_code
from grid.generate import GeneratedGrid
from grid.geometry import Coordinates, points_to_wgs84
from grid.import_toolkit import ProgressCallback
from grid.imports import ImportOptions
from grid.index import UNITS_OF_CELL, cell_index_for
from grid.revision import grid_revision
from grid.schemas import CellRef, FeatureCollection, Located, NotLocated, UnitRef

# One statement locates a batch of points (a single point is a batch of one). Per point: the
# lowest-coded cell whose closed polygon covers it; only when there is none (the Append stops at
# the first row) the nearest cell: KNN on the GiST index finds candidates by planar distance in
# degrees, and the geodesic distance decides among them. No cells at all → NULLs.
LOCATE_POINTS = f"""
    WITH point AS (
        SELECT p.n, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) AS geom
        FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS p(lon, lat, n)
    )
    SELECT point.n, units.*, chosen.distance_m
    FROM point
    LEFT JOIN LATERAL (
        (SELECT c.id, 0.0::float8 AS distance_m FROM grid_cell c
         WHERE ST_Intersects(c.geom, point.geom) ORDER BY c.code LIMIT 1)
        UNION ALL
        (SELECT near.id, near.distance_m FROM (
             SELECT c.id, c.code,
                    ST_Distance(c.geom::geography, point.geom::geography) AS distance_m
             FROM grid_cell c ORDER BY c.geom <-> point.geom LIMIT 8
         ) near ORDER BY near.distance_m, near.code LIMIT 1)
        LIMIT 1
    ) chosen ON TRUE
    LEFT JOIN LATERAL ({UNITS_OF_CELL} WHERE c.id = chosen.id) units ON TRUE
    ORDER BY point.n
"""


def _located(row: Any, lon: float, lat: float, distance_m: float) -> Located:
    return Located(
        cell=CellRef(code=row.cell_code, name=row.cell_name, area_m2=row.area_m2),
        community=UnitRef(code=row.community_code, name=row.community_name),
        street=UnitRef(code=row.street_code, name=row.street_name),
        district=UnitRef(code=row.district_code, name=row.district_name),
        lon=lon,
        lat=lat,
        snapped=distance_m > 0,
        distance_m=round(distance_m, 2),
    )


def outcome_of_row(row: Any, lon: float, lat: float, snap_m: float) -> Located | NotLocated:
    """Apply the snap tolerance to one row of LOCATE_POINTS."""
    if row.distance_m is None:
        return NotLocated(
            lon=lon,
            lat=lat,
            nearest_cell_distance_m=None,
            error="outside the managed area: the grid has no cells yet",
        )
    if row.distance_m > snap_m:
        return NotLocated(
            lon=lon,
            lat=lat,
            nearest_cell_distance_m=round(row.distance_m, 2),
            error=f"outside the managed area: the nearest cell is {row.distance_m:.0f} m away "
            f"(snapping reaches {snap_m:.0f} m)",
        )
    return _located(row, lon, lat, row.distance_m)


def _locate_rows_sync(session: Session, wgs84: Coordinates) -> Sequence[Any]:
    params = {"lons": wgs84[:, 0].tolist(), "lats": wgs84[:, 1].tolist()}
    return session.connection().exec_driver_sql(LOCATE_POINTS, params).all()


def checked_wgs84(points: Coordinates, crs: str, *, field: str) -> Coordinates:
    """The points in WGS-84; InvalidInput unless every converted point is finite and on the globe.

    Checked after conversion: a finite x/y in a projected CRS can come out as inf or NaN, and
    PostGIS would then "locate" a NaN point in some cell.
    """
    with np.errstate(all="ignore"):  # overflow in the datum formulas is caught just below
        wgs84 = points_to_wgs84(points[:, 0], points[:, 1], crs)
    on_globe = (np.abs(wgs84[:, 0]) <= 180) & (np.abs(wgs84[:, 1]) <= 90)  # False for NaN too
    if not on_globe.all():
        bad = int(np.argmin(on_globe))
        where = f"point {bad}" if len(points) > 1 else "the point"
        finite = bool(np.isfinite(wgs84[bad]).all())
        problem = "is outside lon ±180, lat ±90" if finite else "is not finite"
        raise InvalidInput(f"{where} {problem} once converted from {crs} to WGS-84", field=field)
    return wgs84


async def locate(fetch: RowFetcher, lon: float, lat: float, *, crs: str, snap_m: float) -> Located:
    """The cell of one point by the locate rule; OutsideGrid beyond the snap tolerance."""
    wgs84 = checked_wgs84(np.array([[lon, lat]], dtype=float), crs, field="lon/lat")
    wgs_lon, wgs_lat = float(wgs84[0, 0]), float(wgs84[0, 1])
    rows = await fetch(LOCATE_POINTS, {"lons": [wgs_lon], "lats": [wgs_lat]})
    outcome = outcome_of_row(rows[0], wgs_lon, wgs_lat, snap_m)
    if isinstance(outcome, NotLocated):
        raise OutsideGrid(outcome.error, distance_m=outcome.nearest_cell_distance_m)
    return outcome


def locate_many(
    session: Session, points: Coordinates, *, crs: str, snap_m: float
) -> list[Located | NotLocated]:
    """Locate many points, in order, by the same rule: the cell index answers the points inside
    a cell, one LOCATE_POINTS statement the rest (snapping and refusals)."""
    wgs84 = checked_wgs84(points, crs, field="points")
    index = cell_index_for(session, grid_revision(session))
    cell_rows = index.locate(wgs84)
    results: list[Located | NotLocated | None] = [
        _located(index.units[row], lon, lat, 0.0) if row >= 0 else None
        for (lon, lat), row in zip(wgs84.tolist(), cell_rows.tolist(), strict=True)
    ]
    misses = np.flatnonzero(cell_rows < 0)
    if len(misses):
        rows = _locate_rows_sync(session, wgs84[misses])
        for position, row in zip(misses.tolist(), rows, strict=True):
            lon, lat = wgs84[position].tolist()
            results[position] = outcome_of_row(row, lon, lat, snap_m)
    return [result for result in results if result is not None]


def unit_feature(session: Session, code: str) -> dict[str, Any]:
    """A grid unit of any level as a GeoJSON Feature."""
    level = level_of_code(code)
    if level is None:
        raise NotFound(f"{code!r} is not a grid code (6, 9, 12 or 15 digits)", field="code")
    features = _features(session, level, code=code, bbox=None, limit=1, offset=0)
    if not features:
        raise NotFound(f"no {level} with code {code}", field="code")
    return features[0]


def units_page(
    session: Session,
    level: GridLevel,
    bbox: BBox | None,
    *,
    page: int,
    page_size: int,
) -> FeatureCollection:
    """One page of units of a level, optionally within a bounding box, ordered by code."""
    total = _count(session, level, bbox)
    offset = (page - 1) * page_size
    # Past the end there is nothing to read, and a huge offset would overflow PostgreSQL's bigint.
    features = (
        _features(session, level, code=None, bbox=bbox, limit=page_size, offset=offset)
        if offset < total
        else []
    )
    has_next = page * page_size < total
    return FeatureCollection(
        features=features,
        number_matched=total,
        number_returned=len(features),
        page=page,
        page_size=page_size,
        next_page=page + 1 if has_next else None,
    )


def _unit_source(level: GridLevel) -> str:
    """A FROM clause giving code, name, parent_code, area_m2, geom for one level."""
    if level is GridLevel.CELL:
        return (
            "(SELECT u.code, u.name, p.code AS parent_code, u.area_m2, u.geom, u.area_class, "
            "u.responsible_party FROM grid_cell u JOIN grid_region p ON p.id = u.community_id)"
        )
    return (
        "(SELECT u.code, u.name, p.code AS parent_code, u.area_m2, u.geom, "
        "NULL::text AS area_class, NULL::text AS responsible_party FROM grid_region u "
        f"LEFT JOIN grid_region p ON p.id = u.parent_id WHERE u.level = '{level.value}')"
    )


def _filters(code: str | None, bbox: BBox | None) -> str:
    clauses = ["TRUE"]
    if code is not None:
        clauses.append("unit.code = :code")
    if bbox is not None:
        clauses.append("unit.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)")
        clauses.append(
            "ST_Intersects(unit.geom, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326))"
        )
    return " AND ".join(clauses)


def _params(code: str | None, bbox: BBox | None) -> dict[str, Any]:
    params: dict[str, Any] = {"code": code}
    if bbox is not None:
        params.update(zip(("xmin", "ymin", "xmax", "ymax"), bbox, strict=True))
    return params


def _count(session: Session, level: GridLevel, bbox: BBox | None) -> int:
    sql = f"SELECT count(*) FROM {_unit_source(level)} unit WHERE {_filters(None, bbox)}"
    return int(session.scalar(text(sql), _params(None, bbox)) or 0)


def _features(
    session: Session,
    level: GridLevel,
    *,
    code: str | None,
    bbox: BBox | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    sql = f"""
        SELECT unit.code, unit.name, unit.parent_code, unit.area_m2, unit.area_class,
               unit.responsible_party, ST_AsGeoJSON(unit.geom, 7) AS geojson
        FROM {_unit_source(level)} unit WHERE {_filters(code, bbox)}
        ORDER BY unit.code LIMIT :limit OFFSET :offset
    """
    rows = session.execute(text(sql), {**_params(code, bbox), "limit": limit, "offset": offset})
    return [
        {
            "type": "Feature",
            "id": row.code,
            "geometry": json.loads(row.geojson),
            "properties": {
                "code": row.code,
                "name": row.name,
                "level": level.value,
                "parent_code": row.parent_code,
                "area_m2": round(row.area_m2, 1),
                "area_class": row.area_class,
                "responsible_party": row.responsible_party,
            },
        }
        for row in rows
    ]


def write_generated_grid(
    session: Session,
    generated: GeneratedGrid,
    options: ImportOptions,
    progress: ProgressCallback | None = None,
) -> dict[GridLevel, int]:
    """Write a generated grid: the district through the import checks, the rest set-based
    (grid.generate_write); all or nothing."""
    return generate_write.write_generated_grid(session, generated, options, progress)


def district_exists(session: Session, code: str) -> bool:
    found = session.scalar(text("SELECT 1 FROM grid_region WHERE code = :code"), {"code": code})
    return found is not None


def locate_one(session: Session, lon: float, lat: float, *, crs: str, snap_m: float) -> Located:
    """The cell of one point by the locate rule, as GET /api/grid/locate answers it (the CLI's
    `grid locate`); InvalidInput for a point off the globe, OutsideGrid beyond the snap
    tolerance."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidInput("lon and lat must be finite numbers", field="lon/lat")
    wgs84 = checked_wgs84(np.array([[lon, lat]], dtype=float), crs, field="lon/lat")
    wgs_lon, wgs_lat = float(wgs84[0, 0]), float(wgs84[0, 1])
    rows = _locate_rows_sync(session, wgs84)
    outcome = outcome_of_row(rows[0], wgs_lon, wgs_lat, snap_m)
    if isinstance(outcome, NotLocated):
        raise OutsideGrid(outcome.error, distance_m=outcome.nearest_cell_distance_m)
    return outcome
