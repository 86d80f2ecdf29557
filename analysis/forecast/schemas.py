"""The forecast as the API answers it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class BacktestRead(BaseModel):
    mase: float | None = Field(
        description="mean absolute error of the daily median over the seasonal-naive in-sample "
        "scale; below 1 beats last week's numbers; null when undefined (no origin, a constant "
        "history)"
    )
    seasonal_naive_mase: float | None = Field(
        description="the same measure for the seasonal-naive forecast (the same weekday a week "
        "before the origin)"
    )
    coverage: float | None = Field(description="share of actual days inside the interval")
    scored_days: int


class DayForecastRead(BaseModel):
    day: date
    mean: float = Field(description="expected cases that day (add these up over days or areas)")
    median: int = Field(description="the most likely number: the point forecast MASE scores")
    lower: int = Field(description="lower bound of the prediction interval, inclusive")
    upper: int = Field(description="upper bound of the prediction interval, inclusive")


class SeriesForecastRead(BaseModel):
    street_code: str
    street_name: str
    group_code: str
    group_standard: str
    group_name_zh: str
    group_name_en: str
    history_cases: int
    total_mean: float
    total_lower: int
    total_upper: int
    days: list[DayForecastRead]
    backtest: BacktestRead


class ForecastRead(BaseModel):
    as_of: datetime
    history_from: date
    history_to: date
    horizon_days: int
    interval: float = Field(description="central prediction interval, e.g. 0.8")
    method: str
    backtest_origins: list[date] = Field(description="first forecast day of each origin")
    backtest: BacktestRead = Field(description="over every series: mean MASE, pooled coverage")
    holidays_provisional_years: list[int] = Field(
        description="forecast years whose official holidays are not announced yet"
    )
    series: list[SeriesForecastRead]
