"""Routing benchmark: 1,000,000 cases against 10,000 rules on the 100,000-cell bench grid.

    .venv/bin/python bench/dispatch_routing.py [--cases 1000000] [--rules 10000] [--sample 10000]

In one transaction that is rolled back at the end (the bench database keeps only its grid):
1. saves a rule set of about `--rules` rules through `rule_sets.save_rule_set` (a mix of
   district, street, community, cell, cell-set and polygon areas × minor, major and any
   category, some for one urgency) on bench departments;
2. inserts `--cases` cases into event_case (set-based: random cells, categories, urgency);
3. routes all of them: first the lookup alone (the app's `lookup.winner_cte`, the winning rule
   of every case), then `routing.decide_routes`, the app's function (decisions with their
   reasons stored in routing_decision and returned), and reports cases/s for each;
4. checks `--sample` cases against a naive formulation (every rule's predicates, no keys,
   lowest ordinal): the same rule and department for every case.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import bench_url, ensure_grid
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import citygrid.accounts.models  # noqa: F401  (the mapper of app_user, which rule_set refers to)
from dispatch.rules import lookup, routing
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec

DEPARTMENTS = 200
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def add_departments(session: Session) -> list[str]:
    session.execute(
        text(
            "INSERT INTO department (code, name, kind) SELECT 'BENCH-' || g, 'bench ' || g, "
            "'sanitation' FROM generate_series(1, :n) g ON CONFLICT (code) DO NOTHING"
        ),
        {"n": DEPARTMENTS},
    )
    return [f"BENCH-{n}" for n in range(1, DEPARTMENTS + 1)]


def codes(session: Session, sql: str) -> list[Any]:
    return list(session.execute(text(sql)).all())


def polygon_around(lon: float, lat: float, rng: random.Random) -> dict[str, Any]:
    half_w, half_h = rng.uniform(0.001, 0.004), rng.uniform(0.0008, 0.003)
    ring = [
        [lon - half_w, lat - half_h],
        [lon + half_w, lat - half_h],
        [lon + half_w, lat + half_h],
        [lon - half_w, lat + half_h],
        [lon - half_w, lat - half_h],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def rule_mix(session: Session, total: int, departments: list[str]) -> list[dict[str, Any]]:
    """About `total` rules without conflicts: every (area, category, urgency) selector is used
    once, and cell sets / polygons get distinct priorities."""
    rng = random.Random(11)
    minors = codes(session, "SELECT kind, code FROM category WHERE level = 'minor'")
    majors = codes(session, "SELECT kind, code FROM category WHERE level = 'major'")
    district = codes(session, "SELECT code FROM grid_region WHERE level = 'district'")[0].code
    streets = [
        r.code for r in codes(session, "SELECT code FROM grid_region WHERE level = 'street'")
    ]
    communities = [
        r.code for r in codes(session, "SELECT code FROM grid_region WHERE level = 'community'")
    ]
    cells = codes(
        session,
        "SELECT code, ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat "
        "FROM grid_cell ORDER BY id",
    )
    seen: set[tuple[str, str, str, str | None]] = set()
    rules: list[dict[str, Any]] = []

    def add(area: Any, area_id: str, category: tuple[str, str] | None, **extra: Any) -> None:
        urgency = "urgent" if rng.random() < 0.1 else None
        selector = (
            area_id,
            category[1] if category else "*",
            category[0] if category else "",
            urgency,
        )
        if selector in seen:
            return
        seen.add(selector)
        rule: dict[str, Any] = {"area": area, "department": rng.choice(departments), **extra}
        rule["category"], rule["urgency"] = (category[1] if category else "*"), urgency
        if category:
            rule["category_kind"] = category[0]
        rules.append(rule)

    add("citywide", "city", None)
    for category in minors:
        add("citywide", "city", tuple(category))
    for category in majors + minors[:60]:
        add({"district": district}, district, tuple(category))
    for street in streets:
        add({"street": street}, street, None)
        for category in rng.sample(majors, 4) + rng.sample(minors, 14):
            add({"street": street}, street, tuple(category))
    while len(rules) < total * 0.55:
        community = rng.choice(communities)
        category = rng.choice([None, *rng.sample(minors, 1), *rng.sample(majors, 1)])
        add({"community": community}, community, tuple(category) if category else None)
    while len(rules) < total * 0.85:
        cell = rng.choice(cells)
        add({"cell": cell.code}, cell.code, tuple(rng.choice(minors + majors)))
    while len(rules) < total * 0.93:
        start = rng.randrange(len(cells) - 10)
        members = [c.code for c in cells[start : start + rng.randint(2, 9)]]
        add({"cells": members}, ",".join(members), tuple(rng.choice(minors)), priority=len(rules))
    while len(rules) < total:
        cell = rng.choice(cells)
        add(
            {"polygon": polygon_around(cell.lon, cell.lat, rng)},
            f"polygon {len(rules)}",
            tuple(rng.choice(minors + majors)) if rng.random() < 0.7 else None,
            priority=len(rules),
        )
    return rules


INSERT_CASES = text("""
WITH cells AS (SELECT array_agg(id ORDER BY id) AS ids FROM grid_cell),
     categories AS (SELECT array_agg(id ORDER BY id) AS ids FROM category WHERE level = 'minor'),
     drawn AS (  -- volatile select list: evaluated once per row, never flattened into the join
        SELECT g, cells.ids[1 + floor(random() * cardinality(cells.ids))::int] AS cell_id,
            categories.ids[1 + floor(random() * cardinality(categories.ids))::int] AS category_id,
            CASE WHEN random() < 0.1 THEN 'urgent' ELSE 'normal' END AS urgency,
            (random() - 0.5) * 0.0011 AS d_lon, (random() - 0.5) * 0.0008 AS d_lat
        FROM generate_series(1, :n) g CROSS JOIN cells CROSS JOIN categories)
