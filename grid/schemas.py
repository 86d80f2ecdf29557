"""Request and response bodies of the grid API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class UnitRef(BaseModel):
    code: str
    name: str


class CellRef(UnitRef):
    area_m2: float


class Located(BaseModel):
    """The cell a point lies in, with the units above it."""

    cell: CellRef
    community: UnitRef
    street: UnitRef
    district: UnitRef
    lon: float = Field(description="WGS-84 longitude of the point")
    lat: float = Field(description="WGS-84 latitude of the point")
    snapped: bool = Field(description="true when the point lay outside every cell and was snapped")
    distance_m: float = Field(description="distance to the cell, 0 when inside")


class NotLocated(BaseModel):
    lon: float
    lat: float
    error: str
    nearest_cell_distance_m: float | None


class BulkLocateRequest(BaseModel):
    crs: str = Field(
        default="EPSG:4326", description="EPSG:4326, EPSG:4490, GCJ-02, BD-09, EPSG:xxxx"
    )
    points: list[tuple[float, float]] = Field(
        description="[lon, lat] pairs (x, y in a projected CRS)", min_length=1
    )


class BulkLocateResponse(BaseModel):
    located: int
    not_located: int
    results: list[Located | NotLocated]


class FeatureCollection(BaseModel):
    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    number_matched: int
    number_returned: int
    page: int
    page_size: int
    next_page: int | None
