"""Work list pages at city scale: 1,000,000 cases of which 5,000 wait for dispatch.

    .venv/bin/python bench/pages.py     # defaults: --cells 100000 --cases 1000000 --seconds 10

Its own database `citygrid_bench_pages` (or BENCH_DATABASE_URL), kept for the next run: the
100,000-cell city of bench/harness, 20 departments and a user per role, and `--cases` cases
with their first report written by set-based SQL (deterministic: setseed): 5,000 filed and
waiting for dispatch (the last two days), 1,000 reported (today), 3 % held by departments
(about 1,500 each), the rest closed over the last year; Chinese addresses and descriptions.

Then `citygrid serve --workers 2` and, for each page, `wrk` with 8 connections (8 users
clicking without pause) for `--seconds`; p95 from wrk's latency distribution (a Lua `done`).
The dashboard is timed alone (a manager opens it; sequential, median of 5), and the map pages
are fetched with and without gzip for their compression ratio. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import harness  # first: puts the project root on the path
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.settings import get_settings

DATABASE = "citygrid_bench_pages"
PORT = 8093
WAITING = 5_000
REPORTED = 1_000
HELD_SHARE = 0.03
DEPARTMENTS = 20
STREETS = (
    "东四北大街", "王府井大街", "朝阳门内大街", "交道口南大街", "雍和宫大街", "东直门内大街",
    "崇文门外大街", "前门大街", "鼓楼东大街", "地安门东大街", "北新桥三条", "南锣鼓巷",
)  # fmt: skip
DESCRIPTIONS = (
    "路边垃圾堆积，无人清理", "井盖破损，行人有绊倒危险", "店外占道经营，影响通行",
    "共享单车乱停放堵住人行道", "路灯不亮，夜间照明不足", "绿地被踩踏，植被破坏",
    "墙面乱贴小广告", "施工渣土未覆盖，扬尘严重", "机动车违章停放占用消防通道",
    "雨水篦子堵塞，路面积水",
)  # fmt: skip
CASES_SQL = """
INSERT INTO event_case (id, number, status, category_id, urgency, description, address, geom,
    cell_id, department_id, created_at, updated_at, filed_at, dispatched_at, due_at, warn_at,
    handled_at, closed_at)
SELECT g, to_char(t.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
           || lpad(g::text, 7, '0'),
       t.status, (CAST(:category_ids AS bigint[]))[1 + (g * 7919) % :category_count],
       CASE WHEN g % 10 = 0 THEN 'urgent' ELSE 'normal' END,
       (CAST(:descriptions AS text[]))[1 + g % :description_count],
       (CAST(:streets AS text[]))[1 + (g / 7) % :street_count] || ' ' || (1 + g % 300) || '号',
       p.geom, p.id, t.department_id, t.created_at, t.created_at,
       CASE WHEN t.status <> 'reported' THEN t.created_at + interval '10 minutes' END,
       CASE WHEN t.department_id IS NOT NULL THEN t.created_at + interval '1 hour' END,
       CASE WHEN t.department_id IS NOT NULL THEN t.created_at + interval '3 days' END,
       CASE WHEN t.department_id IS NOT NULL THEN t.created_at + interval '58 hours' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '30 hours' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '2 days' END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g <= :waiting THEN 'filed'
                WHEN g <= :waiting + :reported THEN 'reported'
                WHEN g % :held_every = 0 THEN 'dispatched'
                ELSE 'closed' END AS status,
           CASE WHEN g > :waiting + :reported
                THEN (CAST(:department_ids AS bigint[]))[1 + g % :departments]
           END AS department_id,
           now() - CASE WHEN g <= :waiting THEN random() * interval '2 days'
                        WHEN g <= :waiting + :reported THEN random() * interval '12 hours'
                        WHEN g % :held_every = 0 THEN random() * interval '6 days'
                        ELSE interval '7 days' + random() * interval '358 days' END
               AS created_at
) t
JOIN bench_cell p ON p.n = 1 + (g * 104729) % :cells
"""
REPORTS_SQL = """
INSERT INTO report (report_uuid, case_id, original_case_id, channel, geom, description, created_at)
SELECT gen_random_uuid(), id, id, (ARRAY['app', 'app', 'hotline', 'open311'])[1 + id % 4],
       geom, description, created_at
