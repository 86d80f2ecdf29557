"""Component matching at intake: the milliseconds it adds with 1,000,000 components loaded.

    .venv/bin/python bench/components_match.py [--cells 20000] [--components 1000000]
                                               [--reports 3000]

Own database `citygrid_bench_components_match`, made afresh each run (or BENCH_DATABASE_URL,
which should be empty), a square city of
`--cells` 100 m cells (20,000: 200 km², five times Dongcheng, so a million components is
~50 per hectare). Intake runs in-process through the production path
(`events.intake.service.run_intake` on `citygrid.db.AsyncStatements`: autocommit, prepared,
generic plans), one report at a time,
each timed around its statement:

1. *empty inventory*: street-lamp (component 0118) reports with no component loaded;
2. the inventory is generated set-based in SQL (one INSERT … SELECT over generate_series: random
   points, ten component categories, identifiers with the category codes) and analysed;
3. *with inventory*, interleaved in one loop: a street-lamp report (matched against the
   inventory), an event report (no match runs: the control, same tables at the same moment),
   and the match statement alone (`components.matching.nearest_component`).

Added milliseconds = lamp report − event report at the same percentile, and the match alone.
The plan of the match statement is printed (the GiST index must answer the box).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from typing import Any

from harness import bench_city, ensure_grid
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from citygrid.accounts.passwords import hash_password
from citygrid.accounts.roles import Principal, Role
from citygrid.db import AsyncStatements
from citygrid.settings import get_settings
from components import matching
from events.categories.service import load_taxonomy
from events.intake.schemas import ReportCreate
from events.intake.service import Point, run_intake
from events.taxonomy import read_taxonomy
from grid.geometry import WGS84

DATABASE = "citygrid_bench_components_match"
LAMP = "0118"
EVENT = "0102"
CATEGORIES = ("0101", "0102", "0103", "0105", "0107", "0111", "0118", "0209", "0305", "0402")

GENERATE_COMPONENTS = text("""
WITH categories AS (
    SELECT row_number() OVER (ORDER BY code) - 1 AS slot, id, code FROM category
    WHERE kind = 'component' AND level = 'minor' AND code = ANY(:codes)
),
slots AS (SELECT count(*) AS n FROM categories)
INSERT INTO component (code, category_id, geom, status, maintainer_department_id)
SELECT '110199' || c.code || lpad((g.i / slots.n + 1)::text, 6, '0'), c.id,
    ST_SetSRID(ST_MakePoint(:west + random() * (:east - :west),
                            :south + random() * (:north - :south)), 4326),
    CASE WHEN g.i % 50 = 0 THEN 'removed' ELSE 'in_use' END, NULL
FROM generate_series(0, :count - 1) AS g(i), slots
JOIN categories c ON true
WHERE c.slot = g.i % slots.n
""")


def database_url(*, fresh: bool) -> str:
    """The bench database, made afresh (dropped first if an earlier run left one) when asked."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    server = get_settings().resolved_database_url()
    url = make_url(server).set(database=DATABASE).render_as_string(hide_password=False)
    if not fresh:
        return url
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return url


def prepare(url: str) -> int:
    """The taxonomy and a reporter; the reporter's id."""
    engine = create_engine(url)
    with Session(engine) as session:
        load_taxonomy(session, read_taxonomy())
        user_id = session.scalar(text("SELECT id FROM app_user WHERE username = 'bench-inspector'"))
        if user_id is None:
            user_id = session.scalar(
                text(
                    "INSERT INTO app_user (username, display_name, password_hash, role) "
                    "VALUES ('bench-inspector', 'bench', :hash, 'inspector') RETURNING id"
                ),
                {"hash": hash_password("bench-password")},
            )
        session.commit()
    engine.dispose()
    return int(user_id)


def generate_components(url: str, count: int, bounds: tuple[float, ...]) -> dict[str, float]:
    """`count` random components over the city, in one statement, then analysed."""
    west, south, east, north = bounds
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        params = {"codes": list(CATEGORIES), "count": count, "west": west, "east": east,
                  "south": south, "north": north}  # fmt: skip
        session.execute(GENERATE_COMPONENTS, params)
        session.commit()
    inserted = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE component"))
    engine.dispose()
    seconds = inserted - started
    return {
        "components": count,
        "insert_s": round(seconds, 1),
        "rows_per_s": round(count / seconds),
    }


# The match statement's own time inside PostgreSQL (no client, no round trip): a PL/pgSQL loop
# runs it at random points, prepared with a generic plan as the pool runs it, and times each.
# Interleaved with it, the same timing around an empty statement and around a pure-CPU one that
# takes about as long as the match (counting 1,000 rows): on a busy machine a statement that
# runs longer is more often descheduled, and the control's tail shows how much of the match's
# tail is the scheduler's (a backend waiting for a core) rather than the query's.
TIME_MATCH_IN_DATABASE = """
CREATE TEMP TABLE IF NOT EXISTS match_timing (what text, ms float8);
TRUNCATE match_timing;
DO $$
DECLARE started timestamptz; lon float8; lat float8;
BEGIN
    SET LOCAL plan_cache_mode = force_generic_plan;
    FOR i IN 1..%(runs)s LOOP
        lon := %(west)s + random() * (%(east)s - %(west)s);
        lat := %(south)s + random() * (%(north)s - %(south)s);
        started := clock_timestamp();
        PERFORM * FROM (%(query)s) found;
        INSERT INTO match_timing
        VALUES ('match', extract(epoch FROM clock_timestamp() - started) * 1000);
        started := clock_timestamp();
        PERFORM lon + lat;
        INSERT INTO match_timing
        VALUES ('empty', extract(epoch FROM clock_timestamp() - started) * 1000);
        started := clock_timestamp();
        PERFORM count(*) FROM generate_series(1, 1000);
        INSERT INTO match_timing
        VALUES ('cpu_control', extract(epoch FROM clock_timestamp() - started) * 1000);
    END LOOP;
END $$;
"""
TIMINGS = """SELECT what, count(*) AS n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50_ms,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99_ms,
    percentile_cont(0.999) WITHIN GROUP (ORDER BY ms) AS p999_ms
FROM match_timing GROUP BY what ORDER BY what DESC"""


