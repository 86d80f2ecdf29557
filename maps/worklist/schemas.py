"""The work-list map's answers: GeoJSON FeatureCollections of case markers and of named units."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from events.lifecycle import CaseStatus
from maps.worklist.aggregation import AreaLevel
from maps.worklist.base_layer import UnitLevel

Light = Literal["green", "yellow", "red"]


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: list[float] = Field(description="[longitude, latitude], WGS-84")


class CaseMarker(BaseModel):
    """One case on the map; no personal data."""

    id: int
    number: str
    status: CaseStatus
    urgency: str
    light: Light | None = Field(description="green, yellow or red while a department holds it")
    category_code: str
    category_name_zh: str
    category_name_en: str


class AreaCount(BaseModel):
    """The matching cases of one area, drawn at the mean of their positions."""

    level: AreaLevel
    code: str
    name: str
    cases: int
    light: Light | None = Field(description="the worst light among the area's cases")


class CaseFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry
    properties: CaseMarker


class AreaFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: PointGeometry
    properties: AreaCount


class WorklistSummary(BaseModel):
    total: int = Field(description="cases matching the filters within the caller's scope")
    grouped_by: AreaLevel | None = Field(description="None: every case is its own feature")
    points_max: int = Field(description="more matches than this are counted per area")


class WorklistMap(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    properties: WorklistSummary
    features: list[CaseFeature] | list[AreaFeature]


class UnitOutline(BaseModel):
    level: UnitLevel
    code: str
    name: str
    label: list[float] = Field(description="[longitude, latitude] of the name, inside the unit")


class UnitFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON (Multi)Polygon, simplified")
    properties: UnitOutline


class BaseLayerSummary(BaseModel):
    tiles_url: str | None = Field(description="the city's XYZ tiles; when set, no outlines")
    zoom: int
    levels: list[UnitLevel] = Field(description="the levels drawn at this zoom")
    omitted: list[UnitLevel] = Field(description="levels with too many units in the box")
    label_min_zoom: dict[UnitLevel, int] = Field(description="names show from these zooms")
    extent: list[float] | None = Field(
        description="[west, south, east, north] of the whole grid; None without a grid"
    )


class BaseLayer(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    properties: BaseLayerSummary
    features: list[UnitFeature]
