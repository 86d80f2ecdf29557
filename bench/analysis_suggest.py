"""Category suggestion benchmark: training on 500,000 cases, and what a suggestion adds to intake.

    .venv/bin/python bench/analysis_suggest.py [--cases 500000] [--requests 2000] [--tiny]
        [--output /tmp/s16/bench_suggest.md]

In its own database `citygrid_bench_suggest` (the taxonomy and a small grid) it replaces the
cases with `--cases` closed ones whose descriptions come from events.suggestions.corpus (several
templates per category, synonyms, typing noise, words of other categories) over the shipped
taxonomy's categories (one per distinct Chinese name), reported a minute apart; 5 % of them
were returned (not learnt from). Then:

- train: `events.suggestions.service.train` as `citygrid suggestions train` runs it — read the
  cases, tokenise (jieba + character bigrams), fit on the earlier 80 %, measure top-1/top-3 on
  the latest 20 %, fit again on all, store the version; the target is under 120 s for 500,000;
- suggest: the model read back from the database; `Model.suggest` on 2,000 held-out texts
  (p50, p99, max), the call intake makes;
- intake: a server (one worker) answering POST /api/reports one request at a time, four runs
  of `--requests` / 2 reports alternating no version enabled / the trained version enabled (a
  fresh server per run, its first requests discarded as warm-up), reports on a lattice of
  points away from the history: p50/p99 without and with, and the difference; the target is
  under 5 ms added at p99.

Heavy: run it under `flock /tmp/citygrid-heavy.lock`. Figures go to stdout as JSON and, with
--output, as a markdown section.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from harness import ROOT, SOUTH, WEST, bench_url, ensure_grid, start_server, stop_server, token
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.suggestions import classifier, corpus, service
from events.suggestions.models import SuggestionModel

RETURNED_SHARE = 0.05
# The history sits at one point of the first cell; reports are filed away from it, on a lattice
# of points 25 m apart, so that the duplicate and recurrence look-ups of intake do not wade
# through the whole history or pile up at one place.
LATTICE_STEP = 0.00025


def report_point(i: int) -> tuple[float, float]:
    return WEST + 0.002 + (i % 30) * LATTICE_STEP, SOUTH + 0.002 + (i // 30 % 20) * LATTICE_STEP


BATCH = 50_000
WARM_UP = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def categories_of(session: Session) -> list[corpus.CorpusCategory]:
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (name_zh) id, kind, name_zh FROM category "
            "WHERE level = 'minor' AND retired_at IS NULL ORDER BY name_zh, id"
        )
    ).all()
    return [corpus.CorpusCategory(row.id, row.kind, row.name_zh) for row in rows]


def generate(session: Session, cases: int) -> float:
    """Replace the cases with `cases` closed ones of generated descriptions; seconds taken."""
    started = time.perf_counter()
    session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
    session.execute(
        text(
            "TRUNCATE category_correction, category_suggestion, suggestion_model, "
            "case_transition, report, event_case CASCADE"
        )
    )
    session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
    cell_id = session.scalar(text("SELECT min(id) FROM grid_cell"))
    pairs = corpus.descriptions(categories_of(session), cases, seed=2026)
    rng = np.random.default_rng(7)
    done = 0
    while done < cases:
        batch = [next(pairs) for _ in range(min(BATCH, cases - done))]
        session.execute(
            text(
                """
                INSERT INTO event_case (number, status, category_id, description, geom, cell_id,
                                        created_at, updated_at, closed_at, return_count)
                SELECT 'SG' || lpad((:offset + n)::text, 10, '0'), 'closed', r.category_id,
                       r.description, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :cell,
                       timestamptz '2025-01-01' + (:offset + n) * interval '1 minute',
                       timestamptz '2025-01-01' + (:offset + n) * interval '1 minute',
                       timestamptz '2025-01-02' + (:offset + n) * interval '1 minute',
                       r.returned
                FROM unnest(CAST(:descriptions AS text[]), CAST(:categories AS int[]),
                            CAST(:returned AS int[])) WITH ORDINALITY
                     AS r(description, category_id, returned, n)
                """
            ),
            {
                "offset": done,
                "descriptions": [pair[0] for pair in batch],
                "categories": [pair[1] for pair in batch],
                "returned": (rng.random(len(batch)) < RETURNED_SHARE).astype(int).tolist(),
                "lon": WEST + 0.0003,
                "lat": SOUTH + 0.0003,
                "cell": cell_id,
            },
        )
        done += len(batch)
        print(f"  {done} cases", flush=True)
    session.commit()
    return time.perf_counter() - started


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE event_case"))


def time_suggestions(session: Session, version_id: int, count: int) -> dict[str, float]:
    data = session.scalar(select_model(version_id))
    assert data is not None
    model = classifier.Model.from_bytes(bytes(data))
    texts = session.scalars(
        text("SELECT description FROM event_case ORDER BY created_at DESC LIMIT :n"),
        {"n": count},
    ).all()
    model.suggest(texts[0])  # jieba's dictionary
    times = []
    for description in texts:
        started = time.perf_counter()
        model.suggest(description)
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return {
        "texts": len(texts),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def select_model(version_id: int) -> Any:
    return text("SELECT model FROM suggestion_model WHERE id = :id").bindparams(id=version_id)


def set_enabled(engine: Engine, version_id: int, enabled: bool) -> None:
    with Session(engine) as session:
        session.execute(
            text("UPDATE suggestion_model SET enabled = (id = :id) AND :enabled"),
            {"id": version_id, "enabled": enabled},
        )
        session.commit()


def inspector_id(engine: Engine) -> int:
    with Session(engine) as session:
        found = session.scalar(text("SELECT id FROM app_user WHERE username = 'bench-suggest'"))
        if found is None:
            found = session.scalar(
                text(
                    "INSERT INTO app_user (username, display_name, password_hash, role) "
                    "VALUES ('bench-suggest', 'bench', 'x', 'inspector') RETURNING id"
                )
            )
        session.commit()
        return int(found)


def intake_latencies(
    url: str, user_id: int, texts: list[tuple[str, int]], requests: int, offset: int
) -> tuple[list[float], int]:
    """Per-request latencies (ms) of sequential reports against a fresh one-worker server, and
    how many answers carried suggestions."""
    port = free_port()
    # The server imports every package from the project (as `citygrid serve` from its root does).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    server = start_server(url, workers=1, port=port)
    auth = {"Authorization": f"Bearer {token(user_id, Role.INSPECTOR)}"}
    latencies, suggested = [], 0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as http:
            for i in range(requests + WARM_UP):
                description, category_id = texts[i % len(texts)]
                lon, lat = report_point(offset + i)
                body = {
                    "report_uuid": str(uuid.uuid4()),
                    "category_id": category_id,
                    "description": description,
                    "lon": lon,
                    "lat": lat,
                }
                started = time.perf_counter()
                answer = http.post("/api/reports", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 201:
                    raise SystemExit(f"intake answered {answer.status_code}: {answer.text}")
                if i >= WARM_UP:
                    latencies.append(elapsed)
                    suggested += bool(answer.json()["suggested_categories"])
    finally:
        stop_server(server)
    return latencies, suggested


def summary(latencies: list[float]) -> dict[str, float]:
    ms = np.array(latencies)
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def markdown(results: dict[str, Any]) -> str:
    train, suggest, intake = results["train"], results["suggest"], results["intake"]
    off, on = intake["without_model"], intake["with_model"]
    rows = [
        (
            "training (`citygrid suggestions train`: read, tokenise, fit twice, store)",
            f"{train['seconds']:.1f} s for {train['cases']:,} cases",
            f"< {train['target_s']:.0f} s",
        ),
        (
            f"held-out accuracy (latest 20 %, {train['held_out']:,} cases)",
            f"top-1 {train['top1']:.1%}, top-3 {train['top3']:.1%}",
            "top-3 ≥ 95 %",
        ),
        ("model size", f"{train['size_bytes'] / 1e6:.1f} MB", ""),
        (
            f"`Model.suggest` per text ({suggest['texts']} texts)",
            f"p50 {suggest['p50_ms']} ms, p99 {suggest['p99_ms']} ms, max {suggest['max_ms']} ms",
            "",
        ),
        (
            f"intake, no model ({off['requests']} sequential requests)",
            f"p50 {off['p50_ms']} ms, p99 {off['p99_ms']} ms",
            "",
        ),
        (
            f"intake, model enabled ({on['requests']} requests, {on['suggested']} suggested)",
            f"p50 {on['p50_ms']} ms, p99 {on['p99_ms']} ms",
            "",
        ),
        (
            "added by the suggestion",
            f"p50 {intake['added_p50_ms']:+.2f} ms, p99 {intake['added_p99_ms']:+.2f} ms "
            f"(p99 ratio {intake['p99_ratio']:.2f})",
            "< 5 ms at p99",
        ),
    ]
    rows += [
        (
            f"  run {i + 1}: {'with' if run['model'] else 'without'} the model",
            f"p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms",
            "",
        )
        for i, run in enumerate(intake["runs"])
    ]
    table = "\n".join(f"| {step} | {figure} | {target} |" for step, figure, target in rows)
    return (
        "### Category suggestions (bench/analysis_suggest.py)\n\n"
        f"{results['cases']:,} generated closed cases ({results['categories']} categories, "
        "several templates each with synonyms and typing noise; 5 % returned and so not learnt "
        "from), one run:\n\n| step | figure | target |\n|---|---|---|\n" + table + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--tiny", action="store_true", help="2,000 cases, 50 requests")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the generated cases")
    parser.add_argument("--output", type=Path, help="write the figures as markdown here")
    args = parser.parse_args()
    if args.tiny:
        args.cases, args.requests = 2_000, 50
    url = bench_url("citygrid_bench_suggest")
    ensure_grid(url, args.cells)
    engine = create_engine(url)
    results: dict[str, Any] = {"cases": args.cases}
    with Session(engine) as session:
        results["categories"] = len(categories_of(session))
        if not args.skip_generate:
            print("generating:", flush=True)
            results["generate_s"] = round(generate(session, args.cases), 1)
            vacuum_analyze(engine)
        print("training:", flush=True)
        started = time.perf_counter()
        outcome = service.train(session, floor=0.0)
        session.commit()
        seconds = time.perf_counter() - started
        version: SuggestionModel = outcome.version
        results["train"] = {
            "seconds": round(seconds, 2),
            "cases": version.cases,
            "held_out": version.held_out,
            "top1": version.top1,
            "top3": version.top3,
            "size_bytes": version.size_bytes,
            "target_s": 120.0 * args.cases / 500_000,
        }
        print(f"  {results['train']}", flush=True)
        results["suggest"] = time_suggestions(session, version.id, 2_000)
        print(f"suggest: {results['suggest']}", flush=True)
        texts = [
            (row.description, row.category_id)
            for row in session.execute(
                text(
                    "SELECT description, category_id FROM event_case "
                    "ORDER BY created_at DESC LIMIT 500"
                )
            )
        ]
    user_id = inspector_id(engine)
    # Without and with the model in alternation (each run a fresh server), so that drift of the
    # machine or of the growing case table does not favour either.
    off: list[float] = []
    on: list[float] = []
    off_suggested = on_suggested = 0
    half = max(args.requests // 2, 1)
    runs: list[dict[str, Any]] = []
    for run, enabled in enumerate((False, True, False, True)):
        set_enabled(engine, version.id, enabled)
        latencies, suggested = intake_latencies(url, user_id, texts, half, run * 7)
        runs.append({"model": enabled, **summary(latencies)})
        print(f"intake {'with' if enabled else 'without'} the model: {summary(latencies)}")
        if enabled:
            on += latencies
            on_suggested += suggested
        else:
            off += latencies
            off_suggested += suggested
    engine.dispose()
    off_summary, on_summary = summary(off), summary(on)
    results["intake"] = {
        "without_model": {**off_summary, "requests": len(off), "suggested": off_suggested},
        "with_model": {**on_summary, "requests": len(on), "suggested": on_suggested},
        "added_p50_ms": round(on_summary["p50_ms"] - off_summary["p50_ms"], 2),
        "added_p99_ms": round(on_summary["p99_ms"] - off_summary["p99_ms"], 2),
        "p99_ratio": round(on_summary["p99_ms"] / off_summary["p99_ms"], 3),
        "runs": runs,
    }
    print(json.dumps(results), flush=True)
    if args.output:
        args.output.write_text(markdown(results))
    if on_suggested != len(on) or off_suggested:
        raise SystemExit("suggestions missing with the model, or present without it")


if __name__ == "__main__":
    main()
