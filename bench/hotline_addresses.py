"""Address matcher of the hotline: share located, accuracy, latency, on the demo gazetteer.

    .venv/bin/python bench/hotline_addresses.py [--addresses 5000] [--seed 17] [--small]
                                                [--threshold 0.6] [--out FILE]

Own database `citygrid_bench_places` (or BENCH_DATABASE_URL), made afresh each run: migrated,
the demo grid of Dongcheng (~100 m cells) and the demo gazetteer (~64,000 addresses and points
of interest; `--small`: the first roads only, ~3,000). `--addresses` messy addresses are made
from gazetteer entries drawn at random (grid/places/messy.py: typos, prefixes, reordering,
traditional characters, full-width digits, noise words, Chinese numerals, other spellings),
each labelled with its true cell. Each is matched alone through `match_address` (one statement,
as the hotline intake runs it) and timed; then all of them in batches of 500 through
`match_addresses`. Printed: share located automatically (confidence ≥ threshold), share of the
located in the right cell, the same per variation, latency p50/p99 and matches per second.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from harness import bench_url, ensure_taxonomy
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from citygrid.demo.city import load_demo_grid
from citygrid.demo.places import DEMO_SOURCE, DISTRICT_CODE, demo_place_rows
from citygrid.settings import get_settings
from grid.places.imports import write_places
from grid.places.messy import GazetteerEntry, MessyAddress, messy_addresses
from grid.places.service import match_address, match_addresses

DATABASE = "citygrid_bench_places"
SMALL_ROWS = 3_000


def fresh_database(url: str) -> str:
    """Drop and create the bench database (unless BENCH_DATABASE_URL gave one)."""
    name = make_url(url).database
    if name != DATABASE:
        return url
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return url


def load_gazetteer(url: str, *, small: bool) -> int:
    ensure_taxonomy(url)
    engine = create_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        load_demo_grid(session)
        rows = demo_place_rows()
        if small:
            rows = rows[:SMALL_ROWS] + [row for row in rows if row.kind == "poi"]
        report = write_places(
            session, rows, district_code=DISTRICT_CODE, source=DEMO_SOURCE, outside="skip"
        )
        session.commit()
        print(
            f"gazetteer: {report.added} places ({report.skipped_outside} outside the grid "
            f"skipped) in {time.perf_counter() - started:.1f} s"
        )
        session.execute(text("ANALYZE place"))
        session.commit()
    engine.dispose()
    return report.added


def entries(session: Session) -> list[GazetteerEntry]:
    rows = session.execute(text("SELECT id, cell_id, name FROM place ORDER BY id"))
    return [GazetteerEntry(int(i), cell, name) for i, cell, name in rows]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(url: str, count: int, seed: int, threshold: float) -> list[str]:
    engine = create_engine(url)
    lines: list[str] = []
    with Session(engine) as session:
        messy = messy_addresses(entries(session), count, seed=seed)
        for address in messy[:50]:  # warm the cache and the prepared plan
            match_address(session, address.text, district_code=DISTRICT_CODE, threshold=threshold)
        timings, outcomes = [], []
        started = time.perf_counter()
        for address in messy:
            one = time.perf_counter()
            found = match_address(
                session, address.text, district_code=DISTRICT_CODE, threshold=threshold
            )
            timings.append((time.perf_counter() - one) * 1000)
            outcomes.append((address, found.located.cell_id if found.located else None, found))
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, len(messy), 500):
            batch = messy[start : start + 500]
            match_addresses(
                session, [a.text for a in batch], district_code=DISTRICT_CODE, threshold=threshold
            )
        batch_s = time.perf_counter() - started
        places = session.scalar(text("SELECT count(*) FROM place"))
    engine.dispose()
    lines += summary(outcomes, threshold=threshold, places=int(places or 0))
    lines.append(
        f"latency of one match: p50 {percentile(timings, 0.5):.2f} ms, "
        f"p99 {percentile(timings, 0.99):.2f} ms; {len(messy) / single_s:.0f} matches/s one "
        f"by one on one connection, {len(messy) / batch_s:.0f}/s in batches of 500"
    )
    wrong = [(a, found) for a, cell, found in outcomes if cell is not None and cell != a.cell_id]
    for address, found in wrong[:8]:
        best = found.candidates[0]
        lines.append(
            f"  wrong: {address.text!r} (is {address.standard}) → {best.label} "
            f"({best.confidence:.2f})"
        )
    return lines


def summary(
    outcomes: list[tuple[MessyAddress, int | None, object]], *, threshold: float, places: int
) -> list[str]:
    located = [(a, cell) for a, cell, _ in outcomes if cell is not None]
    right = sum(1 for a, cell in located if cell == a.cell_id)
    lines = [
        f"{len(outcomes)} messy addresses over {places} places, threshold {threshold}: "
        f"located {len(located) / len(outcomes):.1%}, of those in the right cell "
        f"{right / max(len(located), 1):.2%} (target ≥ 90 % located, ≥ 98 % right)"
    ]
    per_total: Counter[str] = Counter()
    per_located: Counter[str] = Counter()
    per_right: Counter[str] = Counter()
    for address, cell, _ in outcomes:
        for variation in address.variations:
            per_total[variation] += 1
            if cell is not None:
                per_located[variation] += 1
                per_right[variation] += cell == address.cell_id
    for variation in sorted(per_total):
        total, hit = per_total[variation], per_located[variation]
        lines.append(
            f"  {variation:12} {total:5} addresses: located {hit / total:.1%}, "
            f"right {per_right[variation] / max(hit, 1):.2%}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--small", action="store_true", help="a ~3,000-place gazetteer, 300 addresses"
    )
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here")
    options = parser.parse_args()
    count = 300 if options.small else options.addresses
    threshold = options.threshold
    if threshold is None:
        threshold = get_settings().address_match_threshold
    url = fresh_database(bench_url(DATABASE))
    load_gazetteer(url, small=options.small)
    lines = measure(url, count, options.seed, threshold)
    print("\n".join(lines))
    if options.out:
        options.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
