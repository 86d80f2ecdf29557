"""Scale: millions of cases over three years, with and without monthly partitions.

    flock /tmp/citygrid-heavy.lock .venv/bin/python bench/scale.py --cases 1000000,10000000
    .venv/bin/python bench/scale.py --tiny          # seconds: the test's form (tests/bench)

For each size, its own database `citygrid_bench_scale_<cases>` (dropped at the end unless
--keep): migrated to the revision before the partitions (plain tables), the 100,000-cell city,
and `cases` cases spread over three years with a report each, an assignment each but the last
2,000 (waiting for dispatch) and six history rows each (report, file, dispatch, handle,
verify_pass, close; fewer for open cases), written by set-based SQL (deterministic: setseed),
the tables' indexes dropped for the load and built after it. Then:

1. the same queries through `citygrid serve --workers 2`, on plain tables, each once untimed
   first: intake p99 (POST /api/reports, sequential), the dispatcher console's first page and a
   search (p95), the evaluation of one month and of a year by department (case_assignment),
   by community (event_case) and by inspector (report and case_transition: the partitioned
   ones), a month's hotspot page, a month's CSV export streamed (the server's resident memory
   sampled while it streams);
2. the migration to monthly partitions in place (2026-12-06_monthly_partitions), timed, while
   two probes measure how long a read and a write of `case_transition` wait on its locks;
3. the same queries on the partitioned tables; sizes per table, per million cases, and what
   archiving the oldest year (twelve partitions of each partitioned table) frees.

Prints the figures, and with --out writes them to a markdown file after every stage, so a run
stopped by the clock still leaves its figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import harness  # first: puts the project root on the path
import httpx
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.cli import migrate
from citygrid.settings import get_settings

PLAIN_REVISION = "c1a0e5a18002"  # the one before 2026-12-06_monthly_partitions
PORT = int(os.environ.get("BENCH_SCALE_PORT", "8097"))  # and the next ones: one a size
CHUNK = 250_000
SPAN_DAYS = 3 * 365
HISTORY = (  # action, from, to, hours after the report
    ("report", None, "reported", 0),
    ("file", "reported", "filed", 0.2),
    ("dispatch", "filed", "dispatched", 1),
    ("handle", "dispatched", "handled", 30),
    ("verify_pass", "handled", "verified", 40),
    ("close", "verified", "closed", 48),
)
CASES_SQL = """
INSERT INTO event_case (id, number, status, category_id, urgency, description, address, geom,
    cell_id, department_id, created_at, updated_at, filed_at, dispatched_at, due_at, warn_at,
    handled_at, closed_at)
SELECT g,
       to_char(t.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
           || '-' || lpad(g::text, 8, '0'),
       t.status, (CAST(:category_ids AS bigint[]))[1 + (g * 7919) % :category_count],
       CASE WHEN g % 10 = 0 THEN 'urgent' ELSE 'normal' END,
       (CAST(:descriptions AS text[]))[1 + g % :description_count],
       (CAST(:streets AS text[]))[1 + (g / 7) % :street_count] || ' ' || (1 + g % 300) || '号',
       p.geom, p.id, t.department_id, t.created_at, t.created_at,
       t.created_at + interval '12 minutes',
       CASE WHEN t.status <> 'filed' THEN t.created_at + interval '1 hour' END,
       CASE WHEN t.status <> 'filed' THEN t.created_at + interval '3 days' END,
       CASE WHEN t.status <> 'filed' THEN t.created_at + interval '58 hours' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '30 hours' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '48 hours' END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g > :cases - 2000 THEN 'filed'
                WHEN g > :cases - :held THEN 'dispatched'
                ELSE 'closed' END AS status,
           CASE WHEN g <= :cases - 2000
                THEN (CAST(:department_ids AS bigint[]))[1 + g % :departments] END AS department_id,
           now() - interval '1 hour' - (:cases - g) * CAST(:step AS interval)
               - random() * CAST(:step AS interval) AS created_at
) t
JOIN bench_cell p ON p.n = 1 + (g * 104729) % :cells
"""
REPORTS_SQL = """
INSERT INTO report (report_uuid, case_id, original_case_id, reporter_id, channel, geom,
                    description, created_at)
