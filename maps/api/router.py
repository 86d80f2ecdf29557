"""Map numbers as JSON: `GET /api/maps/hotspots` (GeoJSON), `/api/maps/values`, `/heat`.

Managers and dispatchers (and admins) read them; filters are query parameters, the period
defaulting to the last 30 days.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.db import ReadSessionDep
from maps import service as map_service
from maps.filters import ConfidenceQuery, FiltersDep
from maps.schemas import Metric, Unit

CELLS_SIMPLIFY_M = 1.0
MAP_READERS = Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN)

# [lat, lon, reports]. A list rather than a tuple: a tuple is published as `prefixItems`, which
# schema validators (schemathesis among them) do not all read.
HeatPoint = Annotated[list[float], Field(min_length=3, max_length=3)]

router = APIRouter(prefix="/api/maps", tags=["maps"], route_class=RoleCheckedRoute)


@router.get("/hotspots", dependencies=[Depends(MAP_READERS)])
def hotspots_geojson(
    session: ReadSessionDep,
    filters: FiltersDep,
    confidence: ConfidenceQuery = 0.95,
    fdr: bool = True,
    significant_only: bool = False,
) -> dict[str, Any]:
    """Gi* per cell as a GeoJSON FeatureCollection (z, p, class, trend, counts per cell)."""
    result = map_service.hotspots(session, filters, confidence=confidence, fdr=fdr)
    outlines = map_service.unit_outlines(session, Unit.CELL, filters, simplify_m=CELLS_SIMPLIFY_M)
    geometries = {f["properties"]["id"]: f["geometry"] for f in outlines["features"]}
    if significant_only:
        result = result.significant()
    collection = result.geojson(geometries)
    collection["properties"] = {
        "period_from": filters.period_from.isoformat(),
        "period_to": filters.period_to.isoformat(),
        "confidence": result.confidence,
        "fdr": result.fdr,
        "weights": result.weights_kind,
        "message": result.message,
        "timings_s": asdict(result.timings),
    }
    return collection


@router.get("/values", dependencies=[Depends(MAP_READERS)])
def unit_values(
    session: ReadSessionDep,
    filters: FiltersDep,
    unit: Unit = Unit.CELL,
    metric: Metric = Metric.REPORTS,
) -> list[dict[str, Any]]:
    """The metric per cell, community or street of the area (the choropleth's numbers)."""
    return [asdict(value) for value in map_service.unit_values(session, unit, metric, filters)]


@router.get("/heat", dependencies=[Depends(MAP_READERS)], response_model=list[HeatPoint])
def heat_points(session: ReadSessionDep, filters: FiltersDep) -> list[tuple[float, float, float]]:
    """[lat, lon, reports] per cell with reports (the heatmap's points)."""
    return map_service.heat_points(session, filters)
