"""Emerging hot spot benchmark: 100,000 cells × 52 weeks with the cells' weights cached.

    .venv/bin/python bench/analysis_emerging.py [--cells 100000] [--cases 1000000] [--weeks 52]
        [--repeat 3] [--tiny] [--output figures.md]

In its own database `citygrid_bench_emerging` (or BENCH_DATABASE_URL): a grid of about `--cells`
cells of 100 m, and `--cases` cases over the `--weeks` weeks before Monday 2026-11-30 (Beijing),
written set-based (generate_series) and kept for the next run: 70 % uniform over cells and time,
10 % in each of three kinds of strips of 20 neighbouring cells (by id: a row of the generated
grid) — growing (reported more and more towards the end), fading (the reverse) and steady.

Then, through `maps.emerging.service.emerging_hot_spots` (what the page, table, CSV and JSON
call), over the whole city by cell:

- cold: the cells' weights built from the grid (the cache cleared first);
- warm: `--repeat` runs with the weights cached (the target: < 30 s at 100,000 × 52), split into
  the cube statement, the weights and the analysis; the analysis split once more into Gi* for
  every period, the FDR step, the Mann-Kendall tests and the classification;
- for scale, the one-period hot spot map's analysis (`maps.service.hotspots`, last week) and the
  emerging page's HTML (`maps.emerging.page.emerging_html`, drawing capped at the page limit).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from harness import bench_url, ensure_grid
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from analysis.emerging import cube
from analysis.emerging.categories import classify
from analysis.emerging.periods import PeriodUnit, period_bounds
from citygrid.settings import get_settings
from maps import service as map_service
from maps import weights as grid_weights
from maps.emerging import page, service
from maps.emerging.query import EmergingQuery
from maps.pages.service import map_limits
from maps.schemas import MapFilters, Unit

DATABASE = "citygrid_bench_emerging"
END = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday evening in Beijing: weeks end 2026-11-30
STRIP = 20
STRIPS_PER_KIND = 30

CASES_SQL = """
INSERT INTO event_case (number, status, category_id, urgency, description, geom, cell_id,
                        created_at)
SELECT 'EH' || lpad(d.i::text, 10, '0'), 'closed', :category_id, 'normal', 'bench case',
       ST_PointOnSurface(c.geom), c.id, :first + d.share * (:last - :first)