SELECT gen_random_uuid(), id, id, CASE WHEN id % 4 < 2 THEN :inspector END,
       (ARRAY['app', 'app', 'hotline', 'open311'])[1 + id % 4], geom, description, created_at
FROM event_case WHERE id BETWEEN :first AND :last
"""
ASSIGNMENTS_SQL = """
INSERT INTO case_assignment (case_id, department_id, dispatched_at, limit_hours, due_at, warn_at,
    accepted_at, handled_at, handling_hours, ended_at, end_reason)
SELECT id, department_id, dispatched_at, 16, due_at, warn_at, dispatched_at + interval '2 hours',
       handled_at, CASE WHEN handled_at IS NOT NULL THEN 6 + id % 20 END,
       closed_at, CASE WHEN closed_at IS NOT NULL THEN 'closed' END
FROM event_case WHERE id BETWEEN :first AND :last AND department_id IS NOT NULL
"""
HISTORY_SQL = """
INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, actor_role, at,
                             details)
SELECT c.id, h.action, h.from_status, h.to_status,
       CASE WHEN h.action = 'verify_pass' THEN :inspector ELSE :actor END,
       CASE WHEN h.action = 'verify_pass' THEN 'inspector' ELSE 'dispatcher' END,
       c.created_at + h.hours * interval '1 hour',
       CASE WHEN h.action = 'verify_pass'
            THEN jsonb_build_object('verify_working_hours', 1 + c.id % 40)
            ELSE '{{}}'::jsonb END
FROM event_case c
JOIN (VALUES {values}) AS h(n, action, from_status, to_status, hours)
  ON h.n <= CASE c.status WHEN 'filed' THEN 2 WHEN 'dispatched' THEN 3 ELSE 6 END
WHERE c.id BETWEEN :first AND :last
"""
BULK_TABLES = ("event_case", "report", "case_transition", "case_assignment")
# Indexes (not keys) of the bulk-loaded tables: dropped for the load, built after it.
BULK_INDEXES_SQL = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = ANY(CAST(:tables AS regclass[]))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
"""
STREETS = ("东四北大街", "王府井大街", "朝阳门内大街", "交道口南大街", "雍和宫大街", "前门大街")
DESCRIPTIONS = ("路边垃圾堆积，无人清理", "井盖破损，行人有绊倒危险", "店外占道经营，影响通行",
                "共享单车乱停放堵住人行道", "路灯不亮，夜间照明不足", "墙面乱贴小广告")  # fmt: skip
PARTITIONED = ("case_transition", "report", "notification", "webhook_attempt")


class Figures:
    """The markdown written after every stage."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)
        if self.out is not None:
            self.out.write_text("\n".join(self.lines) + "\n")


def history_values() -> str:
    rows = []
    for n, (action, source, target, hours) in enumerate(HISTORY, start=1):
        source_sql = f"'{source}'" if source else "NULL::text"
        rows.append(f"({n}, '{action}', {source_sql}, '{target}', {hours}::float8)")
    return ", ".join(rows)


def database_url(cases: int) -> str:
    """The URL of the size's own database (on the configured server)."""
    server = get_settings().resolved_database_url()
    return (
        make_url(server)
        .set(database=f"citygrid_bench_scale_{cases}")
        .render_as_string(hide_password=False)
    )


