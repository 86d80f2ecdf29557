"""Hotline rates benchmark: the three rates (响应率·解决率·满意率) over 1,000,000 tickets.

    flock /tmp/citygrid-heavy.lock .venv/bin/python bench/hotline_rates.py \
        [--cells 20000] [--tickets 1000000] [--repeat 3]

In its own database `citygrid_bench_hotline` (BENCH_DATABASE_URL overrides; a grid of --cells
100 m cells is generated once and kept) it replaces the hotline tickets and callbacks with
generated ones, set-based (generate_series, a fixed seed): --tickets tickets received over the
year before 2026-12-01 in random cells, 60 lead units; 30 % consultations and praise (not
counted), 1.5 % unreasonable; first contact in time for ~85 %; ~92 % replied and called back
(5 % never reached: three tries), 8 % reworked and called back again. Then VACUUM ANALYZE and
`dispatch.hotline_rates.service.ranking` — the statement behind GET /api/hotline/rates plus the
rates, score and ranking — is timed for November 2026 and for the whole year at each level
(unit, street, community, district): the counts alone, and the API's whole answer for the
month (its six months of trend included). The best of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from harness import bench_url, ensure_grid
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from dispatch.hotline_rates import service
from dispatch.hotline_rates.rates import RankingLevel, Weights

DATA_END = datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
MONTH = date(2026, 11, 1)
UNITS = 60
ZONE = ZoneInfo("Asia/Shanghai")

MONTH_COUNT_SQL = "SELECT count(*) FROM hotline_ticket WHERE received_at >= :a AND received_at < :b"
UNITS_SQL = """
INSERT INTO department (code, name, kind)
SELECT 'BENCH-HL-' || lpad(i::text, 3, '0'), '热线承办单位' || i, 'street_office'
FROM generate_series(1, :units) AS i
ON CONFLICT (code) DO NOTHING
"""
TICKETS_SQL = """
INSERT INTO hotline_ticket (
    ticket_number, received_at, ticket_type, urgency_class, content, location_status, cell_id,
    status, lead_department_id, first_contact_due_at, first_contacted_at, replied_at,
    closed_at, unreasonable)
SELECT 'BENCH-' || i, received_at, ticket_type, 'general', '路灯不亮',
       CASE WHEN no_work THEN 'not_needed' ELSE 'located' END,
       CASE WHEN no_work THEN NULL
            ELSE cells.ids[1 + floor(random() * cardinality(cells.ids))::int] END,
       CASE WHEN no_work THEN 'recorded' ELSE 'closed' END,
       CASE WHEN no_work THEN NULL
            ELSE units.ids[1 + floor(random() * cardinality(units.ids))::int] END,
       CASE WHEN no_work THEN NULL ELSE received_at + interval '25 hours' END,
       CASE WHEN no_work THEN NULL
            ELSE received_at + make_interval(hours => CASE WHEN random() < 0.85 THEN 3 ELSE 40 END)
       END,
       CASE WHEN no_work THEN NULL ELSE received_at + interval '3 days' END,
       CASE WHEN no_work THEN NULL ELSE received_at + interval '4 days' END,
       NOT no_work AND random() < 0.015
FROM (
    SELECT i, :end - make_interval(secs => random() * 365 * 86400) AS received_at,
           t.ticket_type, t.ticket_type IN ('consultation', 'praise') AS no_work
    FROM generate_series(1, :tickets) AS i
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r < 0.28 THEN 'consultation' WHEN r < 0.30 THEN 'praise'
                    WHEN r < 0.55 THEN 'help' WHEN r < 0.85 THEN 'complaint'
                    WHEN r < 0.92 THEN 'report' ELSE 'suggestion' END AS ticket_type
        FROM (SELECT random() + i * 0 AS r) draw
    ) t
) plan
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM grid_cell) cells
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM department
            WHERE code LIKE 'BENCH-HL-%') units
"""
CALLBACKS_SQL = """
INSERT INTO hotline_callback (ticket_id, round, attempt, at, reached, solved, satisfaction,
                              gave_up)
