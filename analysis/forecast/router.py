"""The forecast of daily cases per street × category group, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from analysis.forecast import model, service
from analysis.forecast.schemas import (
    BacktestRead,
    DayForecastRead,
    ForecastRead,
    SeriesForecastRead,
)
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.api_types import CSV, media_schema
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep

router = APIRouter(tags=["analysis"], route_class=RoleCheckedRoute)

READER_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
READERS = Depends(Allow(*READER_ROLES))
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
METHOD = (
    "Poisson GLM (statsmodels) per category group on weekday, holiday, make-up workday and "
    "trend; each street's level from its recent weeks; negative-binomial intervals"
)
StreetQuery = Annotated[str | None, Query(max_length=12, description="a street's code")]
GroupQuery = Annotated[
    str | None, Query(max_length=8, description="a category group's (major category's) code")
]
HistoryQuery = Annotated[
    int,
    Query(
        ge=service.MIN_HISTORY_DAYS,
        le=service.MAX_HISTORY_DAYS,
        description="days of history the model learns from",
    ),
]


def backtest_read(accuracy: model.Accuracy) -> BacktestRead:
    return BacktestRead(
        mase=accuracy.mase,
        seasonal_naive_mase=accuracy.naive_mase,
        coverage=accuracy.coverage,
        scored_days=accuracy.points,
    )


def series_read(row: service.SeriesRow) -> SeriesForecastRead:
    forecast = row.forecast
    return SeriesForecastRead(
        street_code=row.street.code,
        street_name=row.street.name,
        group_code=row.group.code,
        group_standard=row.group.standard,
        group_name_zh=row.group.name_zh,
        group_name_en=row.group.name_en,
        history_cases=row.history_cases,
        total_mean=forecast.total_mean,
        total_lower=forecast.total_lower,
        total_upper=forecast.total_upper,
        days=[DayForecastRead(**vars(day)) for day in forecast.days],
        backtest=backtest_read(forecast.accuracy),
    )


def forecast_read(report: service.ForecastReport, rows: list[service.SeriesRow]) -> ForecastRead:
    return ForecastRead(
        as_of=report.as_of,
        history_from=report.first_day,
        history_to=report.last_day,
        horizon_days=report.horizon_days,
        interval=report.interval,
        method=METHOD,
        backtest_origins=list(report.origins),
        backtest=backtest_read(report.overall),
        holidays_provisional_years=list(report.provisional_years),
        series=[series_read(row) for row in rows],
    )


def csv_response(rows: list[service.SeriesRow]) -> Response:
    """service.forecast_csv as a download."""
    return Response(
        service.forecast_csv(rows).encode(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="forecast.csv"'},
    )


@router.get(
    "/api/analysis/forecast",
    dependencies=[READERS],
    response_model=ForecastRead,
    responses={200: {"content": {CSV: {"schema": media_schema(CSV)}}}},
)
def get_case_forecast(
    session: SessionDep,
    settings: SettingsDep,
    street: StreetQuery = None,
    group: GroupQuery = None,
    history_days: HistoryQuery = service.DEFAULT_HISTORY_DAYS,
    output_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ForecastRead | Response:
    """Expected cases per day for the next 14 days per street × category group with 80 %
    intervals, and the rolling-origin backtest's MASE and coverage beside each; `street` and
    `group` (codes) narrow the rows, the model is fitted on every series."""
    service.check_filters(session, street=street, group=group)
    report = service.forecast_report(
        session,
        zone=settings.city_zone,
        calendar_code=settings.default_calendar_code,
        history_days=history_days,
    )
    rows = service.chosen_rows(report.rows, street=street, group=group)
    if output_format == "csv":
        return csv_response(rows)
    return forecast_read(report, rows)
