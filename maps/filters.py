"""The filters of every map page and map API call, and the map pages' own options (choropleth
classes, confidence, component layer), read from the query string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Query

from citygrid.api_types import AwareDateTime, one_of, one_of_numbers
from citygrid.errors import InvalidInput
from events.lifecycle import CaseStatus
from maps.classification import SCHEMES
from maps.hotspots import CONFIDENCES
from maps.schemas import ChoroplethOptions, MapFilters, Metric, Unit

DEFAULT_PERIOD_DAYS = 30
# Class bounds: plain decimals separated by commas ("1,5,10", "0.25,0.5").
_DECIMAL = r"-?[0-9]{1,15}(\.[0-9]{1,15})?"
NUMBER_LIST = rf"^{_DECIMAL}(,{_DECIMAL})*$"

# The case filters every map shares (the map pages, the map API, the emerging hot spots).
CategoryFilter = Annotated[
    str | None, Query(max_length=8, description="A minor or major category code.")
]
StatusFilter = Annotated[list[CaseStatus] | None, Query()]
UrgencyFilter = Annotated[Literal["normal", "urgent"] | None, Query()]
DepartmentFilter = Annotated[str | None, Query(max_length=32, description="A department code.")]
AreaFilter = Annotated[
    str | None, Query(max_length=15, description="A district, street or community code.")
]


def map_filters(
    period_from: Annotated[AwareDateTime | None, Query(description="Default: 30 days ago.")] = None,
    period_to: Annotated[AwareDateTime | None, Query(description="Default: now.")] = None,
    category: CategoryFilter = None,
    status: StatusFilter = None,
    urgency: UrgencyFilter = None,
    department: DepartmentFilter = None,
    area: AreaFilter = None,
) -> MapFilters:
    """The filters of a map page from its query string (default period: the last 30 days)."""
    period_to = period_to or datetime.now(UTC)
    return MapFilters(
        period_from=period_from or period_to - timedelta(days=DEFAULT_PERIOD_DAYS),
        period_to=period_to,
        category=category,
        status=[str(value) for value in status] if status else None,
        urgency=urgency,
        department_code=department,
        area_code=area,
    )


FiltersDep = Annotated[MapFilters, Depends(map_filters)]


def choropleth_options(
    metric: Metric = Metric.REPORTS,
    unit: Unit = Unit.CELL,
    scheme: Annotated[str, Query(pattern=one_of(list(SCHEMES)))] = "quantiles",
    classes: Annotated[int, Query(ge=2, le=9)] = 5,
    bounds: Annotated[
        str | None, Query(pattern=NUMBER_LIST, description="User-set upper bounds: 1,5,10")
    ] = None,
) -> ChoroplethOptions:
    """The choropleth options from the query string."""
    return ChoroplethOptions(metric, unit, scheme, classes, parse_bounds(bounds, scheme))


def parse_bounds(bounds: str | None, scheme: str) -> tuple[float, ...]:
    """User-set class bounds from "1,5,10"; required (and only allowed) with scheme=user."""
    if scheme != "user":
        return ()
    try:
        parsed = tuple(sorted(float(part) for part in (bounds or "").split(",") if part.strip()))
    except ValueError as error:
        raise InvalidInput("bounds are numbers separated by commas", field="bounds") from error
    if not parsed:
        raise InvalidInput("scheme=user needs bounds, e.g. bounds=1,5,10", field="bounds")
    return parsed


OptionsDep = Annotated[ChoroplethOptions, Depends(choropleth_options)]
ComponentsQuery = Annotated[
    bool | None,
    Query(
        description="1: draw the component layer (up to map_markers_cap components); 0: never; "
        "default: when an area is chosen and it has at most that many."
    ),
]
ConfidenceQuery = Annotated[
    float, *one_of_numbers(CONFIDENCES), Query(description="0.90, 0.95 or 0.99")
]
