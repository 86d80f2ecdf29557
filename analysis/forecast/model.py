"""Daily case counts per street × category group for the next days (pure): a count model, its
80 % prediction intervals, and a rolling-origin backtest against the seasonal-naive forecast.

The method, chosen by the backtest (bench/analysis_forecast.py):

- *Profile* of each category group: a Poisson GLM (statsmodels) of the group's city-wide daily
  counts on the day of the week, a rest day on a weekday (a public holiday, or an
  administrator's day off), a workday on a weekend (调休 make-up workday) and a linear trend.
  Holidays count as Sundays and make-up workdays as Mondays before their own effect is added,
  so a window without any holiday still forecasts one sensibly. A group with too few cases
  borrows the profile of all groups together; with too few cases in all, the profile is flat.
- *Level* of each street in the group: the Poisson maximum-likelihood rate against that profile,
  with exponentially decaying weights (recent weeks count more) and a prior of a week's worth of
  the street's whole-window rate, so a street with a few cases is neither zero nor wild.
- *Intervals*: the 10 % and 90 % quantiles of a negative binomial with the forecast mean; its
  dispersion is the group's overdispersion (a moment estimate over its streets' residuals) plus
  the relative variance of the street's level, so a thin history widens the interval.

Why not ETS or SARIMAX per series: street × group counts are small and often zero, where
Gaussian models give negative lower bounds and poorly calibrated intervals, and a SARIMAX fit
per series and origin (0.07–0.16 s) makes a district's forecast with its backtest take minutes
(1,271 series × 5 fits) where this takes about a second. Sharing the weekly and holiday shape
within a group learns it from thousands of cases instead of dozens. On the demo's 20 busiest
series the backtest gave MASE 0.73 and 85 % coverage here against SARIMAX(1,0,0)(1,0,0)7 with
the same holiday regressors at 0.76 and 76 % (bench/analysis_forecast.py, bench/README.md).

MASE scores the day's median, the point forecast that minimises absolute error: for a street
with a case every few days it is 0, where the mean (0.3) is never right; the mean is still the
figure to add up over days and streets.

The backtest cuts the history at several origins (a week apart, the last one `horizon` days
before its end), fits on what lies before each origin and forecasts the next `horizon` days.
MASE divides the forecast's mean absolute error by the in-sample mean absolute error of the
seasonal-naive forecast (the same weekday a week earlier) on the training days: below 1 the
model beats last week's numbers. Coverage is the share of actual days inside the 80 % interval.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

# statsmodels and scipy.stats (with pandas under them) take most of a second to import: they
# are imported on the first forecast, not with the app's routes.

SeriesKey = tuple[int, int]  # (street id, category group id): the group shares its profile
FloatArray = NDArray[np.float64]
SEASON_DAYS = 7
# Holidays behave like a Sunday and make-up workdays like a Monday, before their own effect.
_EFFECTIVE_WEEKDAY_OF_HOLIDAY, _EFFECTIVE_WEEKDAY_OF_MAKEUP = 6, 0


class DayKind(enum.StrEnum):
    ORDINARY = "ordinary"  # the weekday rule decides
    HOLIDAY = "holiday"  # a day off on a weekday (public holiday, administrator's day off)
    MAKEUP_WORKDAY = "makeup_workday"  # a working day on a weekend (调休)


DayKindOf = Callable[[date], DayKind]


@dataclass(frozen=True)
class ModelOptions:
    horizon_days: int = 14
    interval: float = 0.8  # central prediction interval
    half_life_days: float = 28.0  # weight of a day in a street's level halves every so many days
    prior_days: float = 7.0  # the street's whole-window rate, worth this many days of profile
    min_group_cases: int = 60  # fewer: the group borrows the profile of all groups
    min_train_days: int = 28
    backtest_origins: int = 4
    origin_step_days: int = 7
    # The day's number MASE scores: the median, the point forecast that minimises the absolute
    # error (for a street with a case every few days it is 0, where the mean is not); "mean" to
    # score the expected value instead.
    scored_point: str = "median"


@dataclass(frozen=True)
class History:
    """Daily counts from `first_day`, every series the same number of days."""

    first_day: date
    counts: Mapping[SeriesKey, Sequence[int]]

    @property
    def n_days(self) -> int:
        return len(next(iter(self.counts.values()))) if self.counts else 0


def from_first_case(history: History, *, min_days: int = SEASON_DAYS) -> History:
    """The history from the first day any series has a case (before it the city was not
    reporting, and its zeros would shrink the forecast and the seasonal-naive scale), keeping
    at least `min_days` days."""
    n_days = history.n_days
    first_case = min(
        (
            next((i for i, n in enumerate(series) if n), n_days)
            for series in history.counts.values()
        ),
        default=n_days,
    )
    start = max(0, min(first_case, n_days - min_days))
    return History(
        history.first_day + timedelta(days=start),
        {key: list(series[start:]) for key, series in history.counts.items()},
    )


@dataclass(frozen=True)
class DayForecast:
    day: date
    mean: float  # expected cases (add these up for a week or a district)
    median: int  # most likely about; the number MASE scores
    lower: int  # the interval's bounds, inclusive
    upper: int


@dataclass(frozen=True)
class Accuracy:
    """Backtest figures; None where undefined (no origin fits, a constant training series)."""

    mase: float | None  # the model's
    naive_mase: float | None  # the seasonal-naive forecast's own, out of sample
    coverage: float | None  # share of actual days inside the interval
    points: int  # forecast days scored


@dataclass(frozen=True)
class Forecast:
    days: tuple[DayForecast, ...]
    total_mean: float
    total_lower: int  # interval of the sum over the horizon
    total_upper: int
    accuracy: Accuracy


@dataclass(frozen=True)
class ForecastRun:
    series: dict[SeriesKey, Forecast]
    overall: Accuracy  # MASE: mean over series; coverage: over every scored day
    origins: tuple[date, ...]  # the backtest's first forecast days


@dataclass(frozen=True)
class _Fit:
    """Means and negative-binomial dispersions, one row per series."""

    mean: FloatArray  # series × horizon
    dispersion: FloatArray  # series


def day_features(days: Sequence[date], day_kind: DayKindOf) -> FloatArray:
    """Columns: six weekday dummies (Monday is the base), holiday, make-up workday."""
    features = np.zeros((len(days), 8))
    for row, day in enumerate(days):
        kind = day_kind(day)
        weekday = day.weekday()
        if kind is DayKind.HOLIDAY:
            weekday, features[row, 6] = _EFFECTIVE_WEEKDAY_OF_HOLIDAY, 1.0
        elif kind is DayKind.MAKEUP_WORKDAY:
            weekday, features[row, 7] = _EFFECTIVE_WEEKDAY_OF_MAKEUP, 1.0
        if weekday:
            features[row, weekday - 1] = 1.0
    return features


def profile(counts: FloatArray, features: FloatArray, future: FloatArray) -> FloatArray:
    """exp(effects of the day) for the training and the future days, from a Poisson GLM with
    a trend (the trend is left out of the profile: the streets' levels follow the recent
    weeks). Columns never set in training get no effect of their own."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    used = features.any(axis=0)
    trend = np.arange(len(counts), dtype=float) / SEASON_DAYS
    design = np.column_stack([np.ones(len(counts)), trend, features[:, used]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation in a sparse group: its effect tends to -inf
        params = GLM(counts, design, family=families.Poisson()).fit().params
    effects = np.zeros(features.shape[1])
    effects[used] = np.clip(params[2:], -20.0, 20.0)
    return np.asarray(np.exp(np.vstack([features, future]) @ effects))


def group_profiles(
    matrix: FloatArray,
    groups: Sequence[int],
    features: FloatArray,
    future: FloatArray,
    min_cases: int,
) -> dict[int, FloatArray]:
    """The profile of each group (of all groups together when it has too few cases)."""
    city = matrix.sum(axis=0)
    if city.sum() >= min_cases:
        fallback = profile(city, features, future)
    else:
        fallback = np.ones(len(features) + len(future))
    profiles = {}
    for group in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == group]
        counts = matrix[rows].sum(axis=0)
        enough = counts.sum() >= min_cases
        profiles[group] = profile(counts, features, future) if enough else fallback
    return profiles


def fit(
    matrix: FloatArray, groups: Sequence[int], features: FloatArray, future: FloatArray,
    options: ModelOptions,
) -> _Fit:  # fmt: skip
    """Forecast means and dispersions of every series (rows of `matrix`) for the future days."""
    n_train = matrix.shape[1]
    shapes = group_profiles(matrix, groups, features, future, options.min_group_cases)
    shape = np.vstack([shapes[group] for group in groups])
    past, ahead = shape[:, :n_train], shape[:, n_train:]
    weights = 0.5 ** ((n_train - 1 - np.arange(n_train)) / options.half_life_days)
    whole_rate = matrix.sum(axis=1) / np.maximum(past.sum(axis=1), 1e-9)
    prior = options.prior_days * past.mean(axis=1)
    exposure = past @ weights + prior
    level = (matrix @ weights + prior * whole_rate) / exposure
    level_variance = 1.0 / np.maximum(level * exposure, 0.5)  # relative, of a Poisson rate
    fitted = whole_rate[:, None] * past
    dispersion = {}
    for group in set(groups):
        rows = [i for i, g in enumerate(groups) if g == group]
        excess = ((matrix[rows] - fitted[rows]) ** 2 - matrix[rows]).sum()
        dispersion[group] = max(0.0, excess / max(float((fitted[rows] ** 2).sum()), 1e-9))
    group_dispersion = np.array([dispersion[group] for group in groups])
    return _Fit(level[:, None] * ahead, group_dispersion + level_variance)


def quantiles(mean: FloatArray, dispersion: FloatArray, q: float) -> FloatArray:
    """The q-quantile of a negative binomial (mean, variance mean + dispersion·mean²)."""
    from scipy import stats

    size = 1.0 / np.maximum(dispersion, 1e-6)
    return np.asarray(stats.nbinom.ppf(q, size, size / (size + mean)))


def seasonal_naive(train: FloatArray, horizon: int) -> FloatArray:
    """Each future day's value: the same weekday's value in the last training week."""
    last_week = train[:, -SEASON_DAYS:]
    return np.asarray(np.tile(last_week, (1, -(-horizon // SEASON_DAYS)))[:, :horizon])


def naive_scale(train: FloatArray) -> FloatArray:
    """In-sample mean absolute error of the seasonal-naive forecast (0: undefined)."""
    return np.asarray(np.abs(train[:, SEASON_DAYS:] - train[:, :-SEASON_DAYS]).mean(axis=1))


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=k) for k in range(count)]


def backtest_origins(n_days: int, options: ModelOptions) -> list[int]:
    """Indices of the first forecast day of each origin, oldest first."""
    last = n_days - options.horizon_days
    origins = [last - k * options.origin_step_days for k in range(options.backtest_origins)]
    return sorted(origin for origin in origins if origin >= options.min_train_days)


@dataclass
class _Scores:
    """Per-series sums over the origins."""

    model: FloatArray
    naive: FloatArray
    scored_origins: FloatArray
    hits: FloatArray
    points: int = 0


def _score(
    matrix: FloatArray, groups: Sequence[int], features: FloatArray, origin: int,
    options: ModelOptions, scores: _Scores,
) -> None:  # fmt: skip
    horizon = options.horizon_days
    train, actual = matrix[:, :origin], matrix[:, origin : origin + horizon]
    result = fit(train, groups, features[:origin], features[origin : origin + horizon], options)
    lower, upper = _bounds(result, options.interval)
    scale = naive_scale(train)
    defined = scale > 0
    safe = np.where(defined, scale, 1.0)
    point = result.mean
    if options.scored_point == "median":
        point = quantiles(result.mean, result.dispersion[:, None], 0.5)
    scores.model += np.where(defined, np.abs(actual - point).mean(axis=1) / safe, 0.0)
    naive_error = np.abs(actual - seasonal_naive(train, horizon)).mean(axis=1)
    scores.naive += np.where(defined, naive_error / safe, 0.0)
    scores.scored_origins += defined
    scores.hits += ((actual >= lower) & (actual <= upper)).sum(axis=1)
    scores.points += horizon


def _bounds(result: _Fit, interval: float) -> tuple[FloatArray, FloatArray]:
    tail = (1.0 - interval) / 2
    dispersion = result.dispersion[:, None]
    return (
        quantiles(result.mean, dispersion, tail),
        quantiles(result.mean, dispersion, 1.0 - tail),
    )


def backtest(
    matrix: FloatArray, groups: Sequence[int], features: FloatArray, origins: Sequence[int],
    options: ModelOptions,
) -> tuple[list[Accuracy], Accuracy]:  # fmt: skip
    """Accuracy of each series and overall over the rolling origins."""
    n = matrix.shape[0]
    scores = _Scores(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    for origin in origins:
        _score(matrix, groups, features, origin, options, scores)
    per_series = [
        Accuracy(
            mase=_mean_of(scores.model[i], scores.scored_origins[i]),
            naive_mase=_mean_of(scores.naive[i], scores.scored_origins[i]),
            coverage=_mean_of(scores.hits[i], scores.points),
            points=scores.points,
        )
        for i in range(n)
    ]
    return per_series, overall_accuracy(per_series)


def _mean_of(total: float, count: float) -> float | None:
    return float(total / count) if count else None


def overall_accuracy(per_series: Sequence[Accuracy]) -> Accuracy:
    """MASE averaged over the series where it is defined; coverage over every scored day."""
    mases = [a.mase for a in per_series if a.mase is not None]
    naive = [a.naive_mase for a in per_series if a.naive_mase is not None]
    points = sum(a.points for a in per_series)
    hits = sum((a.coverage or 0.0) * a.points for a in per_series)
    return Accuracy(
        mase=float(np.mean(mases)) if mases else None,
        naive_mase=float(np.mean(naive)) if naive else None,
        coverage=hits / points if points else None,
        points=points,
    )


def sum_interval(mean: FloatArray, dispersion: FloatArray, interval: float) -> FloatArray:
    """Bounds of the sum over the horizon: a negative binomial with the sum's mean and variance
    (the days taken as independent given the level)."""
    total = mean.sum(axis=1)
    variance = (mean + dispersion[:, None] * mean**2).sum(axis=1)
    total_dispersion = np.where(total > 0, (variance - total) / np.maximum(total, 1e-9) ** 2, 0)
    tail = (1.0 - interval) / 2
    return np.vstack(
        [quantiles(total, total_dispersion, tail), quantiles(total, total_dispersion, 1 - tail)]
    )


def forecast(
    history: History, day_kind: DayKindOf, options: ModelOptions | None = None
) -> ForecastRun:
    """The next `horizon_days` after the history for every series, with the backtest."""
    options = options or ModelOptions()
    keys = sorted(history.counts)
    n_days, horizon = history.n_days, options.horizon_days
    if not keys or n_days < SEASON_DAYS:
        raise ValueError(f"a forecast needs at least {SEASON_DAYS} days of history")
    matrix = np.array([history.counts[key] for key in keys], dtype=float)
    groups = [key[1] for key in keys]
    all_days = _days(history.first_day, n_days + horizon)
    features = day_features(all_days, day_kind)
    result = fit(matrix, groups, features[:n_days], features[n_days:], options)
    lower, upper = _bounds(result, options.interval)
    median = quantiles(result.mean, result.dispersion[:, None], 0.5)
    totals = sum_interval(result.mean, result.dispersion, options.interval)
    origins = backtest_origins(n_days, options)
    accuracy, overall = backtest(matrix, groups, features, origins, options)
    future = all_days[n_days:]
    series = {
        key: Forecast(
            days=tuple(
                DayForecast(
                    day,
                    float(result.mean[i, h]),
                    int(median[i, h]),
                    int(lower[i, h]),
                    int(upper[i, h]),
                )
                for h, day in enumerate(future)
            ),
            total_mean=float(result.mean[i].sum()),
            total_lower=int(totals[0, i]),
            total_upper=int(totals[1, i]),
            accuracy=accuracy[i],
        )
        for i, key in enumerate(keys)
    }
    first_days = tuple(all_days[origin] for origin in origins)
    return ForecastRun(series, overall, first_days)
