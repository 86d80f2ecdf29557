"""The periods of a space-time cube (pure): whole weeks (Monday to Sunday) or calendar months in
the city's time zone, the last one ending where the period holding `end` begins, so an
unfinished week or month never looks like a sudden drop."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta, tzinfo

MAX_PERIODS = 260  # five years of weeks
MIN_PERIODS = 3  # a Mann-Kendall trend needs at least three points


class PeriodUnit(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"


def period_start(day: date, unit: PeriodUnit) -> date:
    """The first day of the week (Monday) or month holding `day`."""
    if unit is PeriodUnit.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def step_back(day: date, unit: PeriodUnit, periods: int) -> date:
    """The start of the period `periods` before the one starting on `day`."""
    if unit is PeriodUnit.WEEK:
        return day - timedelta(weeks=periods)
    months = day.year * 12 + day.month - 1 - periods
    return date(months // 12, months % 12 + 1, 1)


def period_bounds(unit: PeriodUnit, *, end: datetime, periods: int, zone: tzinfo) -> list[datetime]:
    """`periods` + 1 aware bounds, oldest first, at midnight in `zone`: period i is
    [bounds[i], bounds[i + 1]), the last ending where the week or month holding `end` begins.
    ValueError unless MIN_PERIODS ≤ periods ≤ MAX_PERIODS."""
    if not MIN_PERIODS <= periods <= MAX_PERIODS:
        raise ValueError(f"periods is between {MIN_PERIODS} and {MAX_PERIODS}")
    last = period_start(end.astimezone(zone).date(), unit)
    days = [step_back(last, unit, periods - index) for index in range(periods + 1)]
    return [datetime(day.year, day.month, day.day, tzinfo=zone) for day in days]
