"""Component import benchmark: 1,000,000 components on the 100,000-cell bench grid.

    .venv/bin/python bench/components_import.py [--cells 100000] [--rows 1000000] [--update]

It uses its own database `citygrid_bench_components` on the embedded cluster (or
BENCH_DATABASE_URL), keeping the grid and the generated files between runs. The components are
points spread uniformly over the city, of the taxonomy's component categories (16-digit codes),
each with owner, supervisor and maintainer among 200 bench departments, a status, a name, an
address and one extra attribute. The same rows are written as a GeoPackage and as a CSV; each
is imported through `read_components` + `import_components` (the CLI's and the API's path) in a
transaction that is rolled back, so every run starts from an empty inventory. The CSV differs
from the GeoPackage in every tenth status: with --update the GeoPackage import is committed and
the CSV imported on top in update mode (a tenth of the components change), then the inventory
is emptied again. Files are kept in $TMPDIR/citygrid-bench-components. --per-row-checks imports
the GeoPackage once more the way small imports go (a foreign-key check per row instead of once
for the whole import), for the ratio between the two in one run.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from harness import bench_city, bench_url, ensure_grid
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from components.import_files import ComponentTable, read_components
from components.imports import import_components
from events import taxonomy
from events.categories import service as categories

DATABASE = "citygrid_bench_components"
DEPARTMENTS = 200
FILES = Path(tempfile.gettempdir()) / "citygrid-bench-components"


def components_bench_url() -> str:
    """BENCH_DATABASE_URL, or the `citygrid_bench_components` database (created when missing)."""
    return bench_url(DATABASE)


def ensure_reference_data(engine: Engine) -> list[str]:
    """The taxonomy and the bench departments; the 4-digit component category codes."""
    with Session(engine) as session:
        if not session.scalar(text("SELECT count(*) FROM category")):
            categories.load_taxonomy(session, taxonomy.read_taxonomy())
        session.execute(
            text(
                "INSERT INTO department (code, name, kind) SELECT 'BENCH-' || g, 'bench ' || g, "
                "'facilities' FROM generate_series(1, :n) g ON CONFLICT (code) DO NOTHING"
            ),
            {"n": DEPARTMENTS},
        )
        session.commit()
        return list(
            session.scalars(
                text(
                    "SELECT code FROM category WHERE kind = 'component' AND level = 'minor' "
                    "AND length(code) = 4 AND retired_at IS NULL ORDER BY code"
                )
            )
        )


def generated_columns(rows: int, category_codes: list[str], *, cells: int) -> dict[str, np.ndarray]:
    """Columns of `rows` plausible components at uniform random points of the bench city."""
    rng = np.random.default_rng(8)
    west, south, east, north = shapely.bounds(bench_city(cells)).tolist()
    margin = 1e-5  # keep clear of the city's outer edge
    # Rounded as a CSV writes them, so that both files hold the very same points.
    lons = np.round(rng.uniform(west + margin, east - margin, rows), 7)
    lats = np.round(rng.uniform(south + margin, north - margin, rows), 7)
    # Categories in turn, so that each category's sequence (6 digits) stays short.
    position = np.arange(rows)
    category = np.array(category_codes)[position % len(category_codes)]
    sequence = position // len(category_codes) + 1
    codes = np.char.add(np.char.add("110199", category), np.char.zfill(sequence.astype(str), 6))
    departments = np.char.add("BENCH-", rng.integers(1, DEPARTMENTS + 1, (3, rows)).astype(str))
    statuses = np.array(["in_use", "damaged", "removed"])[rng.choice(3, rows, p=[0.9, 0.08, 0.02])]
    return {
        "code": codes,
        "category": category,
        "status": statuses,
        "name": np.char.add("部件 ", position.astype(str)),
        "address": np.char.add("基准路 ", (position % 997).astype(str)),
        "owner": departments[0],
        "supervisor": departments[1],
        "maintainer": departments[2],
        "material": np.array(["cast iron", "composite", "concrete"])[position % 3],
        "lon": lons,
        "lat": lats,
    }


def write_files(columns: dict[str, np.ndarray], *, cells: int, rows: int) -> tuple[Path, Path]:
    """The rows as a GeoPackage and a CSV (kept between runs, one pair per city size)."""
    FILES.mkdir(exist_ok=True)
    stem = f"components-{rows}" if cells == 100_000 else f"components-{cells}-cells-{rows}"
    gpkg, csv_path = FILES / f"{stem}.gpkg", FILES / f"{stem}.csv"
    if gpkg.exists() and csv_path.exists():
        return gpkg, csv_path
    text_names = [name for name in columns if name not in ("lon", "lat")]
    points = shapely.points(np.column_stack([columns["lon"], columns["lat"]]))
    pyogrio.raw.write(
        gpkg,
        geometry=shapely.to_wkb(points),
        field_data=[columns[name].astype(object) for name in text_names],
        fields=text_names,
        geometry_type="Point",
        crs="EPSG:4326",
        driver="GPKG",
    )
    # The CSV differs in every tenth status, so that an update-mode import changes something.
    csv_columns = {**columns, "status": columns["status"].copy()}
    tenth = csv_columns["status"][::10]
    csv_columns["status"][::10] = np.where(tenth == "in_use", "damaged", "in_use")
    with csv_path.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow([*text_names, "lon", "lat"])
        writer.writerows(
            zip(
                *(csv_columns[name].tolist() for name in text_names),
                columns["lon"].tolist(),
                columns["lat"].tolist(),
                strict=True,
            )
        )
    return gpkg, csv_path


def timed_import(
    engine: Engine,
    path: Path,
    *,
    update: bool = False,
    keep: bool = False,
    per_row_checks: bool = False,
) -> None:
    """Read and import one file; print the time of each phase and rows/s."""
    started = time.perf_counter()
    table: ComponentTable = read_components(path, crs=None)
    read_at = time.perf_counter()
    steps: list[tuple[str, float]] = []

    def progress(step: str, done: int, total: int) -> None:
        if not steps or steps[-1][0] != step:
            steps.append((step, time.perf_counter()))

    with Session(engine) as session:
        # per_row_checks: the small-import path (a foreign-key trigger per row), for comparison.
        bulk_rows_min = len(table) + 1 if per_row_checks else None
        result = import_components(
            session, table, update=update, progress=progress, bulk_rows_min=bulk_rows_min
        )
        written_at = time.perf_counter()
        if keep:
            session.commit()
        else:
            session.rollback()
    total = written_at - started
    phases = [("reading the file", started), *steps, ("end", written_at)]
    mode = " (update mode)" if update else ""
    mode += " with per-row foreign-key checks (the small-import path)" if per_row_checks else ""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{path.name}{mode}: {len(table):,} rows; load average now {load}")
    for (name, at), (_, next_at) in itertools.pairwise(phases):
        print(f"  {name:<48} {next_at - at:6.2f} s")
    print(f"  read {read_at - started:.1f} s, import {written_at - read_at:.1f} s")
    print(
        f"  total {total:.1f} s = {len(table) / total:,.0f} rows/s "
        f"(created {result.created:,}, updated {result.updated:,}, unchanged {result.unchanged:,})"
    )


def empty_inventory(engine: Engine) -> None:
    """No components (TRUNCATE would cascade into the append-only case history)."""
    with engine.begin() as connection:
        for table in ("component_change", "component", "component_import"):
            connection.execute(text(f"DELETE FROM {table}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--update", action="store_true", help="also time an update-mode import")
    parser.add_argument(
        "--per-row-checks",
        action="store_true",
        help="also import the GeoPackage as small imports are (a foreign-key check per row)",
    )
    args = parser.parse_args()
    url = components_bench_url()
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    empty_inventory(engine)
    category_codes = ensure_reference_data(engine)
    started = time.perf_counter()
    columns = generated_columns(args.rows, category_codes, cells=args.cells)
    gpkg, csv_path = write_files(columns, cells=args.cells, rows=args.rows)
    print(f"files: {gpkg.name}, {csv_path.name} ready in {time.perf_counter() - started:.1f} s")
    timed_import(engine, gpkg, keep=args.update)
    if args.update:
        timed_import(engine, csv_path, update=True)
        empty_inventory(engine)
    else:
        timed_import(engine, csv_path)
    if args.per_row_checks:
        timed_import(engine, gpkg, per_row_checks=True)
    engine.dispose()


if __name__ == "__main__":
    main()