FROM event_case WHERE id BETWEEN :first AND :last
"""
CHUNK = 100_000


def ensure_people(session: Session) -> dict[str, Any]:
    """20 departments and a dispatcher, a manager and a member of the first department."""
    session.execute(
        text(
            "INSERT INTO department (code, name, kind) SELECT 'BENCH-' || n, '基准部门 ' || n, "
            "'sanitation' FROM generate_series(1, :n) n ON CONFLICT (code) DO NOTHING"
        ),
        {"n": DEPARTMENTS},
    )
    department_ids = list(
        session.scalars(text("SELECT id FROM department WHERE code LIKE 'BENCH-%' ORDER BY id"))
    )
    users = {}
    for role, department_id in (
        ("dispatcher", None),
        ("manager", None),
        ("department", department_ids[0]),
    ):
        users[role] = session.scalar(
            text(
                "INSERT INTO app_user (username, display_name, password_hash, role, department_id)"
                " VALUES (:name, :name, 'x', :role, :department_id) ON CONFLICT (username)"
                " DO UPDATE SET role = excluded.role RETURNING id"
            ),
            {"name": f"bench-{role}", "role": role, "department_id": department_id},
        )
    session.commit()
    return {"department_ids": department_ids, "users": users}


def ensure_cases(session: Session, count: int, department_ids: list[int]) -> None:
    have = session.scalar(text("SELECT count(*) FROM event_case")) or 0
    if have >= count:
        print(f"cases: {have:,} already in {DATABASE}", flush=True)
        return
    if have:
        session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
        session.execute(text("TRUNCATE event_case, report, case_transition, case_photo CASCADE"))
        session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    started = time.perf_counter()
    session.execute(text("SELECT setseed(0.2026)"))
    session.execute(
        text(
            "CREATE TEMP TABLE bench_cell AS SELECT row_number() OVER (ORDER BY id) AS n, id, "
            "ST_PointOnSurface(geom) AS geom FROM grid_cell"
        )
    )
    session.execute(text("ALTER TABLE bench_cell ADD PRIMARY KEY (n)"))
    cells = session.scalar(text("SELECT count(*) FROM bench_cell"))
    category_ids = list(
        session.scalars(
            text(
                "SELECT id FROM category WHERE level = 'minor' AND kind = 'event' "
                "AND retired_at IS NULL ORDER BY id"
            )
        )
    )
    parameters = {
        "category_ids": category_ids,
        "descriptions": list(DESCRIPTIONS),
        "streets": list(STREETS),
        "waiting": WAITING,
        "reported": REPORTED,
        "held_every": round(1 / HELD_SHARE),
        "department_ids": department_ids,
        "departments": len(department_ids),
        "category_count": len(category_ids),
        "description_count": len(DESCRIPTIONS),
        "street_count": len(STREETS),
        "cells": cells,
    }
    for first in range(1, count + 1, CHUNK):
        bounds = {"first": first, "last": min(first + CHUNK - 1, count)}
        session.execute(text(CASES_SQL), {**parameters, **bounds})
        session.execute(text(REPORTS_SQL), bounds)
        print(f"cases: {bounds['last']:,} written", flush=True)
    session.execute(text("SELECT setval('event_case_id_seq', :n)"), {"n": count})
    session.commit()
    print(f"cases: {count:,} with reports in {time.perf_counter() - started:.0f} s", flush=True)


def bearer(user_id: int, role: Role, department_id: int | None = None) -> str:
    principal = Principal(user_id, f"bench-{role.value}", role, department_id)
    return issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(hours=2))


WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = "%(path)s"
wrk.headers["Accept"] = "text/html"
wrk.headers["Accept-Language"] = "zh-CN"
done = function(summary, latency, requests)
    io.write(string.format("P95_MS %%.1f\\n", latency:percentile(95) / 1000))
    io.write(string.format("ERRORS %%d\\n", summary.errors.status + summary.errors.timeout))
end
"""


