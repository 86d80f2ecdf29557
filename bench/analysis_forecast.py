"""Forecast benchmark: the next 14 days for every street × category group, with its backtest.

    .venv/bin/python bench/analysis_forecast.py                  # the demo city's history
    .venv/bin/python bench/analysis_forecast.py --synthetic [--cells 1000] [--cases 3000]

Demo (the default): in its own database `citygrid_bench_forecast` (or BENCH_DATABASE_URL) it
loads the demo (`citygrid demo load`: Dongcheng, ~20,000 cases over 90 days) unless it is
there, then times `analysis.forecast.service.forecast_report` as the page and the API call it:
the daily counts (one SQL statement), the model's fit of every series, and the rolling-origin
backtest (4 origins a week apart, 14 days each). The target is under 60 s. It prints the
backtest's MASE (against the seasonal-naive scale), the seasonal-naive forecast's own MASE and
the 80 % interval's coverage, for the model and for variants of it (no sharing of the weekly
profile within a group; no holiday regressors; shorter and longer memory), so the choice of
method can be checked.

Synthetic (`--synthetic`, in `citygrid_bench_forecast_synthetic`; the test's tiny run on an
empty database): a generated grid of about `--cells` cells (a street per 400) and `--cases`
cases over the last `--days` days, weekdays busier than weekends and the official holidays
(on weekdays, by the default calendar: National Day with the default 70 days) at a third of a
weekday's volume, written set-based; then the same measurements.
Figures are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from harness import bench_url, ensure_grid
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from analysis.forecast import model, service
from citygrid import db
from citygrid.cli import migrate
from citygrid.settings import get_settings
from dispatch.calendars import service as calendars

DATABASE = "citygrid_bench_forecast"
SYNTHETIC_DATABASE = "citygrid_bench_forecast_synthetic"

# Cases over the last :days days: weekdays 1.0, Saturday 0.6, Sunday 0.5, 0.35 on holidays
# (drawn by rejection); uniform over cells and over 40 minor categories (of every group).
SYNTHETIC_SQL = """
INSERT INTO event_case (number, status, category_id, description, geom, cell_id, created_at)
SELECT 'FC' || lpad(x.i::text, 12, '0'), 'closed', x.category_id, 'bench case',
       ST_PointOnSurface(c.geom), c.id, x.at
FROM (SELECT i, :until - random() * (:days * interval '1 day') AS at, random() AS keep,
             b.first_cell + floor(random() * b.cells)::int AS cell_id,
             b.ids[1 + floor(random() * cardinality(b.ids))::int] AS category_id
      FROM generate_series(1, :draws) i,
           (SELECT (SELECT min(id) FROM grid_cell) AS first_cell,
                   (SELECT count(*) FROM grid_cell) AS cells,
                   (SELECT array_agg(id) FROM (SELECT id FROM category WHERE level = 'minor'
                                               ORDER BY md5(code || standard) LIMIT 40) k) AS ids
           ) b) x
JOIN grid_cell c ON c.id = x.cell_id
WHERE x.keep < CASE WHEN CAST(x.at AT TIME ZONE :zone AS date) = ANY(CAST(:holidays AS date[]))
                    THEN 0.35
                    WHEN extract(isodow FROM x.at AT TIME ZONE :zone) = 6 THEN 0.6
                    WHEN extract(isodow FROM x.at AT TIME ZONE :zone) = 7 THEN 0.5
                    ELSE 1.0 END