def fresh_database(cases: int) -> str:
    if os.environ.get("BENCH_DATABASE_URL"):  # the tests' fresh, empty database
        return os.environ["BENCH_DATABASE_URL"]
    name = f"citygrid_bench_scale_{cases}"
    server = get_settings().resolved_database_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if os.environ.get("BENCH_DATABASE_URL"):
        return
    name = make_url(url).database
    admin = create_engine(get_settings().resolved_database_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def generate(url: str, cases: int, cells: int) -> dict[str, Any]:
    """Plain schema, taxonomy, grid, people, and the cases with reports and history."""
    original = harness.migrate
    harness.migrate = lambda url, revision="head", **_: original(url, PLAIN_REVISION)
    try:
        harness.ensure_grid(url, cells)
    finally:
        harness.migrate = original
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        department_ids = list(
            session.scalars(
                text(
                    "INSERT INTO department (code, name, kind) SELECT 'SCALE-' || n, "
                    "'基准部门 ' || n, 'sanitation' FROM generate_series(1, 20) n RETURNING id"
                )
            )
        )
        users = {}
        for role, department_id in (
            ("dispatcher", None),
            ("manager", None),
            ("inspector", None),
            ("department", department_ids[0]),
        ):
            users[role] = session.scalar(
                text(
                    "INSERT INTO app_user (username, display_name, password_hash, role, "
                    "department_id) VALUES (:n, :n, 'x', :role, :d) RETURNING id"
                ),
                {"n": f"scale-{role}", "role": role, "d": department_id},
            )
        session.execute(text("SELECT setseed(0.2026)"))
        session.execute(
            text(
                "CREATE TEMP TABLE bench_cell AS SELECT row_number() OVER (ORDER BY id) AS n, "
                "id, ST_PointOnSurface(geom) AS geom FROM grid_cell"
            )
        )
        session.execute(text("ALTER TABLE bench_cell ADD PRIMARY KEY (n)"))
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
            "category_count": len(category_ids),
            "descriptions": list(DESCRIPTIONS),
            "description_count": len(DESCRIPTIONS),
            "streets": list(STREETS),
            "street_count": len(STREETS),
            "department_ids": department_ids,
            "departments": len(department_ids),
            "cells": session.scalar(text("SELECT count(*) FROM bench_cell")),
            "cases": cases,
            "held": max(cases // 100, 2001),
            "step": timedelta(days=SPAN_DAYS) / cases,
        }
        history = HISTORY_SQL.format(values=history_values())
        indexes = session.execute(text(BULK_INDEXES_SQL), {"tables": list(BULK_TABLES)}).all()
        for name, _ in indexes:
            session.execute(text(f"DROP INDEX {name}"))
        session.commit()
        people = {"actor": users["dispatcher"], "inspector": users["inspector"]}
        for first in range(1, cases + 1, CHUNK):
            bounds = {"first": first, "last": min(first + CHUNK - 1, cases)}
            session.execute(text(CASES_SQL), {**parameters, **bounds})
            session.execute(text(REPORTS_SQL), {**bounds, "inspector": users["inspector"]})
            session.execute(text(history), {**bounds, **people})
            session.execute(text(ASSIGNMENTS_SQL), bounds)
            session.commit()
            print(f"cases: {bounds['last']:,} written", flush=True)
        session.execute(text("SELECT setval('event_case_id_seq', :n)"), {"n": cases})
        session.execute(text("SET maintenance_work_mem = '512MB'"))
        for name, definition in indexes:
            session.execute(text(definition))
            session.commit()
            print(f"index {name} built", flush=True)
    seconds = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        analysed = time.perf_counter()
        for table in (*BULK_TABLES, "grid_cell"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
        vacuum_s = time.perf_counter() - analysed
        history_rows = connection.scalar(text("SELECT count(*) FROM case_transition"))
    engine.dispose()
    return {
        "users": users,
        "department_ids": department_ids,
        "seconds": seconds,
        "vacuum_s": vacuum_s,
        "history_rows": history_rows,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(call: Callable[[], httpx.Response], repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - started)
        assert response.status_code < 300, (response.status_code, response.text[:300])
    return seconds


def server_rss_kib(server_pid: int) -> int:
    """The resident memory of the server's process group (uvicorn and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != server_pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total


class Target:
    """One database under measurement: its size, URL, bench users, and its server's client."""

    def __init__(self, cases: int, url: str, users: dict[str, int], port: int) -> None:
        self.cases = cases
        self.url = url
        self.port = port
        self.tokens = {
            "inspector": harness.token(users["inspector"], Role.INSPECTOR),
            "dispatcher": harness.token(users["dispatcher"], Role.DISPATCHER),
            "manager": harness.token(users["manager"], Role.MANAGER),
        }
        engine = create_engine(url)
        with engine.connect() as connection:
            self.category = connection.scalar(
                text("SELECT code FROM category WHERE kind = 'event' AND level = 'minor' LIMIT 1")
            )
            middle = connection.execute(
                text("SELECT number, address, description FROM event_case WHERE id = :id"),
                {"id": max(1, cases // 2)},
            ).one()
            self.lon, self.lat = connection.execute(
                text(
                    "SELECT ST_X(ST_Centroid(ST_Extent(geom))), "
                    "ST_Y(ST_Centroid(ST_Extent(geom))) FROM grid_cell"
                )
            ).one()
        engine.dispose()
        # What a user types in the search box: a case number, a full address (the bench's
        # addresses repeat: at 10 M one matches ~5,500 cases, the old worst case), a street
        # name (a sixth of all cases), a word of a description (a sixth too).
        self.searches = {
            "number": middle.number,
            "address": middle.address,
            "street": middle.address.split(" ")[0],
            "description word": middle.description[2:4],
        }
        self.server: Any = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)

    def get(self, path: str, who: str, params: dict[str, str] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Accept": "text/html"}
        return self.client.get(path, params=params, headers=headers)

    def report(self) -> httpx.Response:
        body = {
            "report_uuid": str(uuid.uuid4()),
            "category_code": self.category,
            "kind": "event",
            "lon": self.lon,
            "lat": self.lat,
            "description": "规模基准：路边垃圾堆积",
        }
        headers = {"Authorization": f"Bearer {self.tokens['inspector']}"}
        return self.client.post("/api/reports", json=body, headers=headers)


def getter(
    path: str, who: str, params: dict[str, str] | None = None, *, search: str | None = None
) -> Callable[[Target], httpx.Response]:
    """A GET of `path` as `who` on a target; with `search`, the target's query of that kind."""

    def call(target: Target) -> httpx.Response:
        asked = {"q": target.searches[search]} if search is not None else params
        return target.get(path, who, asked)

    return call


def interleaved(
    targets: list[Target], call: Callable[[Target], httpx.Response], repeat: int, warm: int = 1
) -> dict[int, list[float]]:
    """`call` on every target in turn, `repeat` rounds (the first target alternating), after
    `warm` untimed rounds: the machine's noise at any moment hits every size alike."""
    for _ in range(warm):
        for target in targets:
            timed(partial(call, target), 1)
    seconds: dict[int, list[float]] = {target.cases: [] for target in targets}
    for round_ in range(repeat):
        ordered = targets if round_ % 2 == 0 else targets[::-1]
        for target in ordered:
            seconds[target.cases] += timed(partial(call, target), 1)
    return seconds


GROUPS = ("intake", "console", "search", "common", "evaluation", "hotspots", "export")


@dataclass(frozen=True)
class Sampling:
    """How many times each query runs, and which groups of queries (GROUPS) run at all."""

    samples: int  # console and search (p95)
    intake: int  # intake (p99)
    common: int  # the searches of a term a sixth of all cases match (p95)
    groups: frozenset[str] = frozenset(GROUPS)


def measure_all(
    databases: dict[int, tuple[str, dict[str, int]]], sampling: Sampling
) -> dict[int, dict[str, float]]:
    """The queries through each database's served app, the sizes interleaved query by query."""
    samples, groups = sampling.samples, sampling.groups
    targets = [
        Target(cases, url, users, PORT + n)
        for n, (cases, (url, users)) in enumerate(sorted(databases.items()))
    ]
    zone = get_settings().city_zone
    now = datetime.now(zone)
    month_start = (now.replace(day=1) - timedelta(days=40)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    year_start = month_end.replace(year=month_end.year - 1)
    period = {"from": month_start.isoformat(), "to": month_end.isoformat()}
    year = {"from": year_start.isoformat(), "to": month_end.isoformat()}
    figures: dict[int, dict[str, float]] = {target.cases: {} for target in targets}

    def record(
        name: str, found: dict[int, list[float]], summary: Callable[[list[float]], float]
    ) -> None:
        for cases, seconds in found.items():
            figures[cases][name] = summary(seconds)

    def p95_ms(seconds: list[float]) -> float:
        return percentile(seconds, 0.95) * 1000

    def p99_ms(seconds: list[float]) -> float:
        return percentile(seconds, 0.99) * 1000

    try:
        for target in targets:
            target.server = harness.start_server(target.url, workers=2, port=target.port)
        if "intake" in groups:
            # 50 untimed first: after a restart (or a migration) the first dozens of a big
            # database's inserts read cold index pages; the figure is of a warm server.
            found = interleaved(
                targets, Target.report, sampling.intake, warm=min(50, sampling.intake)
            )
            record("intake p99 ms", found, p99_ms)
            record("intake median ms", found, lambda seconds: statistics.median(seconds) * 1000)
        # Each query untimed first: the timings are of a warm cache, as in service.
        if "console" in groups:
            found = interleaved(targets, getter("/console", "dispatcher"), samples, warm=2)
            record("console first page p95 ms", found, p95_ms)
        searches = [("address", samples), ("number", samples)] if "search" in groups else []
        if "common" in groups:
            searches += [("street", sampling.common), ("description word", sampling.common)]
        for kind, repeat in searches:
            name = "search p95 ms" if kind == "address" else f"search by {kind} p95 ms"
            found = interleaved(targets, getter("/cases", "manager", search=kind), repeat, warm=1)
            record(name, found, p95_ms)
        for kind in ("department", "community", "inspector") if "evaluation" in groups else ():
            month_by = {**period, "by": kind}
            year_by = {**year, "by": kind}
            found = interleaved(targets, getter("/api/evaluation", "manager", month_by), 3)
            record(f"evaluation by {kind}, one month s", found, statistics.median)
            found = interleaved(targets, getter("/api/evaluation", "manager", year_by), 2, warm=0)
            record(f"evaluation by {kind}, a year s", found, statistics.median)
        maps = {"period_from": period["from"], "period_to": period["to"]}
        if "hotspots" in groups:
            found = interleaved(targets, getter("/maps/hotspots", "manager", maps), 2)
            record("hotspot page, one month s", found, statistics.median)
        export = {"format": "csv", "created_from": period["from"], "created_to": period["to"]}
        for target in targets if "export" in groups else ():
            before = server_rss_kib(target.server.pid)
            peak = before
            rows = 0
            started = time.perf_counter()
            with target.client.stream(
                "GET",
                "/api/cases/export",
                params=export,
                headers={"Authorization": f"Bearer {target.tokens['manager']}"},
            ) as response:
                assert response.status_code == 200, response.status_code
                for chunk in response.iter_bytes():
                    rows += chunk.count(b"\n")
                    peak = max(peak, server_rss_kib(target.server.pid))
            found_figures = figures[target.cases]
            found_figures["export, one month s"] = time.perf_counter() - started
            found_figures["export rows"] = rows - 1
            found_figures["export server RSS growth MiB"] = (peak - before) / 1024
    finally:
        for target in targets:
            target.client.close()
            if target.server is not None:
                harness.stop_server(target.server)
    return figures


def measure(url: str, people: dict[str, Any], cases: int, sampling: Sampling) -> dict[str, float]:
    """The queries on one database, through its served app."""
    return measure_all({cases: (url, people["users"])}, sampling)[cases]


def with_key_table(url: str, *, create: bool) -> None:
    """Today's intake reads and writes `report_key` (the idempotency key the partitions
    migration makes): on the plain tables the bench adds it for the measurement, and removes
    it before the migration makes the real one."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if create:
            connection.execute(
                text(
                    "CREATE TABLE report_key (report_uuid uuid PRIMARY KEY, created_at "
                    "timestamptz NOT NULL); INSERT INTO report_key SELECT report_uuid, "
                    "created_at FROM report"
                )
            )
        else:
            connection.execute(text("DROP TABLE report_key"))
    engine.dispose()


def probe(url: str, sql: str, stop: threading.Event, waits: list[float]) -> None:
    """Runs `sql` (rolled back) every 50 ms and keeps the longest time it took."""
    engine = create_engine(url)
    with engine.connect() as connection:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                connection.execute(text(sql))
            except Exception as error:  # a table being swapped: the probe's wait still counts
                print(f"probe: {type(error).__name__}", flush=True)
            connection.rollback()
            waits.append(time.perf_counter() - started)
            time.sleep(0.05)
    engine.dispose()


def migrate_in_place(url: str) -> dict[str, float]:
    """The partitions migration, timed, with a read and a write probe on case_transition."""
    stop = threading.Event()
    reads: list[float] = []
    writes: list[float] = []
    probes = [
        threading.Thread(
            target=probe,
            args=(url, "SELECT count(*) FROM case_transition WHERE case_id = 1", stop, reads),
        ),
        threading.Thread(
            target=probe,
            args=(
                url,
                "INSERT INTO case_transition (case_id, action, to_status) "
                "VALUES (1, 'note', 'closed')",
                stop,
                writes,
            ),
        ),
    ]
    for thread in probes:
        thread.start()
    time.sleep(0.5)
    started = time.perf_counter()
    try:
        migrate(url, "head")
    finally:
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        stop.set()
        for thread in probes:
            thread.join()
    engine = create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in PARTITIONED:
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    engine.dispose()
    return {
        "migration s": seconds,
        "longest read wait s": max(reads, default=0.0),
        "longest write wait s": max(writes, default=0.0),
    }


def sizes(url: str) -> dict[str, float]:
    """Bytes of the big tables with their indexes, and of the oldest year's partitions."""
    engine = create_engine(url)
    with engine.connect() as connection:
        found = {
            table: float(connection.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
            for table in ("event_case", "report", "case_transition", "case_assignment")
        }
        partitioned = connection.scalar(
            text("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'report'::regclass")
        )
        if partitioned:
            found["report_key"] = float(
                connection.scalar(text("SELECT pg_total_relation_size('report_key')")) or 0
            )
            for table in ("report", "case_transition"):
                found[table] = float(
                    connection.scalar(
                        text(
                            "SELECT sum(pg_total_relation_size(relid)) "
                            "FROM pg_partition_tree(CAST(:t AS regclass)) WHERE isleaf"
                        ),
                        {"t": table},
                    )
                    or 0
                )
            oldest_year = connection.scalar(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ANY(CAST(:p AS "
                    "regclass[])) AND c.relname ~ '_p\\d{4}_\\d{2}$' AND to_date(right(c.relname, "
                    "7), 'YYYY_MM') < (SELECT min(to_date(right(c2.relname, 7), 'YYYY_MM')) "
                    "+ interval '12 months' FROM pg_inherits i2 JOIN pg_class c2 ON c2.oid = "
                    "i2.inhrelid WHERE i2.inhparent = 'case_transition'::regclass "
                    "AND c2.relname ~ '_p\\d{4}_\\d{2}$')"
                ),
                {"p": list(PARTITIONED)},
            )
            found["oldest year's partitions"] = float(oldest_year or 0)
        found["database"] = float(
            connection.scalar(text("SELECT pg_database_size(current_database())")) or 0
        )
    engine.dispose()
    return found


def run_size(cases: int, args: argparse.Namespace, figures: Figures) -> None:
    url = fresh_database(cases)
    figures.add(f"\n### {cases:,} cases ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n")
    people = generate(url, cases, args.cells)
    figures.add(
        f"- generated {cases:,} cases, {cases:,} reports, their assignments and "
        f"{people['history_rows']:,} history rows in {people['seconds']:.0f} s (indexes built "
        f"after the load, included) (+ VACUUM ANALYZE {people['vacuum_s']:.0f} s)"
    )
    plain_sizes = sizes(url)
    with_key_table(url, create=True)
    plain = measure(url, people, cases, sampling(args))
    with_key_table(url, create=False)
    figures.add("- plain tables: " + ", ".join(f"{k} {v:,.2f}" for k, v in plain.items()))
    migration = migrate_in_place(url)
    figures.add(
        f"- migration in place: {migration['migration s']:.1f} s; longest wait of a read of "
        f"case_transition {migration['longest read wait s']:.2f} s, of a write "
        f"{migration['longest write wait s']:.2f} s"
    )
    parted = measure(url, people, cases, sampling(args))
    figures.add("- partitioned: " + ", ".join(f"{k} {v:,.2f}" for k, v in parted.items()))
    parted_sizes = sizes(url)
    figures.add(
        "- sizes (MiB, plain → partitioned): "
        + ", ".join(
            f"{k} {plain_sizes.get(k, 0) / 2**20:,.0f} → {v / 2**20:,.0f}"
            for k, v in parted_sizes.items()
        )
    )
    RESULTS[cases] = {"plain": plain, "partitioned": parted, "sizes": parted_sizes, **migration}
    if not args.keep:
        drop_database(url)


RESULTS: dict[int, dict[str, Any]] = {}


def table(figures: Figures) -> None:
    """Side by side: each size, plain and partitioned, and the ratio to the smallest."""
    sizes_run = sorted(RESULTS)
    if not sizes_run:
        return
    base = RESULTS[sizes_run[0]]
    header = (
        "| query | "
        + " | ".join(f"{n:,} plain | {n:,} partitioned" for n in sizes_run)
        + " | ratio largest/smallest (partitioned) |"
    )
    figures.add("\n" + header)
    figures.add("| --- |" + " ---: | ---: |" * len(sizes_run) + " ---: |")
    for key in base["plain"]:
        cells = []
        for n in sizes_run:
            cells += [f"{RESULTS[n]['plain'][key]:,.2f}", f"{RESULTS[n]['partitioned'][key]:,.2f}"]
        first = base["partitioned"][key] or 1
        ratio = RESULTS[sizes_run[-1]]["partitioned"][key] / first
        figures.add(f"| {key} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    figures.add("\n| size (MiB) | " + " | ".join(f"{n:,}" for n in sizes_run) + " | per million |")
    figures.add("| --- |" + " ---: |" * (len(sizes_run) + 1))
    for key in RESULTS[sizes_run[-1]]["sizes"]:
        values = [RESULTS[n]["sizes"].get(key, 0) / 2**20 for n in sizes_run]
        per_million = values[-1] / (sizes_run[-1] / 1_000_000)
        figures.add(
            f"| {key} | " + " | ".join(f"{v:,.0f}" for v in values) + f" | {per_million:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", default="1000000,10000000", help="comma list of sizes")
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="2,000 cases on 2,000 cells")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the kept databases of these sizes (after migrating them to --revision), "
        "without generating, the sizes interleaved query by query",
    )
    parser.add_argument("--revision", default="head", help="with --reuse: migrate to this first")
    parser.add_argument(
        "--intake-samples", type=int, default=500, help="intake requests per size (p99)"
    )
    parser.add_argument(
        "--queries", help=f"comma list of the query groups to run (default all: {GROUPS})"
    )
    parser.add_argument("--out", type=Path, help="also write the figures to this markdown file")
    parser.add_argument(
        "--deadline",
        help="HH:MM UTC: a size that would not finish by then (at the rate of the sizes before "
        "it) is cut to the largest whole million that would",
    )
    args = parser.parse_args()
    if args.tiny:
        args.cases, args.cells, args.samples, args.intake_samples = "2000", 2000, 3, 15
    figures = Figures(args.out)
    figures.add(f"# bench/scale.py --cases {args.cases} --cells {args.cells}")
    sizes_asked = [int(n) for n in args.cases.split(",")]
    if args.reuse:
        reuse(sizes_asked, args, figures)
        return
    seconds_per_case = 0.0
    for cases in sizes_asked:
        if args.deadline and seconds_per_case:
            left = (deadline_at(args.deadline) - datetime.now(UTC)).total_seconds()
            fits = int(left * 0.85 / seconds_per_case) // 1_000_000 * 1_000_000
            if fits < cases:
                figures.add(
                    f"\n{cases:,} cases would not finish by {args.deadline} UTC "
                    f"(about {seconds_per_case * cases / 60:.0f} min at the measured rate): "
                    + (f"running {fits:,} instead" if fits > sizes_asked[0] else "stopping")
                )
                if fits <= sizes_asked[0]:
                    break
                cases = fits
        started = time.perf_counter()
        run_size(cases, args, figures)
        seconds_per_case = (time.perf_counter() - started) / cases
        table(figures)


def sampling(args: argparse.Namespace) -> Sampling:
    groups = frozenset(args.queries.split(",")) if args.queries else frozenset(GROUPS)
    unknown = groups - set(GROUPS)
    if unknown:
        raise SystemExit(f"--queries: unknown {', '.join(sorted(unknown))} (known: {GROUPS})")
    return Sampling(args.samples, args.intake_samples, max(3, args.samples // 10), groups)


def kept_users(url: str) -> dict[str, int]:
    """The bench users of a kept database, by role."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT substr(username, 7), id FROM app_user WHERE username LIKE 'scale-%'")
        ).all()
    engine.dispose()
    return {role: user_id for role, user_id in rows}


def reuse(sizes_asked: list[int], args: argparse.Namespace, figures: Figures) -> None:
    """The kept databases migrated to --revision (timed: the later migrations on millions of
    cases), then measured together, the sizes interleaved."""
    databases: dict[int, tuple[str, dict[str, int]]] = {}
    for cases in sizes_asked:
        url = (
            database_url(cases)
            if not os.environ.get("BENCH_DATABASE_URL")
            else (os.environ["BENCH_DATABASE_URL"])
        )
        started = time.perf_counter()
        migrate(url, args.revision)
        migrated_s = time.perf_counter() - started
        engine = create_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            analysed = time.perf_counter()
            connection.execute(text("ANALYZE event_case"))
            analyse_s = time.perf_counter() - analysed
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        engine.dispose()
        figures.add(
            f"- {cases:,} cases ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): migrated to "
            f"{revision} in {migrated_s:.1f} s (+ ANALYZE event_case {analyse_s:.1f} s)"
        )
        databases[cases] = (url, kept_users(url))
    found = measure_all(databases, sampling(args))
    sizes_run = sorted(found)
    figures.add(
        f"\n| query (interleaved; samples: {args.samples}, intake {args.intake_samples}, "
        f"common terms {sampling(args).common}) | "
        + " | ".join(f"{n:,}" for n in sizes_run)
        + " | ratio largest/smallest |"
    )
    figures.add("| --- |" + " ---: |" * (len(sizes_run) + 1))
    for key in found[sizes_run[0]]:
        values = [found[n][key] for n in sizes_run]
        ratio = values[-1] / (values[0] or 1)
        figures.add(f"| {key} | " + " | ".join(f"{v:,.2f}" for v in values) + f" | {ratio:.2f} |")


def deadline_at(value: str) -> datetime:
    """HH:MM today, UTC."""
    hours, minutes = (int(part) for part in value.split(":"))
    return datetime.now(UTC).replace(hour=hours, minute=minutes, second=0, microsecond=0)


if __name__ == "__main__":
    main()
