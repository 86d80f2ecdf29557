"""Map benchmark: 100,000 cells and 1,000,000 reports; time per page and HTML size.

    .venv/bin/python bench/maps.py [--cells 100000] [--reports 1000000] [--repeat 3]

It uses its own database `citygrid_bench_maps` on the embedded cluster (or BENCH_DATABASE_URL),
so it does not disturb the other benchmarks' `citygrid_bench`; grid and reports are kept there
and a second run skips generating them. Reports are spread over 60 days: 70 % uniformly over the
cells, 30 % in 20 Gaussian clusters. The pages cover the whole city: heatmap and choropleth over
all 60 days, hotspots over the last 30 days (the trend reads the 30 days before).

For each page it reports the SQL aggregation, the weights (cold: built from the grid; cached),
Gi*, the total page build (maps.pages.service's page builders, as the routes call them) and the HTML
size; rendering is the page build minus the aggregation, weights and Gi* measured alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# This script is bench/maps.py: with bench/ first on sys.path, `import maps` would find this
# file instead of the package. Put bench/ last (harness is still found there).
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != BENCH_DIR] + [BENCH_DIR]

import numpy as np  # noqa: E402
from harness import bench_url, ensure_grid  # noqa: E402
from scipy.spatial import KDTree  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from citygrid.settings import get_settings  # noqa: E402
from events import taxonomy  # noqa: E402
from events.categories import service as categories  # noqa: E402
from maps import hotspots as gi_star  # noqa: E402
from maps import service, weights  # noqa: E402
from maps.schemas import ChoroplethOptions, MapFilters, Metric, Unit  # noqa: E402

DATABASE = "citygrid_bench_maps"
DAYS = 60
CLUSTERS = 20
CLUSTER_SHARE = 0.3
CLUSTER_SIGMA_M = 400.0
CHUNK = 250_000
STATUSES = ["reported", "filed", "dispatched", "accepted", "handled", "closed"]
STATUS_SHARES = [0.05, 0.05, 0.1, 0.1, 0.1, 0.6]
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def maps_bench_url() -> str:
    """BENCH_DATABASE_URL, or the `citygrid_bench_maps` database (created when missing)."""
    return bench_url(DATABASE)


def ensure_taxonomy(session: Session) -> list[int]:
    """Ids of the minor event categories (loading the taxonomy when the database has none)."""
    if not session.scalar(text("SELECT count(*) FROM category")):
        categories.load_taxonomy(session, taxonomy.read_taxonomy())
        session.commit()
    return list(session.scalars(text("SELECT id FROM category WHERE level = 'minor' ORDER BY id")))


def sample_cells(session: Session, count: int, rng: np.random.Generator) -> np.ndarray:
    """Cell ids for `count` reports: uniform, plus Gaussian clusters snapped to the nearest cell."""
    rows = session.execute(
        text("SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM grid_cell")
    ).all()
    ids = np.array([row[0] for row in rows])
    xy = np.array([(row[1], row[2]) for row in rows])
    metres = xy * 111_320.0
    metres[:, 0] *= np.cos(np.radians(xy[:, 1].mean()))
    clustered = int(count * CLUSTER_SHARE)
    centres = metres[rng.integers(0, len(ids), CLUSTERS)]
    points = centres[rng.integers(0, CLUSTERS, clustered)] + rng.normal(
        0, CLUSTER_SIGMA_M, (clustered, 2)
    )
    _, nearest = KDTree(metres).query(points)
    uniform = rng.integers(0, len(ids), count - clustered)
    chosen = np.concatenate([ids[nearest], ids[uniform]])
    rng.shuffle(chosen)
    return chosen


INSERT_CASES = """
INSERT INTO event_case (number, status, category_id, urgency, description, geom, cell_id,
                        created_at, due_at, handled_at)