FROM (
    SELECT i,
           CASE WHEN k < 0.7 THEN cells.ids[1 + floor(random() * n)::int]
                ELSE cells.ids[1 + least(n - 1, (strips.starts[1 + floor(random()
                     * cardinality(strips.starts))::int] + floor(random() * :strip))::int)] END
             AS cell_id,
           CASE WHEN k < 0.7 OR k >= 0.9 THEN random()
                WHEN k < 0.8 THEN sqrt(random())          -- growing: later weeks busier
                ELSE 1 - sqrt(random()) END AS share      -- fading
    FROM (SELECT i, random() AS k FROM generate_series(1, :cases) i) r,
         (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM grid_cell) cells,
         (SELECT array_agg(floor(random() * (SELECT count(*) - :strip FROM grid_cell))::int)
                 AS starts FROM generate_series(1, :strips)) strips
) d JOIN grid_cell c ON c.id = d.cell_id
"""


def ensure_cases(session: Session, cases: int, weeks: int) -> None:
    """`cases` bench cases over the weeks (kept: a second run with the same size reuses them)."""
    have = session.scalar(text("SELECT count(*) FROM event_case")) or 0
    if have == cases:
        print(f"cases: {have:,} already in the bench database")
        return
    if have:
        session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
        session.execute(text("TRUNCATE event_case, report, case_transition, case_photo CASCADE"))
        session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    category_id = session.scalar(text("SELECT min(id) FROM category WHERE level = 'minor'"))
    bounds = bounds_for(weeks)
    started = time.perf_counter()
    session.execute(
        text(CASES_SQL),
        {"cases": cases, "category_id": category_id, "first": bounds[0],
         "last": bounds[-1] - timedelta(seconds=1), "strip": STRIP,
         "strips": STRIPS_PER_KIND * 3},
    )  # fmt: skip
    session.commit()
    print(f"cases: {cases:,} written in {time.perf_counter() - started:.1f} s")


def bounds_for(weeks: int) -> list[datetime]:
    return period_bounds(PeriodUnit.WEEK, end=END, periods=weeks, zone=get_settings().city_zone)


def emerging_query(weeks: int) -> EmergingQuery:
    bounds = bounds_for(weeks)
    filters = MapFilters(period_from=bounds[0], period_to=bounds[-1])
    return EmergingQuery(filters, service.EmergingOptions(Unit.CELL, PeriodUnit.WEEK, bounds))


def timed_run(session: Session, query: EmergingQuery) -> tuple[float, service.EmergingReport]:
    started = time.perf_counter()
    report = service.emerging_hot_spots(session, query.filters, query.options)
    return time.perf_counter() - started, report


def analysis_steps(session: Session, query: EmergingQuery) -> dict[str, float]:
    """Seconds of each step of the analysis alone, on the same cube (weights cached)."""
    locations = service.area_locations(session, Unit.CELL, query.filters)
    counts = service.count_cube(session, query.filters, query.options, locations)
    weights, _ = service.location_weights(session, Unit.CELL, locations.ids)
    clock: dict[str, float] = {}
    started = time.perf_counter()
    star = cube.star_matrix(weights.weights)
    z, p = cube.gi_star_cube(star, counts)
    clock["gi_star_s"] = time.perf_counter() - started
    started = time.perf_counter()
    significant = cube.significant_bins(p, alpha=0.05, fdr=True)
    clock["fdr_s"] = time.perf_counter() - started
    started = time.perf_counter()
    tested = significant.any(axis=1)
    tau, trend_p = np.full(counts.shape[0], np.nan), np.full(counts.shape[0], np.nan)
    tau[tested], trend_p[tested] = cube.mann_kendall(z[tested])
    clock["mann_kendall_s"] = time.perf_counter() - started
    clock["tested_locations"] = float(tested.sum())
    started = time.perf_counter()
    cube.mann_kendall(z)
    clock["mann_kendall_every_cell_s"] = time.perf_counter() - started
    started = time.perf_counter()
    classify(z, significant, tau, trend_p, alpha=0.05)
    clock["classify_s"] = time.perf_counter() - started
    return clock


def measure(session: Session, weeks: int, repeat: int) -> dict[str, Any]:
    query = emerging_query(weeks)
    grid_weights.clear_cache()
    cold_s, _ = timed_run(session, query)
    warm, reports = [], []
    for _ in range(repeat):
        seconds, report = timed_run(session, query)
        warm.append(seconds)
        reports.append(report)
    report = reports[-1]
    last_week = MapFilters(period_from=query.options.bounds[-2], period_to=query.options.bounds[-1])
    started = time.perf_counter()
    map_service.hotspots(session, last_week)
    hotspots_s = time.perf_counter() - started
    started = time.perf_counter()
    html = page.emerging_html(session, query, map_limits(get_settings()), language="en")
    page_s = time.perf_counter() - started
    return {
        "locations": len(report.locations),
        "weeks": weeks,
        "cold_s": cold_s,
        "warm_s": statistics.median(warm),
        "warm_split": {k: round(v, 2) for k, v in report.timings_s.items()},
        "steps": analysis_steps(session, query),
        "hotspots_one_week_s": hotspots_s,
        "page_s": page_s,
        "page_mb": len(html.encode()) / 1e6,
        "categories": Counter(location.category.value for location in report.locations),
    }


def markdown(figures: dict[str, Any], cases: int) -> str:
    steps = figures["steps"]
    categories = ", ".join(
        f"{name} {count:,}" for name, count in figures["categories"].most_common() if name != "none"
    )
    warm = figures["warm_s"]
    return "\n".join(
        [
            "## `bench/analysis_emerging.py`: emerging hot spots "
            f"({figures['locations']:,} cells × {figures['weeks']} weeks)",
            "",
            f"{cases:,} cases; whole city, by cell, weekly, confidence 95 %, FDR.",
            "",
            "| step | seconds | share of a warm run |",
            "|---|---:|---:|",
            f"| whole analysis, weights cached (median) | {warm:.2f} | 100 % |",
            *(
                f"| — {name.removesuffix('_s')} | {seconds:.2f} | {seconds / warm:.0%} |"
                for name, seconds in figures["warm_split"].items()
            ),
            f"| whole analysis, weights built (cold) | {figures['cold_s']:.2f} | "
            f"{figures['cold_s'] / warm:.1f}× warm |",
            f"| analysis alone: Gi* for every week | {steps['gi_star_s']:.2f} | "
            f"{steps['gi_star_s'] / warm:.0%} |",
            f"| analysis alone: FDR per week | {steps['fdr_s']:.2f} | "
            f"{steps['fdr_s'] / warm:.0%} |",
            f"| analysis alone: Mann-Kendall ({int(steps['tested_locations']):,} cells with a "
            f"significant week) | {steps['mann_kendall_s']:.2f} | "
            f"{steps['mann_kendall_s'] / warm:.0%} |",
            f"| (not done: Mann-Kendall for every cell) | {steps['mann_kendall_every_cell_s']:.2f} "
            f"| {steps['mann_kendall_every_cell_s'] / warm:.0%} |",
            f"| analysis alone: classification | {steps['classify_s']:.2f} | "
            f"{steps['classify_s'] / warm:.0%} |",
            f"| for scale: one week's hot spot map (Gi*, trend) | "
            f"{figures['hotspots_one_week_s']:.2f} | {figures['hotspots_one_week_s'] / warm:.0%} |",
            f"| the page (HTML, {figures['page_mb']:.2f} MB) | {figures['page_s']:.2f} | "
            f"{figures['page_s'] / warm:.1f}× |",
            "",
            f"Target < 30 s warm: {'met' if warm < 30 else 'missed'}. Categories: {categories}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="1,000 cells, 20,000 cases, 12 weeks")
    parser.add_argument("--output", type=Path, help="write the figures as markdown here")
    args = parser.parse_args()
    if args.tiny:
        args.cells, args.cases, args.weeks, args.repeat = 1_000, 20_000, 12, 1
    url = bench_url(DATABASE)
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    with Session(engine) as session:
        ensure_cases(session, args.cases, args.weeks)
        session.execute(text("ANALYZE event_case"))
        figures = measure(session, args.weeks, args.repeat)
    engine.dispose()
    result = markdown(figures, args.cases)
    print(result)
    if args.output:
        args.output.write_text(result)


if __name__ == "__main__":
    main()