"""

VARIANTS: dict[str, dict[str, Any]] = {
    "model (default)": {},
    "half-life 14 d": {"half_life_days": 14.0},
    "half-life 56 d": {"half_life_days": 56.0},
    "no prior": {"prior_days": 0.0},
    "scored on the mean, not the median": {"scored_point": "mean"},
}


def load_demo(engine: Engine) -> float:
    """`citygrid demo load` into the bench database; seconds taken (0 when already there)."""
    with Session(engine) as session:
        if session.scalar(text("SELECT count(*) FROM report WHERE channel = 'demo'")):
            return 0.0
    from citygrid.demo import city

    @contextmanager
    def bench_session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            yield session

    started = time.perf_counter()
    original, db.open_session = db.open_session, bench_session
    try:
        city.load()
    finally:
        db.open_session = original
    return time.perf_counter() - started


def load_synthetic(url: str, engine: Engine, *, cells: int, cases: int, days: int) -> float:
    """A generated grid and `cases` cases (about) over the last `days` days; seconds taken."""
    started = time.perf_counter()
    ensure_grid(url, cells)
    zone = get_settings().city_zone
    until = datetime.now(UTC)
    with Session(engine) as session:
        code = get_settings().default_calendar_code
        day_kind = service.day_kind_of(
            calendars.calendar_for_department(session, None, default_code=code)
        )
        today = until.astimezone(zone).date()
        window = [today - timedelta(days=offset) for offset in range(days + 1)]
        holidays = [day for day in window if day_kind(day) is model.DayKind.HOLIDAY]
        session.execute(text("DELETE FROM event_case WHERE number LIKE 'FC%'"))
        params = {
            "draws": int(cases / 0.9),
            "until": until,
            "days": days,
            "zone": str(zone),
            "holidays": [day.isoformat() for day in holidays],
        }
        session.execute(text(SYNTHETIC_SQL), params)
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE event_case"))
    return time.perf_counter() - started


def accuracy(figures: model.Accuracy) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "mase": rounded(figures.mase),
        "seasonal_naive_mase": rounded(figures.naive_mase),
        "coverage_80": rounded(figures.coverage),
        "scored_days": figures.points,
    }


def sarimax_backtest(
    history: model.History, day_kind: model.DayKindOf, keys: list[model.SeriesKey]
) -> dict[str, Any]:
    """The same backtest for statsmodels' SARIMAX(1,0,0)(1,0,0)7 with a constant and the holiday
    and make-up workday dummies as regressors, fitted per series (Gaussian 80 % intervals,
    lower bounds cut at 0): the alternative the model was chosen over."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    options = model.ModelOptions()
    n_days, horizon = history.n_days, options.horizon_days
    days = [history.first_day + timedelta(days=k) for k in range(n_days)]
    special = model.day_features(days, day_kind)[:, 6:]
    exog = special[:, special.any(axis=0)] if special.any() else None
    mases, hits, points, fits, started = [], 0, 0, 0, time.perf_counter()
    for key in keys:
        y = np.asarray(history.counts[key], dtype=float)
        scaled = []
        for origin in model.backtest_origins(n_days, options):
            train, actual = y[:origin], y[origin : origin + horizon]
            past = None if exog is None else exog[:origin]
            future = None if exog is None else exog[origin : origin + horizon]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = SARIMAX(
                    train, exog=past, order=(1, 0, 0), seasonal_order=(1, 0, 0, 7), trend="c"
                ).fit(disp=False)
                prediction = fitted.get_forecast(horizon, exog=future)
            fits += 1
            mean = prediction.predicted_mean
            bounds = prediction.conf_int(alpha=0.2)
            lower, upper = np.maximum(bounds[:, 0], 0), bounds[:, 1]
            hits += int(((actual >= lower) & (actual <= upper)).sum())
            points += horizon
            scale = float(model.naive_scale(train[None, :])[0])
            if scale > 0:
                scaled.append(float(np.abs(actual - mean).mean()) / scale)
        if scaled:
            mases.append(float(np.mean(scaled)))
    seconds = time.perf_counter() - started
    return {
        "series": len(keys),
        "mase": round(float(np.mean(mases)), 3) if mases else None,
        "coverage_80": round(hits / points, 3) if points else None,
        "seconds_per_fit": round(seconds / max(fits, 1), 3),
    }


