"""HTTP routes of the grid."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Role
from citygrid.api_types import BBoxText
from citygrid.db import FetchDep, SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from grid import imports, service
from grid.bbox import parse_bbox
from grid.codes import GridLevel
from grid.import_toolkit import save_upload
from grid.schemas import BulkLocateRequest, BulkLocateResponse, FeatureCollection, Located

router = APIRouter(prefix="/api/grid", tags=["grid"], route_class=RoleCheckedRoute)
ANYONE_SIGNED_IN = Depends(Allow(*ALL_ROLES))
ADMIN_ONLY = Depends(Allow(Role.ADMIN))
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
# The document's bound: the setting's default (a deployment may set a lower one, refused below).
CELLS_PAGE_MAX: int = Settings.model_fields["cells_page_max"].default


@router.get("/locate", dependencies=[ANYONE_SIGNED_IN])
async def locate_point(
    fetch: FetchDep,
    settings: SettingsDep,
    lon: Annotated[float, Query(description="longitude (or x in a projected CRS)")],
    lat: Annotated[float, Query(description="latitude (or y in a projected CRS)")],
    crs: Annotated[
        str, Query(description="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09, EPSG:xxxx")
    ] = "EPSG:4326",
) -> Located:
    """The unit cell containing a point, with its community, street and district."""
    # async: the hot path of intake, it awaits PostGIS on the event loop (see db.AsyncStatements).
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidInput("lon and lat must be finite numbers", field="lon/lat")
    return await service.locate(fetch, lon, lat, crs=crs, snap_m=settings.locate_snap_m)


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


@router.get("/cells", dependencies=[ANYONE_SIGNED_IN])
def list_units(
    session: SessionDep,
    settings: SettingsDep,
    bbox: Annotated[
        BBoxText | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")
    ] = None,
    level: GridLevel = GridLevel.CELL,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[
        int | None, Query(ge=1, le=CELLS_PAGE_MAX, description="at most cells_page_max")
    ] = None,
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


@router.post("/imports", status_code=201, dependencies=[ADMIN_ONLY])
def import_file(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, or a .zip of a Shapefile")],
    level: Annotated[GridLevel, Form(description="district, street, community or cell")],
    crs: Annotated[
        str | None,
        Form(description="EPSG:4326, EPSG:4490, GCJ-02, BD-09, EPSG:xxxx; default: the file's"),
    ] = None,
    code_field: Annotated[str, Form()] = "code",
    name_field: Annotated[str, Form()] = "name",
    parent_field: Annotated[str | None, Form(description="default: the code's prefix")] = None,
    repair: Annotated[
        bool, Form(description="repair invalid geometries with ST_MakeValid")
    ] = False,
    encoding: Annotated[
        str | None,
        Form(description="text encoding when the file is not UTF-8: GBK, GB18030, Big5"),
    ] = None,
) -> imports.ImportReport:
    """Import units of one level from a file; 422 with every problem when any feature is bad."""
    grid_level = level
    max_bytes = settings.grid_import_max_bytes
    with TemporaryDirectory(prefix="citygrid-import-") as directory:
        saved = save_upload(file, Path(directory), suffixes=UPLOAD_SUFFIXES, max_bytes=max_bytes)
        features = imports.read_features(
            saved,
            crs=crs or None,
            code_field=code_field,
            name_field=name_field,
            parent_field=parent_field or None,
            encoding=encoding or None,
        )
    options = imports.ImportOptions(
        repair=repair,
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        gap_tolerance_m2=settings.gap_tolerance_m2,
    )
    report = imports.import_units(session, grid_level, features, options)
    session.commit()
    return report
