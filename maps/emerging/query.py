"""The emerging hot spot map's query string: the usual map filters (but no period_from /
period_to: the window is `periods` whole weeks or months ending before `end`), the unit, the
period length, confidence and FDR."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query

from analysis.emerging.periods import MAX_PERIODS, MIN_PERIODS, PeriodUnit, period_bounds
from citygrid.api_types import AwareDateTime
from citygrid.settings import SettingsDep
from maps.emerging.service import EmergingOptions
from maps.filters import (
    AreaFilter,
    CategoryFilter,
    ConfidenceQuery,
    DepartmentFilter,
    StatusFilter,
    UrgencyFilter,
)
from maps.schemas import MapFilters, Unit

DEFAULT_PERIODS = {PeriodUnit.WEEK: 52, PeriodUnit.MONTH: 24}


@dataclass(frozen=True)
class EmergingQuery:
    """Which cases (the map filters over the whole window) and how they are analysed."""

    filters: MapFilters
    options: EmergingOptions


def emerging_query(
    settings: SettingsDep,
    unit: Unit = Unit.CELL,
    period: Annotated[PeriodUnit, Query(description="week or month")] = PeriodUnit.WEEK,
    periods: Annotated[
        int | None,
        Query(ge=MIN_PERIODS, le=MAX_PERIODS, description="Default: 52 weeks or 24 months."),
    ] = None,
    end: Annotated[
        AwareDateTime | None,
        Query(
            description="The periods end where the week or month holding it begins. Default: now."
        ),
    ] = None,
    confidence: ConfidenceQuery = 0.95,
    fdr: bool = True,
    category: CategoryFilter = None,
    status: StatusFilter = None,
    urgency: UrgencyFilter = None,
    department: DepartmentFilter = None,
    area: AreaFilter = None,
) -> EmergingQuery:
    """The analysis asked for by the query string (its declarations checked every value)."""
    bounds = period_bounds(
        period,
        end=end or datetime.now(UTC),
        periods=periods or DEFAULT_PERIODS[period],
        zone=settings.city_zone,
    )
    filters = MapFilters(
        period_from=bounds[0],
        period_to=bounds[-1],
        category=category,
        status=[str(value) for value in status] if status else None,
        urgency=urgency,
        department_code=department,
        area_code=area,
    )
    return EmergingQuery(filters, EmergingOptions(unit, period, bounds, confidence, fdr))


EmergingQueryDep = Annotated[EmergingQuery, Depends(emerging_query)]
