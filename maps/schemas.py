"""What maps are asked (filters, metric, unit) and answer (values, markers, hotspots)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from citygrid.errors import InvalidInput
from events.lifecycle import CaseStatus
from maps.hotspot_classes import HotspotClass, Trend


class Metric(enum.StrEnum):
    REPORTS = "reports"  # problems reported in the period (merged duplicates counted once)
    REPORTS_PER_KM2 = "reports_per_km2"
    OPEN_BACKLOG = "open_backlog"  # of those, still open now
    OVERDUE = "overdue"  # of those, past their due time before handling (or still unhandled)
    ON_TIME_RATE = "on_time_rate"  # handled by the due time / handled with a due time, 0..1


class Unit(enum.StrEnum):
    CELL = "cell"
    COMMUNITY = "community"
    STREET = "street"


class MapFilters(BaseModel):
    """Which cases a map counts: created in [period_from, period_to) and matching every filter."""

    model_config = ConfigDict(frozen=True)

    period_from: datetime
    period_to: datetime
    category: str | None = None  # a minor or a major category code
    status: list[str] | None = None
    urgency: str | None = None  # normal | urgent
    department_code: str | None = None
    area_code: str | None = None  # a district, street or community code: only cells inside it

    @model_validator(mode="after")
    def _check(self) -> MapFilters:
        if self.period_from.tzinfo is None or self.period_to.tzinfo is None:
            raise InvalidInput("the period needs a time zone (e.g. +08:00)", field="period_from")
        if self.period_to <= self.period_from:
            raise InvalidInput("period_to must be after period_from", field="period_to")
        known = {status.value for status in CaseStatus}
        for status in self.status or []:
            if status not in known:
                raise InvalidInput(f"unknown status {status!r}", field="status")
        if self.urgency not in (None, "normal", "urgent"):
            raise InvalidInput("urgency is normal or urgent", field="urgency")
        return self

    def previous_period(self) -> MapFilters:
        """The same filters over the period of the same length just before this one."""
        length = self.period_to - self.period_from
        return self.model_copy(
            update={"period_from": self.period_from - length, "period_to": self.period_from}
        )


@dataclass(frozen=True)
class ChoroplethOptions:
    """What a choropleth shows: the metric, the unit, and how values are classed."""

    metric: Metric = Metric.REPORTS
    unit: Unit = Unit.CELL
    scheme: str = "quantiles"
    classes: int = 5
    bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class UnitValue:
    """One cell, community or street and its metric value (None: not defined, e.g. no cases)."""

    unit_id: int
    code: str
    name: str
    value: float | None


@dataclass(frozen=True)
class CaseMarker:
    """A case as a marker: where it is and what a popup says."""

    case_id: int
    number: str
    lat: float
    lon: float
    status: str
    category_code: str
    urgency: str


@dataclass(frozen=True)
class CellHotspot:
    """Gi* of one cell: its count, z-score, p-value, class and trend against the previous period."""

    cell_id: int
    code: str
    name: str
    count: int
    previous_count: int
    z: float
    p: float
    hotspot_class: HotspotClass
    trend: Trend


@dataclass(frozen=True)
class HotspotTimings:
    """Seconds spent in each step of a hotspot analysis (for the benchmark and the page footer)."""

    aggregation_s: float
    weights_s: float
    weights_cached: bool
    gi_star_s: float


@dataclass(frozen=True)
class HotspotResult:
    """Gi* for every cell of the filtered area, with the settings it was computed with."""

    cells: list[CellHotspot]
    confidence: float  # the lowest confidence shown as significant (0.90, 0.95 or 0.99)
    fdr: bool
    weights_kind: str  # "queen" or "distance_band"
    timings: HotspotTimings
    message: str | None = None  # why there is no analysis (e.g. too few cells or no cases)

    def significant(self) -> HotspotResult:
        """The same result with only the cells classed hot or cold."""
        cells = [cell for cell in self.cells if cell.hotspot_class is not HotspotClass.NS]
        return replace(self, cells=cells)

    def geojson(self, geometries: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """A FeatureCollection: one feature per cell with z, p, class and trend."""
        features = [
            {
                "type": "Feature",
                "id": cell.code,
                "geometry": geometries.get(cell.cell_id),
                "properties": {
                    "code": cell.code,
                    "name": cell.name,
                    "count": cell.count,
                    "previous_count": cell.previous_count,
                    "z": round(cell.z, 4),
                    "p": round(cell.p, 6),
                    "class": cell.hotspot_class.value,
                    "trend": cell.trend.value,
                },
            }
            for cell in self.cells
        ]
        return {"type": "FeatureCollection", "features": features}