SELECT t.id, tries.round, tries.attempt, t.replied_at + make_interval(hours => 2 + tries.k),
       tries.reached, tries.solved, tries.satisfaction, tries.gave_up
FROM hotline_ticket t
CROSS JOIN LATERAL (SELECT random() + t.id * 0 AS r, random() + t.id * 0 AS s) draw
CROSS JOIN LATERAL (
    SELECT 1 AS round, a AS attempt, a AS k, false AS reached, NULL AS solved,
           NULL AS satisfaction, a = 3 AS gave_up
    FROM generate_series(1, 3) AS a WHERE draw.r < 0.05
    UNION ALL
    SELECT 1, 1, 1, true, CASE WHEN draw.r < 0.13 THEN 'not_solved'
                              WHEN draw.r < 0.25 THEN 'partly' ELSE 'solved' END,
           CASE WHEN draw.s < 0.80 THEN 'satisfied' WHEN draw.s < 0.92 THEN 'fair'
                ELSE 'unsatisfied' END, false
    WHERE draw.r >= 0.05
    UNION ALL
    SELECT 2, 1, 30, true, 'solved', 'satisfied', false WHERE draw.r >= 0.05 AND draw.r < 0.13
) tries
WHERE t.replied_at IS NOT NULL AND t.ticket_number LIKE 'BENCH-%'
"""


def generate(session: Session, tickets: int) -> dict[str, float]:
    """Replaces the tickets and callbacks; seconds per step."""
    timings: dict[str, float] = {}
    session.execute(text("TRUNCATE hotline_callback, hotline_ticket CASCADE"))
    session.execute(text(UNITS_SQL), {"units": UNITS})
    session.execute(text("SELECT setseed(0.2026)"))
    for name, sql in (("tickets", TICKETS_SQL), ("callbacks", CALLBACKS_SQL)):
        started = time.perf_counter()
        session.execute(text(sql), {"tickets": tickets, "end": DATA_END})
        timings[f"{name}_s"] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {timings[f'{name}_s']} s", flush=True)
    session.commit()
    return timings


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE hotline_ticket, hotline_callback"))


def best_of(repeat: int, run: object) -> float:
    assert callable(run)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(min(times), 3)


def time_rates(session: Session, repeat: int) -> dict[str, float]:
    """Seconds per level: one month's counts, the year's, and the month with its trend."""
    now = datetime.now(UTC)
    month = service.month_period(MONTH, ZONE)
    year = service.Period(service.month_period(date(2025, 12, 1), ZONE).start, month.end)
    trend = service.months_back(MONTH, 6)
    timings: dict[str, float] = {}
    for level in RankingLevel:
        for name, period, months in (("month", month, None), ("year", year, None),
                                     ("month_with_trend", month, trend)):  # fmt: skip

            def run(
                level: RankingLevel = level,
                period: service.Period = period,
                months: list[date] | None = months,
            ) -> None:
                service.ranking(
                    session, level, period, now=now, zone=ZONE, weights=Weights(),
                    trend_months=months,
                )  # fmt: skip

            timings[f"{level.value}_{name}_s"] = best_of(repeat, run)
            print(f"  {level.value} {name}: {timings[f'{level.value}_{name}_s']} s", flush=True)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the tickets")
    args = parser.parse_args()
    url = bench_url("citygrid_bench_hotline")
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    results: dict[str, object] = {"tickets": args.tickets}
    with Session(engine) as session:
        if not args.skip_generate:
            print("generating:", flush=True)
            results["generate"] = generate(session, args.tickets)
        vacuum_analyze(engine)
        results["rows"] = {
            table: session.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("hotline_ticket", "hotline_callback")
        }
        results["month_tickets"] = session.scalar(
            text(MONTH_COUNT_SQL),
            {"a": service.month_period(MONTH, ZONE).start, "b": DATA_END},
        )
        print("timing:", flush=True)
        results["timings"] = time_rates(session, args.repeat)
    engine.dispose()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