INSERT INTO event_case (number, status, category_id, urgency, description, geom, cell_id,
    created_at)
SELECT 'BENCH-' || d.g, 'filed', d.category_id, d.urgency, 'bench case',
    ST_Translate(ST_Centroid(gc.geom), d.d_lon, d.d_lat), gc.id, :created_at
FROM drawn d JOIN grid_cell gc ON gc.id = d.cell_id
""")

NAIVE = text("""
SELECT c.id AS case_id, best.id AS rule_id, best.department_id
FROM event_case c
JOIN grid_cell gc ON gc.id = c.cell_id
JOIN grid_region cm ON cm.id = gc.community_id
JOIN grid_region st ON st.id = cm.parent_id
JOIN category cat ON cat.id = c.category_id
LEFT JOIN LATERAL (
    SELECT r.id, r.department_id FROM routing_rule r
    WHERE r.rule_set_id = :rule_set_id
      AND (r.category_id IS NULL OR r.category_id IN (cat.id, cat.parent_id))
      AND (r.urgency IS NULL OR r.urgency = c.urgency)
      AND (r.area_kind = 'citywide'
        OR (r.area_kind = 'community' AND r.area_region_id = cm.id)
        OR (r.area_kind = 'street' AND r.area_region_id = st.id)
        OR (r.area_kind = 'district' AND r.area_region_id = st.parent_id)
        OR (r.area_kind IN ('cell', 'cells') AND r.area_cell_ids @> to_jsonb(c.cell_id))
        OR (r.area_kind = 'polygon' AND ST_Covers(r.area_geom, c.geom)))
    ORDER BY r.ordinal LIMIT 1) AS best ON true
