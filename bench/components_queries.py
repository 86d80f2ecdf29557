"""Component queries with 1,000,000 components and 500,000 component cases: search by box and
category, one component and its cases, the repeat-case ranking, the map layer.

    .venv/bin/python bench/components_queries.py [--components 1000000] [--cases 500000]

Database `citygrid_bench_components_queries` on the embedded cluster (or BENCH_DATABASE_URL);
data kept between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The project root first: bench/ holds modules named like the packages they measure.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from fastapi.testclient import TestClient
from harness import bench_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.settings import get_settings
from components import service as inventory
from events import taxonomy
from events.categories import service as categories
from events.component_cases import service as component_cases

WEST, SOUTH, STEP, SIDE = 116.20, 39.75, 0.003, 100  # 100 × 100 cells of ~300 m
DB = "citygrid_bench_components_queries"


def seed(session: Session, components: int, cases: int) -> None:
    if (session.scalar(text("SELECT count(*) FROM component")) or 0) >= components:
        print("data already there")
        return
    categories.load_taxonomy(session, taxonomy.read_taxonomy())
    started = time.perf_counter()
    session.execute(
        text("""
        INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2)
        SELECT 'district', '110199', 'bench', NULL,
               ST_Multi(ST_MakeEnvelope(:w, :s, :w + :side * :step, :s + :side * :step, 4326)), 1
    """),
        {"w": WEST, "s": SOUTH, "side": SIDE, "step": STEP},
    )
    # 4 streets of 50 × 50 cells, each 25 communities of 10 × 10 cells
    session.execute(
        text("""
        INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2)
        SELECT 'street', '110199' || lpad((sy * 2 + sx + 1)::text, 3, '0'), 'street', d.id,
               ST_Multi(ST_MakeEnvelope(:w + sx * 50 * :step, :s + sy * 50 * :step,
                    :w + (sx + 1) * 50 * :step, :s + (sy + 1) * 50 * :step, 4326)), 1
        FROM generate_series(0, 1) sx, generate_series(0, 1) sy, grid_region d
        WHERE d.code = '110199'
    """),
        {"w": WEST, "s": SOUTH, "step": STEP},
    )
    session.execute(
        text("""
        INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2)
        SELECT 'community', st.code || lpad((cy * 5 + cx + 1)::text, 3, '0'), 'community', st.id,
               ST_Multi(ST_MakeEnvelope(ST_XMin(st.geom) + cx * 10 * :step,
                    ST_YMin(st.geom) + cy * 10 * :step, ST_XMin(st.geom) + (cx + 1) * 10 * :step,
                    ST_YMin(st.geom) + (cy + 1) * 10 * :step, 4326)), 1
        FROM grid_region st, generate_series(0, 4) cx, generate_series(0, 4) cy
        WHERE st.level = 'street'
    """),
        {"step": STEP},
    )
    session.execute(
        text("""
        INSERT INTO grid_cell (code, name, community_id, geom, area_m2)
        SELECT m.code || lpad(((r % 10) * 10 + c % 10 + 1)::text, 3, '0'), 'cell', m.id,
               ST_Multi(ST_MakeEnvelope(:w + c * :step, :s + r * :step,
                    :w + (c + 1) * :step, :s + (r + 1) * :step, 4326)), 90000
        FROM generate_series(0, :side - 1) r, generate_series(0, :side - 1) c
        JOIN LATERAL (SELECT id, code FROM grid_region WHERE level = 'community'
            AND geom && ST_SetSRID(
                ST_MakePoint(:w + (c + 0.5) * :step, :s + (r + 0.5) * :step), 4326)
            LIMIT 1) m ON TRUE
    """),
        {"w": WEST, "s": SOUTH, "side": SIDE, "step": STEP},
    )
    session.execute(
        text("""
        INSERT INTO department (code, name, kind)
        SELECT 'B-' || i, 'bench department ' || i, 'bench' FROM generate_series(1, 20) i
    """)
    )
    print(f"grid: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    session.execute(
        text("""

        WITH kinds AS (
            SELECT array_agg(id ORDER BY id) AS ids, array_agg(code ORDER BY id) AS codes
            FROM category WHERE kind = 'component' AND level = 'minor'
              AND standard = 'GB/T 30428.2-2013'),
        departments AS (SELECT array_agg(id ORDER BY id) AS ids FROM department),
        points AS (
            SELECT i, :w + random() * :side * :step AS lon, :s + random() * :side * :step AS lat,
                   1 + floor(random() * (SELECT cardinality(ids) FROM kinds))::int AS k,
                   1 + floor(random() * 20)::int AS d
            FROM generate_series(1, :n) i)
        INSERT INTO component (code, category_id, geom, cell_id, status,
                               maintainer_department_id)
        SELECT '110199' || kinds.codes[p.k] || lpad(p.i::text, 6, '0'), kinds.ids[p.k],
               ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326),
               NULL,
               CASE WHEN random() < 0.1 THEN 'damaged' ELSE 'in_use' END, departments.ids[p.d]
        FROM points p, kinds, departments
    """),
        {"w": WEST, "s": SOUTH, "side": SIDE, "step": STEP, "n": components},
    )
    session.execute(
        text("""
        UPDATE component c SET cell_id = g.id FROM grid_cell g
        WHERE g.geom && c.geom AND ST_Intersects(g.geom, c.geom)
    """)
    )
    print(f"components: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    # Skewed: a few components fail often (random()^3 favours low ids).
    session.execute(
        text("""
        INSERT INTO event_case (number, status, category_id, description, geom, cell_id,
                                component_id, created_at, component_match)
        SELECT 'B' || lpad(i::text, 19, '0'),
               (ARRAY['closed','closed','closed','filed','dispatched','cancelled'])
                   [1 + floor(random() * 6)::int],
               c.category_id, 'bench', c.geom, c.cell_id, c.id,
               now() - random() * interval '730 days', 'suggested'
        FROM (SELECT i, (SELECT min(id) FROM component)
                        + floor(:components * random() ^ 3)::bigint AS component_id
              FROM generate_series(1, :n) i) t
        JOIN component c ON c.id = t.component_id
    """),
        {"n": cases, "components": components},
    )
    session.commit()
    session.execute(text("ANALYZE"))
    print(f"cases: {time.perf_counter() - started:.1f} s")


def timed(label: str, runs: int, call: Callable[[int], Any]) -> None:
    call(0)  # warm
    times = []
    for run in range(runs):
        started = time.perf_counter()
        call(run)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"| {label} | {runs} | {statistics.median(times):.1f} | {p99:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=500_000)
    arguments = parser.parse_args()
    url = bench_url(DB)
    migrate(url)
    engine = db.make_engine(url, pool_size=2)
    with Session(engine) as session:
        seed(session, arguments.components, arguments.cases)
    rng = np.random.default_rng(7)
    box_deg = 200 / 111_320  # ~200 m (a little less east-west at 40° N)
    boxes = [(WEST + x, SOUTH + y) for x, y in rng.uniform(0, SIDE * STEP - 0.01, (200, 2))]
    now = datetime.now(UTC)
    zone = get_settings().city_zone
    print("| query | runs | p50 ms | p99 ms |\n|---|---|---|---|")
    with Session(engine) as session:

        def bbox_search(run: int) -> None:
            west, south = boxes[run % len(boxes)]
            search = inventory.ComponentSearch(bbox=(west, south, west + box_deg, south + box_deg))
            inventory.search_components(session, search)

        timed("search bbox ~200 m (service)", 200, bbox_search)
        timed(
            "search whole city, limit 1000, count ≤10k",
            20,
            lambda run: inventory.search_components(session, inventory.ComponentSearch()),
        )
        timed(
            "search category 01, limit 1000",
            20,
            lambda run: inventory.search_components(
                session, inventory.ComponentSearch(category="01")
            ),
        )
        year = component_cases.RepeatQuery(period_from=now - timedelta(days=365), period_to=now)
        timed(
            "repeats, 1 year, whole city",
            10,
            lambda run: component_cases.repeat_ranking(session, year),
        )
        timed(
            "repeats, 1 year, category 0101",
            10,
            lambda run: component_cases.repeat_ranking(
                session,
                component_cases.RepeatQuery(
                    period_from=year.period_from, period_to=now, category="0101"
                ),
            ),
        )
        timed(
            "repeats, 1 year, one street",
            10,
            lambda run: component_cases.repeat_ranking(
                session,
                component_cases.RepeatQuery(
                    period_from=year.period_from, period_to=now, area_code="110199001"
                ),
            ),
        )
        top = component_cases.repeat_ranking(session, year).components[0].component_id
        timed(
            "one component",
            50,
            lambda run: component_cases.component_detail(session, top, now=now, zone=zone),
        )
        timed(
            "its cases (most-failed component)",
            50,
            lambda run: component_cases.component_cases(session, top, now=now, zone=zone),
        )
        area = component_cases.MapArea("110199001001", None, now - timedelta(days=30), now)
        timed(
            "map layer, one community (over the cap: count)",
            10,
            lambda run: component_cases.components_on_map(session, area, cap=2000),
        )
        area = component_cases.MapArea("110199001001", "0101", now - timedelta(days=30), now)
        timed(
            "map layer, one community, category 0101 (drawn)",
            10,
            lambda run: component_cases.components_on_map(session, area, cap=2000),
        )
        session.rollback()
    app = create_app()
    with Session(engine) as session:
        app.dependency_overrides[db.get_session] = lambda: session
        token = issue_token(
            Principal(1, "bench", Role.DISPATCHER, None),
            secret=get_settings().secret_key,
            ttl=timedelta(hours=1),
        )
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:

            def bbox_http(run: int) -> None:
                west, south = boxes[run % len(boxes)]
                bbox = f"{west},{south},{west + box_deg},{south + box_deg}"
                response = client.get("/api/components", params={"bbox": bbox}, headers=headers)
                assert response.status_code == 200, response.text

            timed("GET /api/components?bbox= ~200 m (HTTP, TestClient)", 200, bbox_http)
            west, south = boxes[0]
            body = client.get(
                "/api/components",
                headers=headers,
                params={"bbox": f"{west},{south},{west + box_deg},{south + box_deg}"},
            ).json()
            print(f"features in a ~200 m box: {len(body['features'])}")


if __name__ == "__main__":
    main()
