"""Performance evaluation benchmark: GET /api/evaluation's query over 1,000,000 cases.

    .venv/bin/python bench/dispatch_evaluation.py [--cases 1000000] [--repeat 3]

In the database `citygrid_bench` (kept 100,149-cell grid, see bench/locate.py) it replaces the
cases, reports, history and assignments with generated ones, set-based (generate_series):
1,000,000 cases reported over the year before 2026-11-26 in random cells, 50 departments,
200 inspectors; ~93 % filed, most dispatched, handled (about a quarter late) and closed, 5 %
returned once, 5 % reworked, 3 % postponed, 0.5 % merged duplicates. About 0.94M assignments,
1M reports, 5.5M history rows (a verify row names the handling it verifies in
details.handled_at and the working hours since in details.verify_working_hours, as the case
actions record them; here a random 0–8 h, so about half are later than the 4 h limit). Then
VACUUM ANALYZE, and `dispatch.evaluation.service.evaluate` (the statement plus turning counts
into rates, scores and grades) is timed for the last 30, 90 and 365 days by department, street,
community and inspector: first with the migrated schema's indexes only, then adding the
candidate indexes below one set at a time (created here, in the bench database only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from harness import bench_url, ensure_grid
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from dispatch.evaluation import service as evaluation_service
from dispatch.evaluation.grading import GroupKind

DATA_END = datetime(2026, 11, 26, tzinfo=UTC)
DEPARTMENTS = 50
INSPECTORS = 200
PERIOD_DAYS = (30, 90, 365)
KINDS = (GroupKind.DEPARTMENT, GroupKind.STREET, GroupKind.COMMUNITY, GroupKind.INSPECTOR)
# Indexes the migrations lack that the evaluation's period filters could use, in the order they
# are added: phase name → {index name → definition}.
CANDIDATE_INDEXES: dict[str, dict[str, str]] = {
    "period_indexes": {
        "bench_case_assignment_due_at": "case_assignment (due_at)",
        "bench_report_created_at": "report (created_at)",
    },
    # Covering: the inspectors' statement reads the verify rows from the index alone.
    "covering_verify_index": {
        "bench_case_transition_verify_at": (
            "case_transition (at) INCLUDE (actor_id, details)"
            " WHERE action IN ('verify_pass', 'verify_fail')"
        ),
    },
}
ALL_CANDIDATES = [name for phase in CANDIDATE_INDEXES.values() for name in phase]

PLAN_SQL = """
CREATE UNLOGGED TABLE bench_eval_plan AS
WITH cells AS (SELECT array_agg(id ORDER BY id) AS ids FROM grid_cell)
SELECT i AS id,
       :start + random() * interval '365 days' AS created_at,
       cells.ids[1 + floor(random() * cardinality(cells.ids))::int] AS cell_id,
       floor(random() * :departments)::int AS department_no,
       floor(random() * :inspectors)::int AS inspector_no,
       random() AS r_status, random() AS r_late, random() AS r_extra,
       1 + floor(random() * 4)::int AS limit_days
FROM generate_series(1, :cases) i, cells
"""

# Status by r_status: 5 % not filed, 2 % reported, 2 % cancelled, 1 % filed, 4 % accepted,
# 4 % handled, the rest closed; every 200th case is a duplicate merged into the one before.
CASE_PLAN_SQL = """
CREATE UNLOGGED TABLE bench_eval_case AS
SELECT p.*, s.status,
       CASE WHEN s.status NOT IN ('not_filed', 'reported')
            THEN p.created_at + interval '30 minutes' END AS filed_at,
       CASE WHEN s.status IN ('accepted', 'handled', 'closed')
            THEN p.created_at + interval '1 hour' END AS dispatched_at
FROM bench_eval_plan p,
LATERAL (SELECT CASE
    WHEN p.id % 200 = 0 THEN 'reported'
    WHEN p.r_status < 0.05 THEN 'not_filed' WHEN p.r_status < 0.07 THEN 'reported'
    WHEN p.r_status < 0.09 THEN 'cancelled' WHEN p.r_status < 0.10 THEN 'filed'
    WHEN p.r_status < 0.14 THEN 'accepted' WHEN p.r_status < 0.18 THEN 'handled'
    ELSE 'closed' END AS status) s
"""

TIMES_SQL = """
CREATE UNLOGGED TABLE bench_eval_times AS
SELECT c.*, d.due_at,
       CASE WHEN c.status IN ('handled', 'closed')
            THEN c.dispatched_at + (d.due_at - c.dispatched_at) * (0.2 + c.r_late) END
           AS handled_at
FROM bench_eval_case c,
LATERAL (SELECT c.dispatched_at + c.limit_days * interval '1 day' AS due_at) d
"""

CASES_SQL = """
INSERT INTO event_case (id, number, status, category_id, description, geom, cell_id,
    department_id, reported_by, merged_into_id, rework_count, return_count, created_at,
    updated_at, dispatched_at, due_at, handled_at, closed_at, filed_at)
