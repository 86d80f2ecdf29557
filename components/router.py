"""HTTP routes of the component inventory: search, imports, and a component's history.

The routes that answer with one component (GET and PATCH /api/components/{id}) include its case
counts, so they live with its cases and the repeat ranking in events/component_cases/router.py.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
from citygrid.api_types import (
    JSON_SAFE_MAX,
    BBoxText,
    BigRowId,
    CategoryCode,
    RowId,
    comma_list_of,
    text_matching,
)
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from components import imports, service
from components.import_files import PointColumns, read_components
from components.schemas import (
    ComponentChangeRead,
    ComponentFeatureCollection,
    ComponentStatus,
    ImportResult,
)
from grid.bbox import parse_bbox
from grid.import_toolkit import save_upload

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
STAFF = Depends(Allow(*STAFF_ROLES))
DEFAULT_PAGE = 1_000
# A lone .shp cannot be uploaded (its .shx and .dbf stay behind): zip the parts.
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv")
# The document's bound: the setting's default (a deployment may set a lower one, refused below).
PAGE_MAX: int = Settings.model_fields["components_page_max"].default
StatusList = Annotated[
    str,
    *text_matching(
        comma_list_of([status.value for status in ComponentStatus]),
        f"statuses separated by commas; allowed: {', '.join(ComponentStatus)}",
    ),
]


@router.get("", dependencies=[STAFF])
def search_components(
    session: SessionDep,
    settings: SettingsDep,
    bbox: Annotated[
        BBoxText | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")
    ] = None,
    category: Annotated[
        CategoryCode | None, Query(description="A minor or major component code.")
    ] = None,
    status: Annotated[
        list[StatusList] | None,
        Query(description="in_use, damaged or removed (repeatable, or a comma list)."),
    ] = None,
    maintainer: Annotated[
        RowId | None, Query(description="The maintaining department's id.")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=PAGE_MAX, description="At most components_page_max.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=JSON_SAFE_MAX, description="next_after of the previous page.")
    ] = None,
) -> ComponentFeatureCollection:
    """Components matching every filter as a GeoJSON FeatureCollection, one page in id order,
    with the total that match (counted up to 10,000)."""
    page_max = settings.components_page_max
    size = limit or min(DEFAULT_PAGE, page_max)
    if size > page_max:
        raise InvalidInput(f"limit may be at most {page_max}", field="limit")
    search = service.ComponentSearch(
        bbox=parse_bbox(bbox, service.SEARCH_BBOX),
        category=category,
        statuses=service.parse_statuses(status),
        maintainer_id=maintainer,
        limit=size,
        after_id=after,
    )
    return service.search_components(session, search)


@router.post("/imports", status_code=201)
def import_components(
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
    encoding: Annotated[
        str | None, Form(description="text encoding when not UTF-8: GBK, GB18030, Big5")
    ] = None,
) -> ImportResult:
    """Import components from a file; 422 with every problem (nothing written) when any is bad."""
    point_columns = PointColumns(lon=lon_column or None, lat=lat_column or None)
    with TemporaryDirectory(prefix="citygrid-components-") as directory:
        max_bytes = settings.component_import_max_bytes
        saved = save_upload(file, Path(directory), suffixes=UPLOAD_SUFFIXES, max_bytes=max_bytes)
        table = read_components(
            saved, crs=crs or None, point_columns=point_columns, encoding=encoding or None
        )
    result = imports.import_components(session, table, update=update, by=principal.user_id)
    session.commit()
    return result


@router.get("/{component_id:int}/changes", dependencies=[STAFF])
def component_changes(component_id: BigRowId, session: SessionDep) -> list[ComponentChangeRead]:
    """The component's history, oldest first: imported, updated, status changes."""
    return service.component_changes(session, component_id)
