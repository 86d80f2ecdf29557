"""The rates as answered in JSON."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from dispatch.hotline_rates.rates import RankingLevel


class WeightsRead(BaseModel):
    response: float
    resolution: float
    satisfaction: float
    partly_credit: float
    fair_credit: float


class CountsRead(BaseModel):
    tickets: int
    excluded_unreasonable: int
    response_due: int
    responded_in_time: int
    reached: int
    solved: int
    partly: int
    not_solved: int
    satisfied: int
    fair: int
    unsatisfied: int
    unreachable: int


class RatesRead(BaseModel):
    """Rates in percent, score in points, each rounded half up to 2 decimals; null when the
    denominator is 0."""

    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    score: float | None


class TrendPoint(RatesRead):
    month: date


class RateRowRead(CountsRead, RatesRead):
    rank: int | None
    key: str  # the department's or the region's code
    name: str
    trend: list[TrendPoint]


class RatesAnswer(BaseModel):
    level: RankingLevel
    period_from: datetime
    period_to: datetime
    month: str | None
    weights: WeightsRead
    rows: list[RateRowRead]
    totals: CountsRead
    totals_rates: RatesRead