SELECT 'BM' || lpad((:offset + d.n)::text, 9, '0'), d.status, d.category_id,
       CASE WHEN d.urgent THEN 'urgent' ELSE 'normal' END, 'bench report', p.geom, d.cell_id,
       :now - make_interval(secs => d.age_s), :now - make_interval(secs => d.age_s - 172800),
       CASE WHEN d.status IN ('handled', 'closed')
            THEN :now - make_interval(secs => d.age_s - d.handling_s) END
FROM unnest(CAST(:cell_ids AS int[]), CAST(:statuses AS text[]), CAST(:category_ids AS int[]),
            CAST(:urgent AS bool[]), CAST(:age_s AS float8[]), CAST(:handling_s AS float8[]))
     WITH ORDINALITY AS d(cell_id, status, category_id, urgent, age_s, handling_s, n)
JOIN bench_cell_point p ON p.id = d.cell_id
"""


def ensure_reports(session: Session, count: int) -> None:
    """`count` bench cases, each with its report (kept for the next run)."""
    have = session.scalar(text("SELECT count(*) FROM event_case")) or 0
    if have >= count:
        print(f"reports: {have:,} already in {DATABASE}")
        return
    if have:  # the history is append-only; only a bench database lifts the guard for this
        session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
        session.execute(text("TRUNCATE event_case, report, case_transition, case_photo CASCADE"))
        session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    category_ids = np.array(ensure_taxonomy(session))
    rng = np.random.default_rng(2026)
    started = time.perf_counter()
    session.execute(
        text(
            "CREATE TEMP TABLE bench_cell_point AS "
            "SELECT id, ST_PointOnSurface(geom) AS geom FROM grid_cell"
        )
    )
    session.execute(text("ALTER TABLE bench_cell_point ADD PRIMARY KEY (id)"))
    cells = sample_cells(session, count, rng)
    for offset in range(0, count, CHUNK):
        size = min(CHUNK, count - offset)
        session.execute(
            text(INSERT_CASES),
            random_columns(rng, cells[offset : offset + size], category_ids, offset),
        )
    session.execute(
        text(
            "INSERT INTO report (report_uuid, case_id, original_case_id, geom, description, "
            "created_at) SELECT gen_random_uuid(), id, id, geom, description, created_at "
            "FROM event_case"
        )
    )
    session.commit()
    print(f"reports: {count:,} cases and reports written in {time.perf_counter() - started:.1f} s")


def random_columns(
    rng: np.random.Generator, cells: np.ndarray, category_ids: np.ndarray, offset: int
) -> dict[str, Any]:
    size = len(cells)
    return {
        "offset": offset,
        "now": NOW,
        "cell_ids": cells.tolist(),
        "statuses": rng.choice(STATUSES, size, p=STATUS_SHARES).tolist(),
        "category_ids": rng.choice(category_ids, size).tolist(),
        "urgent": (rng.random(size) < 0.1).tolist(),
        "age_s": rng.uniform(0, DAYS * 86_400, size).tolist(),
        "handling_s": rng.uniform(3_600, 4 * 86_400, size).tolist(),
    }


class ServiceClock:
    """Times every call into maps.service while a page is built (the pages call it by module
    attribute), so rendering = page time − time in the service, within the same run."""

    NAMES = (
        "heat_points",
        "unit_values",
        "unit_count",
        "case_markers",
        "unit_outlines",
        "outlines_base",
        "hotspots",
    )

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> ServiceClock:
        self.originals = {name: getattr(service, name) for name in self.NAMES}
        for name, original in self.originals.items():
            setattr(service, name, self._timed(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self.originals.items():
            setattr(service, name, original)

    def _timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return call


def page_timed(build: Callable[[], str], repeat: int) -> tuple[float, float, str]:
    """Median page time, median time of that spent in maps.service, and the last HTML."""
    pages, in_service, html = [], [], ""
    for _ in range(repeat):
        with ServiceClock() as clock:
            started = time.perf_counter()
            html = build()
            pages.append(time.perf_counter() - started)
        in_service.append(clock.seconds)
    return statistics.median(pages), statistics.median(in_service), html


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` runs, and the last result."""
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def bench_pages(session: Session, repeat: int) -> list[tuple[str, str]]:
    """Rows of the figures table."""
    from maps.pages import service as pages

    everything = MapFilters(period_from=NOW - timedelta(days=DAYS), period_to=NOW)
    recent = MapFilters(period_from=NOW - timedelta(days=DAYS // 2), period_to=NOW)
    limits = pages.map_limits(get_settings())
    rows: list[tuple[str, str]] = []

    heat_sql, points = timed(lambda: service.heat_points(session, everything), repeat)
    page = page_timed(lambda: pages.heatmap_html(session, everything, limits), repeat)
    rows += page_rows("heatmap", heat_sql, page, f"{len(points):,} heat points")

    options = ChoroplethOptions(unit=Unit.CELL, metric=Metric.REPORTS)
    choro_sql, values = timed(
        lambda: service.unit_values(session, Unit.CELL, Metric.REPORTS, everything), repeat
    )
    page = page_timed(lambda: pages.choropleth_html(session, everything, options, limits), repeat)
    rows += page_rows("choropleth", choro_sql, page, f"{len(values):,} cells")

    weights.clear_cache()
    cold = service.hotspots(session, recent)
    gi_s, result = timed(lambda: service.hotspots(session, recent), repeat)
    hot_page, hot_service, hot_html = page_timed(
        lambda: pages.hotspots_html(session, recent, limits), repeat
    )
    t = result.timings
    hot = sum(1 for cell in result.cells if cell.hotspot_class.value.startswith("hot"))
    rows += [
        ("hotspots: SQL aggregation (both periods)", f"{t.aggregation_s:.2f} s"),
        ("hotspots: weights, cold (built from the grid)", f"{cold.timings.weights_s:.2f} s"),
        ("hotspots: weights, cached", f"{t.weights_s:.3f} s"),
        ("hotspots: Gi* (both periods, classes, trends)", f"{t.gi_star_s:.2f} s"),
        ("hotspots: service total, cached weights", f"{gi_s:.2f} s"),
        (
            "hotspots: rendering and the rest (page − service calls)",
            f"{hot_page - hot_service:.2f} s",
        ),
        ("**hotspots page, cached weights** (target < 5 s)", f"**{hot_page:.2f} s**"),
        ("hotspots page: HTML size", f"{len(hot_html.encode()) / 1e6:.2f} MB"),
        ("hotspots: cells / hot cells", f"{len(result.cells):,} / {hot:,}"),
    ]
    return rows


def page_rows(
    name: str, sql_s: float, page: tuple[float, float, str], what: str
) -> list[tuple[str, str]]:
    page_s, service_s, html = page
    return [
        (f"{name}: main SQL aggregation alone ({what})", f"{sql_s:.2f} s"),
        (f"{name}: all maps.service calls of the page", f"{service_s:.2f} s"),
        (f"{name}: rendering and the rest (page − service calls)", f"{page_s - service_s:.2f} s"),
        (f"**{name} page** (target < 2 s)", f"**{page_s:.2f} s**"),
        (f"{name} page: HTML size", f"{len(html.encode()) / 1e6:.2f} MB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = maps_bench_url()
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    with Session(engine) as session:
        ensure_reports(session, args.reports)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE event_case"))
    started = time.perf_counter()
    gi_star.warm_up()
    print(f"warm-up (esda import, Gi* on a 3×3 grid): {time.perf_counter() - started:.2f} s")
    with Session(engine) as session:
        cells = session.scalar(text("SELECT count(*) FROM grid_cell"))
        reports = session.scalar(text("SELECT count(*) FROM report"))
        print(f"\n{cells:,} cells, {reports:,} reports; median of {args.repeat} runs\n")
        print("| step | figure |\n| --- | ---: |")
        for label, figure in bench_pages(session, args.repeat):
            print(f"| {label} | {figure} |")
    engine.dispose()


if __name__ == "__main__":
    main()
