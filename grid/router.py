"""HTTP routes of the grid."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from citygrid.auth import ALL_ROLES, Allow, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, get_settings
from grid import service
from grid.codes import GridLevel
from grid.schemas import BulkLocateRequest, BulkLocateResponse, FeatureCollection, Located

router = APIRouter(prefix="/api/grid", tags=["grid"], route_class=RoleCheckedRoute)
SettingsDep = Annotated[Settings, Depends(get_settings)]
ANYONE_SIGNED_IN = Depends(Allow(*ALL_ROLES))


@router.get("/locate", dependencies=[ANYONE_SIGNED_IN])
def locate_point(
    session: SessionDep,
    settings: SettingsDep,
    lon: Annotated[float, Query(description="longitude (or x in a projected CRS)")],
    lat: Annotated[float, Query(description="latitude (or y in a projected CRS)")],
    crs: Annotated[str, Query(description="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09, EPSG:xxxx")] = "EPSG:4326",
) -> Located:
    """The unit cell containing a point, with its community, street and district."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidInput("lon and lat must be finite numbers", field="lon/lat")
    return service.locate(session, lon, lat, crs=crs, snap_m=settings.locate_snap_m)


@router.post("/locate", dependencies=[ANYONE_SIGNED_IN])
def locate_points(
    request: BulkLocateRequest, session: SessionDep, settings: SettingsDep
) -> BulkLocateResponse:
    """Locate up to `locate_bulk_max` (10,000) points; results come in the order sent."""
    if len(request.points) > settings.locate_bulk_max:
        raise InvalidInput(
            f"at most {settings.locate_bulk_max} points per request, got {len(request.points)}",
            field="points",
        )
    points = np.array(request.points, dtype=float)
    results = service.locate_many(session, points, crs=request.crs, snap_m=settings.locate_snap_m)
    located = sum(1 for result in results if isinstance(result, Located))
    return BulkLocateResponse(located=located, not_located=len(results) - located, results=results)


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        xmin, ymin, xmax, ymax = (float(part) for part in bbox.split(","))
    except ValueError as error:
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat", field="bbox") from error
    if not (np.isfinite([xmin, ymin, xmax, ymax]).all() and xmin <= xmax and ymin <= ymax):
        raise InvalidInput("bbox must be finite with min <= max", field="bbox")
    return xmin, ymin, xmax, ymax


@router.get("/cells", dependencies=[ANYONE_SIGNED_IN])
def list_units(
    session: SessionDep,
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")] = None,
    level: GridLevel = GridLevel.CELL,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int | None, Query(ge=1, description="at most cells_page_max")] = None,
) -> FeatureCollection:
    """Units of one level as a GeoJSON FeatureCollection, ordered by code, one page at a time."""
    size = page_size or min(500, settings.cells_page_max)
    if size > settings.cells_page_max:
        raise InvalidInput(f"page_size may be at most {settings.cells_page_max}", field="page_size")
    return service.units_page(session, level, parse_bbox(bbox), page=page, page_size=size)


@router.get("/cells/{code}", dependencies=[ANYONE_SIGNED_IN])
def get_unit(code: str, session: SessionDep) -> dict[str, Any]:
    """One unit (cell, community, street or district) by its code, as a GeoJSON Feature."""
    return service.unit_feature(session, code)
