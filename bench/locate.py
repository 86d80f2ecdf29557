"""Geolocation benchmark on a generated 100,000-cell grid.

    .venv/bin/python bench/locate.py [--cells 100000] [--points 1000000] [--seconds 20]

1. Bulk: 1,000,000 points located and written to a table, by citygrid's bulk path (in-process
   STRtree of prepared cells; points read from and results COPYed to PostGIS) next to the naive
   `INSERT … SELECT … JOIN … ON ST_Contains` with GiST indexes, on the same tables in the same run.
2. HTTP bulk: POST /api/grid/locate with 10,000 points per request.
3. HTTP single point: GET /api/grid/locate under `wrk` (random points, concurrent connections).

It uses a database `citygrid_bench` on the embedded cluster (or BENCH_DATABASE_URL) and keeps the
generated grid there, so a second run skips the generation.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
import numpy as np
from harness import (
    bench_city,
    bench_url,
    ensure_grid,
    have_wrk,
    parse_wrk,
    run_wrk,
    start_server,
    stop_server,
    token,
)
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from grid.index import CellIndex


def random_points(count: int, seed: int = 7) -> np.ndarray:
    min_x, min_y, max_x, max_y = bench_city_bounds()
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(min_x, max_x, count), rng.uniform(min_y, max_y, count)])


_bounds: tuple[float, float, float, float] | None = None


def bench_city_bounds() -> tuple[float, float, float, float]:
    assert _bounds is not None
    return _bounds


def load_points(session: Session, points: np.ndarray) -> None:
    session.execute(
        text("DROP TABLE IF EXISTS bench_point, bench_located_naive, bench_located_ours")
    )
    session.execute(
        text("CREATE TABLE bench_point (id bigint PRIMARY KEY, geom geometry(Point, 4326))")
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy("COPY bench_point (id, geom) FROM STDIN") as copy:
        for point_id, (lon, lat) in enumerate(points.tolist()):
            copy.write_row((point_id, f"SRID=4326;POINT({lon} {lat})"))
    session.execute(text("CREATE INDEX ON bench_point USING gist (geom)"))
    session.execute(text("CREATE TABLE bench_located_naive (point_id bigint, cell_id int)"))
    session.execute(text("CREATE TABLE bench_located_ours (point_id bigint, cell_code text)"))
    session.commit()
    session.execute(text("ANALYZE bench_point"))


def naive_join(session: Session) -> float:
    started = time.perf_counter()
    session.execute(
        text(
            "INSERT INTO bench_located_naive SELECT p.id, c.id FROM bench_point p "
            "JOIN grid_cell c ON ST_Contains(c.geom, p.geom)"
        )
    )
    session.commit()
    return time.perf_counter() - started


def citygrid_bulk(session: Session) -> tuple[float, float]:
    """(seconds with a cold index, seconds of the index build alone)."""
    started = time.perf_counter()
    index = CellIndex.load(session)
    built = time.perf_counter()
    ids, coords = read_points(session)
    rows = index.locate(coords)
    codes = np.array([unit.cell_code for unit in index.units], dtype=object)
    found = rows >= 0
    lines = "\n".join(
        f"{point_id}\t{code}"
        for point_id, code in zip(ids[found].tolist(), codes[rows[found]].tolist(), strict=True)
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy("COPY bench_located_ours FROM STDIN") as copy:
        copy.write(lines + "\n")
    session.commit()
    return time.perf_counter() - started, built - started


def read_points(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """Point ids and lon/lat through COPY: a million rows as text, parsed by numpy."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    chunks = []
    sql = "COPY (SELECT id, ST_X(geom), ST_Y(geom) FROM bench_point) TO STDOUT"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        chunks = [bytes(chunk) for chunk in copy]
    table = np.array(b"".join(chunks).split(), dtype=float).reshape(-1, 3)
    return table[:, 0].astype(np.int64), table[:, 1:]


def agreement(session: Session) -> tuple[int, int, int]:
    """(points both placed, points placed differently, points one of them missed)."""
    row = session.execute(
        text("""
        WITH naive AS (SELECT n.point_id, min(c.code) AS code FROM bench_located_naive n
                       JOIN grid_cell c ON c.id = n.cell_id GROUP BY n.point_id)
        SELECT count(*) FILTER (WHERE naive.code = ours.cell_code),
               count(*) FILTER (WHERE naive.code <> ours.cell_code),
               count(*) FILTER (WHERE naive.code IS NULL OR ours.cell_code IS NULL)
        FROM naive FULL JOIN bench_located_ours ours USING (point_id)
    """)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def http_bulk(port: int, points: np.ndarray, requests: int) -> float:
    """Points per second located through POST /api/grid/locate, 10,000 (at most) a request."""
    size = min(10_000, len(points))
    headers = {"Authorization": f"Bearer {token()}"}
    chunks = [points[i * size : (i + 1) * size].tolist() for i in range(requests)]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as client:
        client.post("/api/grid/locate", json={"points": chunks[0][:10]})  # build the index
        started = time.perf_counter()
        for chunk in chunks:
            response = client.post("/api/grid/locate", json={"points": chunk})
            response.raise_for_status()
        return requests * size / (time.perf_counter() - started)


WRK_SCRIPT = """
local min_x, min_y, max_x, max_y = %f, %f, %f, %f
math.randomseed(os.time())
request = function()
  local lon = min_x + math.random() * (max_x - min_x)
  local lat = min_y + math.random() * (max_y - min_y)
  return wrk.format("GET", string.format("/api/grid/locate?lon=%%.6f&lat=%%.6f", lon, lat))
end
"""


def wrk_single(port: int, seconds: int, connections: int) -> dict[str, float]:
    script = WRK_SCRIPT % bench_city_bounds()
    return parse_wrk(run_wrk(port, script, seconds, connections, token()))


def main() -> None:
    global _bounds
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", default="4,8,32", help="wrk concurrency levels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    _bounds = bench_city(args.cells).bounds
    url = bench_url()
    ensure_grid(url, args.cells)
    points = random_points(args.points)
    engine = create_engine(url)
    results: dict[str, object] = {"cells": args.cells, "points": args.points}
    with Session(engine) as session:
        load_points(session, points)
        naive_s = naive_join(session)
        ours_s, build_s = citygrid_bulk(session)
        same, different, missed = agreement(session)
    engine.dispose()
    results.update(
        naive_points_per_s=round(args.points / naive_s),
        ours_points_per_s=round(args.points / ours_s),
        ratio=round(naive_s / ours_s, 2),
        ratio_warm_index=round(naive_s / (ours_s - build_s), 2),
        index_build_s=round(build_s, 2),
        naive_s=round(naive_s, 2),
        ours_s=round(ours_s, 2),
        agree=same,
        disagree=different,
        missed_by_one=missed,
    )
    print(json.dumps(results), flush=True)
    server = start_server(url, args.workers, args.port)
    try:
        results["http_bulk_points_per_s"] = round(
            http_bulk(args.port, points, max(1, min(10, len(points) // 10_000)))
        )
        if have_wrk():
            wrk_single(args.port, 3, 8)  # warm-up: pools filled, statements prepared
            results["http_single"] = {
                f"c{connections}": wrk_single(args.port, args.seconds, int(connections))
                for connections in args.connections.split(",")
            }
    finally:
        stop_server(server)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
