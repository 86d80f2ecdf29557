"""HTTP routes that change the component inventory: imports and edits, and the history."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from citygrid.accounts.auth import STAFF_ROLES, Allow, Principal, Role, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from components import imports, queries, service
from components.query_schemas import ComponentRead
from components.schemas import ComponentChangeRead, ComponentUpdate, ImportResult
from grid.router import save_upload

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
Editor = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.DEPARTMENT))]
STAFF = Depends(Allow(*STAFF_ROLES))
# A lone .shp cannot be uploaded (its .shx and .dbf stay behind): zip the parts.
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv")


@router.post("/imports", status_code=201)
def import_file(
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    file: Annotated[
        UploadFile, File(description="GeoJSON, GeoPackage, a .zip of a Shapefile, or CSV")
    ],
    crs: Annotated[
        str | None,
        Form(description="EPSG:4326, EPSG:4490, GCJ-02, BD-09, EPSG:xxxx; default: the file's"),
    ] = None,
    lon_column: Annotated[str | None, Form(description="CSV: default lon, else x")] = None,
    lat_column: Annotated[str | None, Form(description="CSV: default lat, else y")] = None,
    update: Annotated[
        bool, Form(description="update components whose code exists instead of refusing them")
    ] = False,
) -> ImportResult:
    """Import components from a file; 422 with every problem (nothing written) when any is bad."""
    point_columns = imports.PointColumns(lon=lon_column or None, lat=lat_column or None)
    with TemporaryDirectory(prefix="citygrid-components-") as directory:
        max_bytes = settings.component_import_max_bytes
        saved = save_upload(file, Path(directory), suffixes=UPLOAD_SUFFIXES, max_bytes=max_bytes)
        table = imports.read_components(saved, crs=crs or None, point_columns=point_columns)
    result = imports.import_components(session, table, update=update, by=principal.user_id)
    session.commit()
    return result


@router.patch("/{component_id}")
def update_component(
    component_id: int, update: ComponentUpdate, session: SessionDep, principal: Editor
) -> ComponentRead:
    """Change a component (admin: any field; its maintaining department: the status only);
    each changed field goes into its history as [before, after]."""
    service.update_component(session, component_id, update, by=principal)
    session.commit()
    return queries.component_detail(session, component_id)


@router.get("/{component_id}/changes", dependencies=[STAFF])
def component_changes(component_id: int, session: SessionDep) -> list[ComponentChangeRead]:
    """The component's history, oldest first: imported, updated, status changes."""
    return service.component_changes(session, component_id)
