"""The forecast model on synthetic counts with a known truth: a weekly season and a holiday
effect (rest days on weekdays at a third of their usual volume, a make-up Saturday worked as a
weekday). The rolling-origin backtest must beat the seasonal-naive forecast (MASE < 1) and its
80 % intervals must hold between 70 % and 90 % of the actual days."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analysis.forecast.model import (
    DayForecast,
    DayKind,
    History,
    ModelOptions,
    backtest_origins,
    forecast,
    naive_scale,
    seasonal_naive,
)

FIRST = date(2026, 6, 1)  # a Monday
DAYS = 154  # 22 weeks
HOLIDAYS = {FIRST + timedelta(days=d) for d in (38, 39, 40, 100, 101, 102, 103, 136, 137)}
MAKEUP_WORKDAYS = {FIRST + timedelta(days=d) for d in (47, 96)}  # Saturdays
WEEK = (1.2, 1.1, 1.0, 1.1, 1.2, 0.5, 0.4)  # Monday … Sunday
HOLIDAY_FACTOR = 0.3


def day_kind(day: date) -> DayKind:
    if day in HOLIDAYS:
        return DayKind.HOLIDAY
    if day in MAKEUP_WORKDAYS:
        return DayKind.MAKEUP_WORKDAY
    return DayKind.ORDINARY


def expected_cases(day: date, base: float) -> float:
    kind = day_kind(day)
    if kind is DayKind.HOLIDAY:
        return base * HOLIDAY_FACTOR
    if kind is DayKind.MAKEUP_WORKDAY:
        return base * WEEK[0]
    return base * WEEK[day.weekday()]


def synthetic_history(seed: int, *, streets: int, base: float) -> History:
    """Poisson counts of `streets` streets in one category group, levels base/2, base, 1.5·base."""
    rng = np.random.default_rng(seed)
    days = [FIRST + timedelta(days=k) for k in range(DAYS)]
    counts = {}
    for street in range(streets):
        level = base * (1 + street % 3) / 2
        rates = [expected_cases(day, level) for day in days]
        counts[(street, 1)] = [int(n) for n in rng.poisson(rates)]
    return History(FIRST, counts)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backtest_beats_seasonal_naive_and_intervals_hold_about_80_percent(seed: int) -> None:
    history = synthetic_history(seed, streets=8, base=20.0)
    run = forecast(history, day_kind, ModelOptions(backtest_origins=8))
    overall = run.overall
    assert overall.points == 8 * 8 * 14
    assert overall.mase is not None and overall.mase < 1
    assert overall.naive_mase is not None and overall.mase < overall.naive_mase
    assert overall.coverage is not None and 0.70 <= overall.coverage <= 0.90


def test_the_holiday_regressor_carries_the_holiday_into_the_forecast() -> None:
    """A holiday in the forecast days comes out at about a third of the same weekday."""
    history = synthetic_history(4, streets=1, base=30.0)
    holiday = FIRST + timedelta(days=DAYS + 2)  # a Wednesday
    ordinary = holiday + timedelta(days=7)

    def with_holiday_ahead(day: date) -> DayKind:
        return DayKind.HOLIDAY if day == holiday else day_kind(day)

    days = forecast(history, with_holiday_ahead).series[(0, 1)].days
    by_day = {day.day: day for day in days}
    ratio = by_day[holiday].mean / by_day[ordinary].mean
    assert 0.2 < ratio < 0.45
    assert by_day[holiday].upper < by_day[ordinary].lower


def test_forecast_days_intervals_and_totals_are_consistent() -> None:
    history = synthetic_history(5, streets=3, base=2.0)
    run = forecast(history, day_kind)
    assert len(run.origins) == 4 and run.origins[-1] == FIRST + timedelta(days=DAYS - 14)
    for series in run.series.values():
        assert [day.day for day in series.days] == [
            FIRST + timedelta(days=DAYS + k) for k in range(14)
        ]
        assert all(isinstance(day, DayForecast) for day in series.days)
        assert all(0 <= day.lower <= day.mean <= day.upper for day in series.days)
        assert series.total_lower <= series.total_mean <= series.total_upper
        assert series.total_mean == pytest.approx(sum(day.mean for day in series.days))


def test_a_sparse_series_gets_small_non_negative_forecasts() -> None:
    counts = [0] * 60
    counts[10] = counts[33] = counts[50] = 1
    run = forecast(History(FIRST, {(7, 9): counts}), day_kind)
    days = run.series[(7, 9)].days
    assert all(day.lower == 0 and 0 < day.mean < 0.5 and day.upper <= 2 for day in days)


@pytest.mark.parametrize(
    ("n_days", "expected"),
    [(41, []), (42, [28]), (70, [35, 42, 49, 56]), (63, [28, 35, 42, 49])],
)
def test_backtest_origins_a_week_apart_with_four_weeks_to_learn_from(
    n_days: int, expected: list[int]
) -> None:
    assert backtest_origins(n_days, ModelOptions()) == expected


def test_seasonal_naive_repeats_the_last_week_and_scales_by_its_own_error() -> None:
    train = np.array([[1.0, 2, 3, 4, 5, 6, 7, 2, 2, 3, 4, 5, 6, 9]])
    assert seasonal_naive(train, 9).tolist() == [[2, 2, 3, 4, 5, 6, 9, 2, 2]]
    assert naive_scale(train).tolist() == [pytest.approx(3 / 7)]


def test_too_short_a_history_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 7 days"):
        forecast(History(FIRST, {(1, 1): [1, 2, 3]}), day_kind)
