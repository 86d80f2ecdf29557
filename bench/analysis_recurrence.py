"""Recurrence linking benchmark: `citygrid recurrence link` over 1,000,000 cases.

    .venv/bin/python bench/analysis_recurrence.py [--cells 10000] [--cases 1000000] [--check 200]

In its own database `citygrid_bench_recurrence` (a grid of about `--cells` cells of 100 m, so
the default city is 10 km × 10 km) it replaces the cases with generated ones, set-based
(generate_series): `--cases` cases reported over the two years before 2026-11-26 at 200,000
places (a place: a point, its cell and its usual category), each case within about 30 m of its
place; 70 % of the usual category, the rest of one of 30 categories; 80 % closed 1–15 days after
the report, 10 % still being handled, 5 % not filed, 5 % cancelled. Then VACUUM ANALYZE, and:

- link: `events.recurrence.service.link_history` with the default definition (50 m, 90 days),
  every case at once, committed; the target is under 60 s for 1,000,000 cases;
- again: the same call a second time (idempotent: it links nothing; the NOT EXISTS probe cost);
- check: for `--check` random cases, the preferred earlier case found by a plain scan without
  any index (the definition written out in SQL once more) must be the linked one;
- one case: for `--check` random cases, the query of the link at intake (one case through the
  GiST index): its latency, and it must find the case the batch linked.

Figures are printed as JSON (seconds, links, linked share of cases, µs per case).
"""

from __future__ import annotations

import argparse
import json
import time

from harness import bench_url, ensure_grid
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from events.recurrence import rules
from events.recurrence import service as recurrence_service

PLACES = 200_000
CATEGORIES = 30

PLACES_SQL = """
CREATE UNLOGGED TABLE bench_rec_place AS
WITH bounds AS (SELECT ST_Extent(geom) AS box FROM grid_cell),
     cells AS (SELECT array_agg(id ORDER BY id) AS ids FROM grid_cell),
     categories AS (SELECT array_agg(id ORDER BY id) AS ids
                    FROM (SELECT id FROM category WHERE level = 'minor' ORDER BY id
                          LIMIT :categories) c)
SELECT i AS place_no,
       ST_XMin(box) + random() * (ST_XMax(box) - ST_XMin(box)) AS lon,
       ST_YMin(box) + random() * (ST_YMax(box) - ST_YMin(box)) AS lat,
       cells.ids[1 + floor(random() * cardinality(cells.ids))::int] AS cell_id,
       categories.ids[1 + floor(random() * cardinality(categories.ids))::int] AS category_id,
       categories.ids AS category_ids
FROM generate_series(1, :places) i, bounds, cells, categories
"""

CASES_SQL = """
INSERT INTO event_case (id, number, status, category_id, description, geom, cell_id,
                        created_at, updated_at, closed_at)
SELECT i, 'RC' || lpad(i::text, 10, '0'), s.status,
       CASE WHEN random() < 0.7 THEN p.category_id
            ELSE p.category_ids[1 + floor(random() * cardinality(p.category_ids))::int] END,
       'bench case',
       ST_SetSRID(ST_MakePoint(p.lon + (random() - 0.5) * 0.0007,
                               p.lat + (random() - 0.5) * 0.0005), 4326),
       p.cell_id, x.created_at, x.created_at,
       CASE WHEN s.status = 'closed'
            THEN x.created_at + (1 + random() * 14) * interval '1 day' END
FROM generate_series(1, :cases) i
CROSS JOIN LATERAL (SELECT 1 + floor(random() * :places)::int AS place_no,
                           random() AS r_status,
                           CAST(:start AS timestamptz) + random() * interval '730 days'
                               AS created_at,
                           i AS seed) x  -- i: evaluated per row, not once
JOIN bench_rec_place p ON p.place_no = x.place_no
CROSS JOIN LATERAL (SELECT CASE WHEN x.r_status < 0.80 THEN 'closed'
                                WHEN x.r_status < 0.90 THEN 'accepted'
                                WHEN x.r_status < 0.95 THEN 'not_filed'
                                ELSE 'cancelled' END AS status) s
"""

# The definition once more, by brute force: no index can answer `+ 0` and a function of geom.
CHECK_SQL = f"""
WITH sample AS (
    SELECT id FROM event_case WHERE {recurrence_service.COUNTS_AS_NEW.replace("n.", "")}
    ORDER BY random() LIMIT :sample
)
SELECT n.id,
       (SELECT r.previous_case_id FROM case_recurrence r WHERE r.case_id = n.id) AS linked,
       (SELECT p.id FROM event_case p
        WHERE p.category_id + 0 = n.category_id AND p.status = 'closed'
          AND p.closed_at + interval '0 s' < n.created_at
          AND n.created_at <= p.closed_at + make_interval(days => :period_days)
          AND p.id <> n.id
          AND (ST_Distance(p.geom::geography, n.geom::geography) <= :distance_m
               OR p.component_id = n.component_id)
        ORDER BY coalesce(p.component_id = n.component_id, false) DESC,
                 ST_Distance(p.geom::geography, n.geom::geography), p.closed_at DESC, p.id DESC
        LIMIT 1) AS expected
FROM sample s JOIN event_case n ON n.id = s.id
"""