SELECT t.id, 'EV' || lpad(t.id::text, 10, '0'), t.status, :category_id, 'bench case',
       ST_SetSRID(ST_MakePoint(116.3, 39.8), 4326), t.cell_id,
       CASE WHEN t.dispatched_at IS NOT NULL THEN :first_department + t.department_no END,
       CASE WHEN t.id % 5 <> 0 THEN :first_inspector + t.inspector_no END,
       CASE WHEN t.id % 200 = 0 THEN t.id - 1 END,
       (t.r_extra < 0.05 AND t.handled_at IS NOT NULL)::int, (t.r_extra >= 0.95)::int,
       t.created_at, t.created_at, t.dispatched_at, t.due_at, t.handled_at,
       CASE WHEN t.status = 'closed' THEN t.handled_at + interval '3 hours' END, t.filed_at
FROM bench_eval_times t
"""

ASSIGNMENTS_SQL = """
INSERT INTO case_assignment (case_id, department_id, dispatched_at, limit_hours, due_at,
    handled_at, handling_hours, returned_at, rework_count, postponement_count, ended_at,
    end_reason)
SELECT t.id, :first_department + t.department_no, t.dispatched_at, t.limit_days * 7.5,
       t.due_at, t.handled_at,
       extract(epoch FROM t.handled_at - t.dispatched_at) / 3600 * 0.3,
       NULL, (t.r_extra < 0.05 AND t.handled_at IS NOT NULL)::int,
       (t.r_extra BETWEEN 0.05 AND 0.08)::int,
       CASE WHEN t.status = 'closed' THEN t.handled_at + interval '3 hours' END,
       CASE WHEN t.status = 'closed' THEN 'closed' END
FROM bench_eval_times t WHERE t.dispatched_at IS NOT NULL
UNION ALL
SELECT t.id, :first_department + (t.department_no + 1) % :departments,
       t.dispatched_at - interval '20 minutes', t.limit_days * 7.5, t.due_at, NULL, NULL,
       t.dispatched_at - interval '10 minutes', 0, 0, t.dispatched_at - interval '10 minutes',
       'returned'
FROM bench_eval_times t WHERE t.dispatched_at IS NOT NULL AND t.r_extra >= 0.95
"""

REPORTS_SQL = """
INSERT INTO report (report_uuid, case_id, original_case_id, reporter_id, geom, description,
    created_at)
SELECT gen_random_uuid(), CASE WHEN t.id % 200 = 0 THEN t.id - 1 ELSE t.id END, t.id,
       CASE WHEN t.id % 5 <> 0 THEN :first_inspector + t.inspector_no END,
       ST_SetSRID(ST_MakePoint(116.3, 39.8), 4326), 'bench report', t.created_at
FROM bench_eval_times t
"""

# The verifying inspector is another one than the reporter: (reporter + 7) mod 200. A verify
# row records the handling it verifies and the working hours since (details.handled_at,
# details.verify_working_hours), as dispatch/actions/service.py does; the hours are drawn uniformly
# from 0–8 (computing them here would time the generator, not the evaluation).
TRANSITIONS_SQL = """
INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, details, at)
SELECT t.id, x.action, NULL, x.to_status, x.actor_id,
       CASE WHEN x.verified_handling IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('handled_at', x.verified_handling,
                                    'verify_working_hours', round(random() * 800) / 100) END,
       x.at