def measure(engine: Engine, history_days: int, compare: int) -> dict[str, Any]:
    """The page's call timed, its parts timed alone, and the variants' backtests."""
    settings = get_settings()
    zone, code = settings.city_zone, settings.default_calendar_code
    with Session(engine) as session:
        started = time.perf_counter()
        service.forecast_report(session, zone=zone, calendar_code=code, history_days=history_days)
        cold = time.perf_counter() - started  # the first call imports statsmodels and scipy
        started = time.perf_counter()
        report = service.forecast_report(
            session, zone=zone, calendar_code=code, history_days=history_days
        )
        total = time.perf_counter() - started
        started = time.perf_counter()
        counts = service.daily_counts(session, report.first_day, report.last_day, zone)
        sql = time.perf_counter() - started
        calendar = calendars.calendar_for_department(session, None, default_code=code)
    history = model.History(report.first_day, counts)
    day_kind = service.day_kind_of(calendar)
    started = time.perf_counter()
    model.forecast(history, day_kind, model.ModelOptions(backtest_origins=0))
    fit_only = time.perf_counter() - started
    variants = {}
    for name, changes in VARIANTS.items():
        run = model.forecast(history, day_kind, replace(model.ModelOptions(), **changes))
        variants[name] = accuracy(run.overall)
    unshared = {(street, street * 1_000_003 + group): v for (street, group), v in counts.items()}
    run = model.forecast(model.History(report.first_day, unshared), day_kind)
    variants["profile per series (no sharing)"] = accuracy(run.overall)
    no_holidays = model.forecast(history, lambda day: model.DayKind.ORDINARY)
    variants["no holiday regressors"] = accuracy(no_holidays.overall)
    n_days = (report.last_day - report.first_day).days + 1
    busy = [row for row in report.rows if row.history_cases / n_days >= 2]
    compared = sorted(report.rows, key=lambda row: -row.history_cases)[:compare]
    keys = [(row.street.id, row.group.id) for row in compared]
    comparison = {
        "model": accuracy(model.overall_accuracy([row.forecast.accuracy for row in compared])),
        "sarimax": sarimax_backtest(history, day_kind, keys) if keys else None,
    }
    return {
        "series": len(report.rows),
        "cases": sum(row.history_cases for row in report.rows),
        "history": f"{report.first_day} – {report.last_day}",
        "seconds": {
            "first_page_call_with_imports": round(cold, 2),
            "page_call_total": round(total, 2),
            "daily_counts_sql": round(sql, 3),
            "fit_and_forecast_only": round(fit_only, 3),
            "backtest_share": round(max(0.0, total - sql - fit_only) / total, 2),
        },
        "target_60s_met": cold < 60,
        "backtest": accuracy(report.overall),
        "backtest_series_with_2_or_more_cases_a_day": accuracy(
            model.overall_accuracy([row.forecast.accuracy for row in busy])
        )
        | {"series": len(busy)},
        "variants": variants,
        f"busiest_{len(keys)}_series_model_vs_sarimax": comparison,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--synthetic", action="store_true", help="a generated city, not the demo")
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--days", type=int, default=70)
    parser.add_argument("--history-days", type=int, default=service.DEFAULT_HISTORY_DAYS)
    parser.add_argument(
        "--compare", type=int, default=20, help="busiest series to backtest SARIMAX on too"
    )
    arguments = parser.parse_args()
    url = bench_url(SYNTHETIC_DATABASE if arguments.synthetic else DATABASE)
    migrate(url)
    engine = create_engine(url)
    if arguments.synthetic:
        loaded = load_synthetic(
            url, engine, cells=arguments.cells, cases=arguments.cases, days=arguments.days
        )
    else:
        loaded = load_demo(engine)
    figures = {"source": "synthetic" if arguments.synthetic else "demo", "load_seconds": loaded}
    figures |= measure(engine, arguments.history_days, arguments.compare)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    engine.dispose()


if __name__ == "__main__":
    main()