def reset(session: Session) -> None:
    session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
    session.execute(
        text("TRUNCATE case_recurrence, event_case, report, case_transition, case_photo CASCADE")
    )
    session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    session.execute(text("DROP TABLE IF EXISTS bench_rec_place"))


def generate(session: Session, cases: int, places: int) -> dict[str, float]:
    reset(session)
    params: dict[str, object] = {"cases": cases, "places": places, "categories": CATEGORIES}
    params["start"] = "2024-11-26T00:00:00+08:00"
    seconds: dict[str, float] = {}
    for name, sql in (("places", PLACES_SQL), ("event_case", CASES_SQL)):
        started = time.perf_counter()
        session.execute(text(sql), params)
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {seconds[name]} s", flush=True)
    session.execute(text("SELECT setval('event_case_id_seq', (SELECT max(id) FROM event_case))"))
    session.execute(text("DROP TABLE bench_rec_place"))
    session.commit()
    return seconds


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("event_case", "case_recurrence"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))


def timed_link(session: Session) -> tuple[float, int]:
    started = time.perf_counter()
    counts = recurrence_service.link_history(session, rules.Definition())
    session.commit()
    return time.perf_counter() - started, counts.linked


def check(session: Session, sample: int) -> dict[str, int]:
    definition = rules.Definition()
    params = {
        "sample": sample,
        "period_days": definition.period_days,
        "distance_m": definition.distance_m,
    }
    rows = session.execute(text(CHECK_SQL), params).all()
    wrong = [row for row in rows if row.linked != row.expected]
    for row in wrong[:5]:
        print(f"  case {row.id}: linked {row.linked}, expected {row.expected}", flush=True)
    linked = sum(1 for row in rows if row.expected is not None)
    return {"checked": len(rows), "with_recurrence": linked, "wrong": len(wrong)}


ONE_CASE_SQL = f"""
SELECT previous.id FROM event_case n
CROSS JOIN LATERAL ({recurrence_service.PREVIOUS_OF_NEW}) previous
WHERE n.id = %(case_id)s::bigint
"""


def one_case(session: Session, sample: int) -> dict[str, float | int]:
    """The link at intake's query (one case, the GiST index) for random cases: its latency, and
    whether it finds what the batch linked."""
    definition = rules.Definition()
    ids = session.scalars(
        text(
            f"SELECT id FROM event_case n WHERE {recurrence_service.COUNTS_AS_NEW} "
            "ORDER BY random() LIMIT :sample"
        ),
        {"sample": sample},
    ).all()
    linked = dict(
        session.execute(
            text("SELECT case_id, previous_case_id FROM case_recurrence WHERE case_id = ANY(:ids)"),
            {"ids": list(ids)},
        ).all()
    )
    connection = session.connection()
    params = {"distance_m": definition.distance_m, "period_days": definition.period_days}
    seconds, differing = [], 0
    for case_id in ids:
        started = time.perf_counter()
        found = connection.exec_driver_sql(ONE_CASE_SQL, {**params, "case_id": case_id}).scalar()
        seconds.append(time.perf_counter() - started)
        differing += found != linked.get(case_id)
    seconds.sort()
    return {
        "cases": len(ids),
        "median_ms": round(1000 * seconds[len(seconds) // 2], 2) if seconds else 0.0,
        "p95_ms": round(1000 * seconds[int(len(seconds) * 0.95)], 2) if seconds else 0.0,
        "differing_from_batch": differing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--places", type=int, default=None, help="default: cases / 5")
    parser.add_argument("--check", type=int, default=200, help="cases checked by brute force")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the generated cases")
    args = parser.parse_args()
    url = bench_url("citygrid_bench_recurrence")
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    places = args.places or max(args.cases // 5, 1)
    results: dict[str, object] = {"cases": args.cases, "places": places}
    with Session(engine) as session:
        if not args.skip_generate:
            print("generating:", flush=True)
            results["generate_s"] = generate(session, args.cases, places)
        session.execute(text("TRUNCATE case_recurrence"))
        session.commit()
        vacuum_analyze(engine)
        seconds, linked = timed_link(session)
        results |= {
            "link_s": round(seconds, 2),
            "links": linked,
            "linked_share": round(linked / max(args.cases, 1), 4),
            "us_per_case": round(seconds / max(args.cases, 1) * 1e6, 1),
            "target_s": 60.0 * args.cases / 1_000_000,
        }
        print(f"link: {results['link_s']} s, {linked} links", flush=True)
        seconds, again = timed_link(session)
        results |= {"again_s": round(seconds, 2), "again_links": again}
        print(f"again: {results['again_s']} s, {again} links", flush=True)
        results["check"] = check(session, args.check)
        print(f"check: {results['check']}", flush=True)
        single = one_case(session, args.check)
        # The same work as one index probe per case (as at intake), projected from the median.
        single["all_cases_one_by_one_s"] = round(single["median_ms"] * args.cases / 1000, 1)
        results["one_case"] = single
        print(f"one case at a time (intake): {single}", flush=True)
    engine.dispose()
    print(json.dumps(results), flush=True)
    failed, single = results["check"], results["one_case"]
    if isinstance(failed, dict) and failed["wrong"]:
        raise SystemExit(f"{failed['wrong']} cases linked otherwise than the definition says")
    if isinstance(single, dict) and single["differing_from_batch"]:
        raise SystemExit(f"{single['differing_from_batch']} cases linked otherwise at intake")


if __name__ == "__main__":
    main()