def wrk_p95(path: str, auth_token: str, seconds: int) -> dict[str, float]:
    quoted = quote(path, safe="/?=&,")
    output = harness.run_wrk(PORT, WRK_SCRIPT % {"path": quoted}, seconds, 8, auth_token)
    figures = harness.parse_wrk(output)
    for line in output.splitlines():
        if line.startswith("P95_MS"):
            figures["p95_ms"] = float(line.split()[1])
        if line.startswith("ERRORS"):
            figures["errors"] = float(line.split()[1])
    return figures


def sample_targets(session: Session) -> dict[str, str]:
    """A case number, an address and a cell code to search for, from the middle of the data."""
    number, address, cell = session.execute(
        text(
            "SELECT c.number, c.address, g.code FROM event_case c "
            "JOIN grid_cell g ON g.id = c.cell_id WHERE c.id = 500000 % "
            "(SELECT max(id) FROM event_case) + 1"
        )
    ).one()
    return {"number": number, "address": address, "cell": cell}


def timed_get(client: httpx.Client, path: str, auth_token: str, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(
            path, headers={"Authorization": f"Bearer {auth_token}", "Accept": "text/html"}
        )
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return seconds


def compression(client: httpx.Client, path: str, auth_token: str) -> tuple[int, int]:
    """(bytes sent with gzip, bytes without) of one page."""
    sizes = []
    for encoding in ("gzip", "identity"):
        with client.stream(
            "GET",
            path,
            headers={"Authorization": f"Bearer {auth_token}", "Accept-Encoding": encoding},
        ) as response:
            assert response.status_code == 200, (path, response.status_code)
            sizes.append(sum(len(chunk) for chunk in response.iter_raw()))
    return sizes[0], sizes[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    url = harness.bench_url(DATABASE)
    harness.ensure_grid(url, options.cells)
    engine = create_engine(url)
    with Session(engine) as session:
        people = ensure_people(session)
        ensure_cases(session, options.cases, people["department_ids"])
        targets = sample_targets(session)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE event_case"))
        connection.execute(text("VACUUM ANALYZE report"))
    engine.dispose()
    users = people["users"]
    tokens = {
        "dispatcher": bearer(users["dispatcher"], Role.DISPATCHER),
        "manager": bearer(users["manager"], Role.MANAGER),
        "department": bearer(users["department"], Role.DEPARTMENT, people["department_ids"][0]),
    }
    pages = {
        "console, first page": ("/console", "dispatcher"),
        "desk, first page": ("/desk", "department"),
        "search by number": (f"/cases?q={targets['number']}", "manager"),
        "search by address text": (f"/cases?q={targets['address']}", "manager"),
        "search by cell code": (f"/cases?q={targets['cell']}", "manager"),
        "map of the waiting cases (JSON)": ("/api/map/cases?status=filed", "dispatcher"),
    }
    server = harness.start_server(url, workers=2, port=PORT)
    try:
        base = f"http://127.0.0.1:{PORT}"
        with httpx.Client(base_url=base, timeout=60) as client:
            for path, who in pages.values():  # warm-up, and a check that each page answers
                timed_get(client, path, tokens[who], 2)
            dashboard = timed_get(client, "/dashboard", tokens["manager"], 5)
            squeezed = {
                path: compression(client, path, tokens["manager"])
                for path in ("/maps/heatmap", "/maps/choropleth", "/console")
            }
        print(f"\n| page, 8 concurrent users ({options.cases:,} cases) | p95 ms | p50 ms | req/s |")
        print("| --- | ---: | ---: | ---: |")
        if harness.have_wrk():
            for name, (path, who) in pages.items():
                figures = wrk_p95(path, tokens[who], options.seconds)
                print(
                    f"| {name} | {figures['p95_ms']:.0f} | {figures['p50_ms']:.0f} "
                    f"| {figures['rps']:.1f} |",
                    flush=True,
                )
                assert figures.get("errors", 0) == 0 and figures["non_2xx"] == 0, figures
        print(
            f"\ndashboard, alone: median {statistics.median(dashboard):.2f} s, "
            f"slowest of 5 {max(dashboard):.2f} s"
        )
        print("\n| page | gzip bytes | plain bytes | ratio |\n| --- | ---: | ---: | ---: |")
        for path, (gzipped, plain) in squeezed.items():
            print(f"| {path} | {gzipped:,} | {plain:,} | {gzipped / plain:.3f} |")
    finally:
        harness.stop_server(server)


if __name__ == "__main__":
    main()