def match_in_database(
    url: str, runs: int, category_id: int, bounds: tuple[float, ...]
) -> dict[str, dict[str, float]]:
    """Percentiles of the match statement's time inside PostgreSQL, and of an empty one."""
    west, south, east, north = bounds
    query = matching.nearest_component_query(
        point="ST_SetSRID(ST_MakePoint(lon, lat), 4326)",
        category_id=str(category_id),
        radius_m="15.0",
    )
    values = {"runs": runs, "west": west, "east": east, "south": south, "north": north,
              "query": query}  # fmt: skip
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(TIME_MATCH_IN_DATABASE % values)
        rows = connection.exec_driver_sql(TIMINGS).all()
    engine.dispose()
    return {
        row.what: {
            key: round(float(value), 3) for key, value in row._asdict().items() if key != "what"
        }
        for row in rows
    }


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {"n": len(ordered), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99)}


class Bench:
    """Timed intakes and matches against one database, one statement at a time."""

    def __init__(self, url: str, user_id: int, bounds: tuple[float, ...]) -> None:
        self.statements = AsyncStatements(url, max_size=1)
        self.principal = Principal(user_id, "bench", Role.INSPECTOR, None)
        self.settings = get_settings()
        self.bounds = bounds
        self.matched = 0

    def point(self) -> tuple[float, float]:
        west, south, east, north = self.bounds
        return random.uniform(west, east), random.uniform(south, north)

    async def intake_ms(self, code: str, kind: str) -> float:
        lon, lat = self.point()
        report = ReportCreate(report_uuid=uuid.uuid4(), category_code=code, kind=kind, lon=lon,
                              lat=lat, description="bench: lamp out")  # fmt: skip
        started = time.perf_counter()
        answer = await run_intake(
            self.statements, report, Point(lon, lat, WGS84), wgs84=(lon, lat),
            reporter=self.principal, stored=[], settings=self.settings,
        )  # fmt: skip
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.filed is not None, "the bench report was not filed"
        self.matched += answer.component is not None
        return elapsed

    async def match_ms(self, category_id: int) -> float:
        lon, lat = self.point()
        started = time.perf_counter()
        await matching.nearest_component(
            self.statements.execute, category_id=category_id, lon=lon, lat=lat, radius_m=15.0
        )
        return (time.perf_counter() - started) * 1000

    async def explain(self, category_id: int) -> str:
        lon, lat = self.point()
        params = matching.match_params(category_id, lon, lat, 15.0)
        rows = await self.statements.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + matching.NEAREST_COMPONENT, params
        )
        return "\n".join(row[0] for row in rows)


async def lamp_category_id(bench: Bench) -> int:
    rows = await bench.statements.execute(
        "SELECT id FROM category WHERE kind = 'component' AND code = %(code)s", {"code": LAMP}
    )
    return int(rows[0][0])


async def measure(args: argparse.Namespace, url: str, user_id: int) -> dict[str, Any]:
    bounds = tuple(bench_city(args.cells).bounds)
    bench = Bench(url, user_id, bounds)
    results: dict[str, Any] = {"cells": args.cells}
    if not args.reuse:
        for _ in range(50):  # warm-up: pool, prepared statements
            await bench.intake_ms(LAMP, "component")
        empty = [await bench.intake_ms(LAMP, "component") for _ in range(args.reports)]
        results["lamp_report_empty_inventory"] = percentiles(empty)
        results["inventory"] = generate_components(url, args.components, bounds)
    lamp_id = await lamp_category_id(bench)
    for _ in range(50):
        await bench.intake_ms(LAMP, "component")
        await bench.match_ms(lamp_id)
    bench.matched = 0
    lamp, event, match = [], [], []
    for _ in range(args.reports):
        lamp.append(await bench.intake_ms(LAMP, "component"))
        event.append(await bench.intake_ms(EVENT, "event"))
        match.append(await bench.match_ms(lamp_id))
    results["lamp_report_with_inventory"] = percentiles(lamp)
    results["lamp_reports_matched"] = bench.matched
    results["event_report_control"] = percentiles(event)
    results["match_statement_alone"] = percentiles(match)
    results["added_p50_ms"] = round(
        results["lamp_report_with_inventory"]["p50_ms"] - results["event_report_control"]["p50_ms"],
        3,
    )
    results["added_p99_ms"] = round(
        results["lamp_report_with_inventory"]["p99_ms"] - results["event_report_control"]["p99_ms"],
        3,
    )
    if not args.reuse:
        results["ratio_p50_with_vs_empty"] = round(
            results["lamp_report_with_inventory"]["p50_ms"]
            / results["lamp_report_empty_inventory"]["p50_ms"],
            3,
        )
    results["match_inside_postgresql"] = match_in_database(url, args.reports * 3, lamp_id, bounds)
    results["plan"] = await bench.explain(lamp_id)
    await bench.statements.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--components", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=2_000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on the inventory an earlier run left (no empty-inventory phase)",
    )
    args = parser.parse_args()
    url = database_url(fresh=not args.reuse)
    if not args.reuse:
        ensure_grid(url, args.cells)
    user_id = prepare(url)
    results = asyncio.run(measure(args, url, user_id))
    plan = results.pop("plan")
    print(json.dumps(results, indent=2))
    print(plan)


if __name__ == "__main__":
    main()
