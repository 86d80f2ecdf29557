"""`/api/map/cases` (the cases of a work list, for its map) and `/api/map/areas` (the map's base
layer: the city's tiles, or the grid's units with their names)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Principal
from citygrid.api_types import AnyBBoxText
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from events.listing.params import FiltersDep
from events.listing.service import where_clause
from grid.bbox import BBox, parse_bbox
from maps.worklist import service
from maps.worklist.base_layer import ZOOM_MAX, ZOOM_MIN
from maps.worklist.schemas import BaseLayer, WorklistMap

router = APIRouter(prefix="/api/map", tags=["maps"], route_class=RoleCheckedRoute)
AnyoneSignedIn = Annotated[Principal, Depends(Allow(*ALL_ROLES))]


@router.get("/cases")
def worklist_cases(
    session: SessionDep, settings: SettingsDep, principal: AnyoneSignedIn, filters: FiltersDep
) -> WorklistMap:
    """The cases `/api/cases` lists for the same filters, as a GeoJSON FeatureCollection: one
    point per case while at most `map_markers_cap` (2,000) match, else the count and worst light
    per cell, community, street or district (the finest level with at most that many areas)."""
    where = where_clause(principal, filters)
    return service.worklist_map(session, where, points_max=settings.map_markers_cap)


@router.get("/areas")
def worklist_base_layer(
    session: SessionDep,
    settings: SettingsDep,
    principal: AnyoneSignedIn,
    bbox: Annotated[
        AnyBBoxText | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")
    ] = None,
    zoom: Annotated[int, Query(ge=ZOOM_MIN, le=ZOOM_MAX, description="the map's zoom")] = 12,
    view: Annotated[
        AnyBBoxText | None,
        Query(description="the box the user sees, where names go (default: bbox)"),
    ] = None,
) -> BaseLayer:
    """The base layer of a map: `tiles_url` when the city has a tile server; otherwise the
    outlines of the streets, communities and (zoomed in) cells meeting the box, each with its
    name and a point inside it for the label (inside its part in `view` when it shows there),
    simplified to the zoom. A level with too many units in the box is left out and named in
    `omitted`."""
    return service.base_layer_of(
        session,
        parse_bbox(bbox),
        view=parse_view(view),
        zoom=zoom,
        tiles_url=settings.map_tiles_url,
    )


def parse_view(value: str | None) -> BBox | None:
    """`view` read as a bbox is; its refusal names `view`."""
    try:
        return parse_bbox(value)
    except InvalidInput as error:
        raise InvalidInput(error.message.replace("bbox", "view"), field="view") from error