WHERE c.id = ANY(CAST(:case_ids AS bigint[]))
""")


# The app's lookup (lookup.winner_cte over the same batch as decide_routes), without storing.
LOOKUP_ONLY = text(f"""
WITH batch AS (
    SELECT {lookup.CASE_FACTS_COLUMNS}, CAST(:rule_set_id AS integer) AS rule_set_id
    FROM unnest(CAST(:case_ids AS bigint[])) AS ids(id)
    JOIN event_case c ON c.id = ids.id
    {lookup.CASE_FACTS_JOINS}
),
{lookup.winner_cte("winner", "batch")}
SELECT count(*) AS cases, count(ordinal) AS routed FROM winner
""")


def timed(label: str, started: float) -> float:
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.2f} s")
    return elapsed


def explain_lookup(session: Session, rule_set_id: int, case_ids: list[int]) -> None:
    """The plan of the lookup alone (no INSERT), with timings."""
    lookup = routing.DECIDE_ROUTES.text.split("decided AS")[0].rstrip().rstrip(",")
    statement = f"EXPLAIN (ANALYZE, BUFFERS OFF) {lookup} SELECT count(*) FROM winner"
    plan = session.execute(text(statement), {"case_ids": case_ids, "rule_set_id": rule_set_id})
    print("\n".join(row[0] for row in plan))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--explain", action="store_true", help="print the lookup's plan")
    args = parser.parse_args()
    url = bench_url()
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    with Session(engine) as session:
        try:
            run(session, args)
        finally:
            session.rollback()  # nothing of the benchmark stays in citygrid_bench
    engine.dispose()


def run(session: Session, args: argparse.Namespace) -> None:
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 2"))
    departments = add_departments(session)
    rules = rule_mix(session, args.rules, departments)
    spec = RuleSetSpec.model_validate(
        {"effective_from": NOW - timedelta(days=1), "rules": rules, "auto_dispatch": ["01"]}
    )
    started = time.perf_counter()
    rule_set = rule_sets.save_rule_set(session, spec, by=None, now=NOW)
    timed(f"save {len(rules)} rules (validate, order, check conflicts, expand keys)", started)
    keys = session.scalar(
        text("SELECT count(*) FROM routing_rule_key WHERE rule_set_id = :id"), {"id": rule_set.id}
    )
    print(f"rule set v{rule_set.version}: {len(rules)} rules → {keys} lookup keys")

    started = time.perf_counter()
    case_ids = list(
        session.scalars(
            text(f"{INSERT_CASES.text} RETURNING id"), {"n": args.cases, "created_at": NOW}
        )
    )
    timed(f"insert {len(case_ids)} cases", started)
    session.execute(text("ANALYZE event_case"))
    session.execute(text("ANALYZE routing_rule_key"))
    session.execute(text("ANALYZE routing_rule"))
    if args.explain:
        explain_lookup(session, rule_set.id, case_ids)

    session.execute(text("ANALYZE routing_lookup"))
    started = time.perf_counter()
    matched = session.execute(LOOKUP_ONLY, {"case_ids": case_ids, "rule_set_id": rule_set.id}).one()
    elapsed = timed(f"routing lookup for {matched.cases} cases (the winning rule of each)", started)
    print(f"routing (lookup): {matched.cases / elapsed:,.0f} cases/s; {matched.routed} routed")

    session.execute(text("SAVEPOINT before_store"))
    started = time.perf_counter()
    stored = routing.store_routes(session, case_ids, at=NOW)
    elapsed = timed(f"store_routes for {stored} cases (stored, not returned)", started)
    print(f"routing + storing decisions (bulk re-routing): {stored / elapsed:,.0f} cases/s")
    session.execute(text("ROLLBACK TO SAVEPOINT before_store"))

    started = time.perf_counter()
    decisions = routing.decide_routes(session, case_ids, at=NOW)
    elapsed = timed(f"decide_routes for {len(decisions)} cases (stored, returned)", started)
    routed = sum(1 for decision in decisions.values() if decision.department_id is not None)
    print(
        f"routing + storing + returning: {len(decisions) / elapsed:,.0f} cases/s; {routed} routed"
    )
    verify(session, rule_set.id, case_ids, decisions, args.sample)


def verify(
    session: Session,
    rule_set_id: int,
    case_ids: list[int],
    decisions: dict[int, routing.RouteDecision],
    sample_size: int,
) -> None:
    sample = random.Random(5).sample(case_ids, min(sample_size, len(case_ids)))
    started = time.perf_counter()
    naive = session.execute(NAIVE, {"rule_set_id": rule_set_id, "case_ids": sample}).all()
    elapsed = timed(f"naive formulation for {len(sample)} cases", started)
    print(f"naive: {len(sample) / elapsed:,.0f} cases/s")
    differing = [
        row.case_id
        for row in naive
        if (row.rule_id, row.department_id)
        != (decisions[row.case_id].rule_id, decisions[row.case_id].department_id)
    ]
    assert len(naive) == len(sample)
    print(f"verified: {len(sample) - len(differing)}/{len(sample)} cases agree")
    for case_id in differing:
        row = session.execute(
            text(
                "SELECT c.id, ST_Covers(gc.geom, c.geom) AS in_its_cell, c.urgency, c.category_id"
                " FROM event_case c JOIN grid_cell gc ON gc.id = c.cell_id WHERE c.id = :id"
            ),
            {"id": case_id},
        ).one()
        print(f"differs: {row}; decided rule {decisions[case_id].rule_id}")
    assert not differing, differing[:10]


if __name__ == "__main__":
    main()