FROM bench_eval_times t,
LATERAL (SELECT t.dispatched_at + interval '40 minutes' AS first_handled_at) r,
LATERAL (VALUES
    ('report', 'reported', NULL::int, t.created_at, NULL::timestamptz),
    ('file', 'filed', NULL, t.filed_at, NULL),
    ('dispatch', 'dispatched', NULL, t.dispatched_at, NULL),
    ('accept', 'accepted', NULL, t.dispatched_at + interval '10 minutes', NULL),
    ('handle', 'handled', NULL, CASE WHEN t.r_extra < 0.05 THEN r.first_handled_at END, NULL),
    ('verify_fail', 'rework', :first_inspector + (t.inspector_no + 7) % :inspectors,
        CASE WHEN t.r_extra < 0.05 THEN t.dispatched_at + interval '50 minutes' END,
        r.first_handled_at),
    ('handle', 'handled', NULL, t.handled_at, NULL),
    ('verify_pass', 'closed', :first_inspector + (t.inspector_no + 7) % :inspectors,
        CASE WHEN t.status = 'closed' THEN t.handled_at + interval '3 hours' END, t.handled_at)
) AS x(action, to_status, actor_id, at, verified_handling)
WHERE x.at IS NOT NULL AND (x.action NOT IN ('handle', 'verify_fail') OR t.handled_at IS NOT NULL)
"""


def reset(session: Session) -> tuple[int, int, int]:
    """Empty the case tables, add the bench departments and inspectors; returns the first
    department's id, the first inspector's id, and a category id."""
    # The history is append-only; only the bench database drops its triggers' guard for this.
    session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
    session.execute(text("TRUNCATE event_case, report, case_transition, case_photo CASCADE"))
    session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    session.execute(text("DROP TABLE IF EXISTS bench_eval_plan, bench_eval_case, bench_eval_times"))
    session.execute(text("DELETE FROM department WHERE code LIKE 'EV-%'"))
    session.execute(text("DELETE FROM app_user WHERE username LIKE 'ev-inspector-%'"))
    session.execute(
        text(
            "INSERT INTO department (code, name, kind) SELECT 'EV-' || lpad(n::text, 2, '0'), "
            "'评价部门 ' || n, 'sanitation' FROM generate_series(1, :n) n"
        ),
        {"n": DEPARTMENTS},
    )
    session.execute(
        text(
            "INSERT INTO app_user (username, display_name, password_hash, role) "
            "SELECT 'ev-inspector-' || lpad(n::text, 3, '0'), '监督员 ' || n, 'x', 'inspector' "
            "FROM generate_series(1, :n) n"
        ),
        {"n": INSPECTORS},
    )
    first_department = session.scalar(text("SELECT min(id) FROM department WHERE code LIKE 'EV-%'"))
    first_inspector = session.scalar(
        text("SELECT min(id) FROM app_user WHERE username LIKE 'ev-inspector-%'")
    )
    category_id = session.scalar(text("SELECT min(id) FROM category WHERE level = 'minor'"))
    if category_id is None:
        category_id = session.scalar(
            text(
                "INSERT INTO category (kind, standard, code, level, name_zh, name_en) "
                "VALUES ('event', 'bench', '0101', 'minor', '基准', 'bench') RETURNING id"
            )
        )
    return int(first_department), int(first_inspector), int(category_id)


def generate(session: Session, cases: int) -> dict[str, float]:
    """The cases and everything about them; seconds per step."""
    first_department, first_inspector, category_id = reset(session)
    params = {
        "start": DATA_END - timedelta(days=365),
        "cases": cases,
        "departments": DEPARTMENTS,
        "inspectors": INSPECTORS,
        "first_department": first_department,
        "first_inspector": first_inspector,
        "category_id": category_id,
    }
    seconds: dict[str, float] = {}
    steps = {
        "plan": PLAN_SQL,
        "case_plan": CASE_PLAN_SQL,
        "times": TIMES_SQL,
        "event_case": CASES_SQL,
        "case_assignment": ASSIGNMENTS_SQL,
        "report": REPORTS_SQL,
        "case_transition": TRANSITIONS_SQL,
    }
    for name, sql in steps.items():
        started = time.perf_counter()
        session.execute(text(sql), params)
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {seconds[name]} s", flush=True)
    session.execute(text("SELECT setval('event_case_id_seq', (SELECT max(id) FROM event_case))"))
    session.execute(text("DROP TABLE bench_eval_plan, bench_eval_case, bench_eval_times"))
    session.commit()
    return seconds


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("event_case", "case_assignment", "report", "case_transition", "app_user"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))


def create_indexes(session: Session, indexes: dict[str, str]) -> dict[str, float]:
    """Create the indexes (bench database only); their sizes in MB."""
    sizes: dict[str, float] = {}
    for name, definition in indexes.items():
        session.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}"))
        size = session.scalar(
            text("SELECT pg_relation_size(CAST(:name AS regclass))"), {"name": name}
        )
        sizes[name] = round(int(size or 0) / 1e6, 1)
    session.commit()
    return sizes


def row_counts(session: Session) -> dict[str, int]:
    tables = ("event_case", "case_assignment", "report", "case_transition")
    return {t: int(session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}


def time_evaluations(session: Session, repeat: int) -> dict[str, float]:
    """Median seconds of `evaluate` per kind and period (the last N days of the data)."""
    timings: dict[str, float] = {}
    for kind in KINDS:
        for days in PERIOD_DAYS:
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                result = evaluation_service.evaluate(
                    session,
                    kind,
                    period_from=DATA_END - timedelta(days=days),
                    period_to=DATA_END,
                    now=DATA_END,
                    city_zone=get_settings().city_zone,
                    verification_limit_hours=4.0,
                )
                runs.append(time.perf_counter() - started)
            timings[f"{kind.value}_{days}d"] = round(statistics.median(runs), 3)
            print(
                f"  by={kind.value} {days} d: {timings[f'{kind.value}_{days}d']} s "
                f"({len(result.rows)} rows, score {result.totals['score']})",
                flush=True,
            )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the generated cases")
    args = parser.parse_args()
    url = bench_url()
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    results: dict[str, object] = {"cases": args.cases}
    with Session(engine) as session:
        session.execute(text("DROP INDEX IF EXISTS " + ", ".join(ALL_CANDIDATES)))
        session.commit()
        if not args.skip_generate:
            print("generating:", flush=True)
            results["generate_s"] = generate(session, args.cases)
        vacuum_analyze(engine)
        results["rows"] = row_counts(session)
        print("schema indexes only:", flush=True)
        results["schema_indexes"] = time_evaluations(session, args.repeat)
        for phase, indexes in CANDIDATE_INDEXES.items():
            results[f"{phase}_mb"] = create_indexes(session, indexes)
            vacuum_analyze(engine)
            print(f"adding {phase} ({', '.join(indexes)}):", flush=True)
            results[phase] = time_evaluations(session, args.repeat)
    engine.dispose()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
