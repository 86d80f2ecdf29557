"""Intake benchmark: concurrent clients posting reports against the running app.

    .venv/bin/python bench/intake.py [--seconds 20] [--connections 8,32] [--workers 2]

On the 100,000-cell bench grid (see bench/locate.py, which builds it), `wrk` posts JSON reports
(no photos) with a fresh report UUID each, at random points of the city, as an inspector. A Lua
`response` hook counts the answers by status. Afterwards the number of cases stored during the
run must cover every 201 answer: at most the requests still in flight when wrk stopped (whose
answers it never reads; at most one per connection) may be stored without an answer counted.
Then a Python client (a correctness check, not a load test) sends reports from many threads,
each sent twice with the same UUID, some of the second sends racing the first: every report
answered 201 or 200 must be stored exactly once under the case id it was given, and the number
of new cases must equal the number of distinct UUIDs exactly.
"""

from __future__ import annotations

import argparse
import json
import re

from harness import (
    bench_city,
    bench_url,
    ensure_grid,
    have_wrk,
    parse_wrk,
    run_wrk,
    start_server,
    stop_server,
    token,
)
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from citygrid.accounts.passwords import hash_password
from citygrid.accounts.roles import Role
from events.categories.service import load_taxonomy
from events.taxonomy import read_taxonomy

WRK_SCRIPT = """
local min_x, min_y, max_x, max_y = %f, %f, %f, %f
local category = "%s"
local threads = {}
counts = {}  -- global: done() reads each thread's copy
local hex = "0123456789abcdef"

local function uuid4()
  local out = {}
  for i = 1, 32 do
    local n = math.random(1, 16)
    if i == 13 then n = 5 end          -- version 4
    if i == 17 then n = 9 + (n %% 4) end -- variant 10xx
    out[i] = hex:sub(n, n)
  end
  local s = table.concat(out)
  return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" ..
         s:sub(17, 20) .. "-" .. s:sub(21, 32)
end

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  wrk.headers["Content-Type"] = "application/json"  -- beside the -H Authorization header
end

request = function()
  local lon = min_x + math.random() * (max_x - min_x)
  local lat = min_y + math.random() * (max_y - min_y)
  local body = string.format(
    '{"report_uuid":"%%s","category_code":"%%s","kind":"event","lon":%%.6f,"lat":%%.6f,' ..
    '"description":"bench report: garbage by the road"}', uuid4(), category, lon, lat)
  return wrk.format("POST", "/api/reports", nil, body)
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      io.write(string.format("status %%d: %%d\\n", status, n))
    end
  end
end
"""


def prepare(url: str) -> tuple[int, str]:
    """An inspector to report as, and a category code to report under."""
    engine = create_engine(url)
    with Session(engine) as session:
        user_id = session.scalar(text("SELECT id FROM app_user WHERE username = 'bench-inspector'"))
        if user_id is None:
            user_id = session.scalar(
                text(
                    "INSERT INTO app_user (username, display_name, password_hash, role) "
                    "VALUES ('bench-inspector', 'bench', :hash, 'inspector') RETURNING id"
                ),
                {"hash": hash_password("bench-password")},
            )
        load_taxonomy(session, read_taxonomy())
        code = session.scalar(
            text(
                "SELECT code FROM category WHERE kind = 'event' AND level = 'minor' "
                "AND retired_at IS NULL ORDER BY code LIMIT 1"
            )
        )
        if code is None:
            raise SystemExit(
                "no event category: run `citygrid taxonomy load` on the bench database"
            )
        session.commit()
    engine.dispose()
    return int(user_id), code


def count_cases(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = int(connection.scalar(text("SELECT count(*) FROM event_case")) or 0)
    engine.dispose()
    return count


def settled_count(url: str) -> int:
    """The case count once requests still in flight at the server have finished."""
    import time

    count = count_cases(url)
    while True:
        time.sleep(0.5)
        again = count_cases(url)
        if again == count:
            return count
        count = again


def run(
    port: int, url: str, script: str, seconds: int, connections: int, auth: str
) -> dict[str, object]:
    before = settled_count(url)
    output = run_wrk(port, script, seconds, connections, auth)
    after = settled_count(url)
    statuses = {int(code): int(n) for code, n in re.findall(r"status (\d+): (\d+)", output)}
    figures: dict[str, object] = dict(parse_wrk(output))
    figures.update(
        statuses={str(k): v for k, v in sorted(statuses.items())},
        stored=after - before,
        answered_201=statuses.get(201, 0),
    )
    in_flight = int(figures["stored"]) - int(figures["answered_201"])  # type: ignore[call-overload]
    figures["nothing_lost"] = 0 <= in_flight <= connections
    return figures


def correctness(
    port: int, url: str, auth: str, category_code: str, *, reports: int, cells: int
) -> dict[str, object]:
    """Send every report twice (half of the pairs at the same time); check exactly-once storage."""
    import random
    import threading
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    min_x, min_y, max_x, max_y = bench_city(cells).bounds
    uuids = [str(uuid.uuid4()) for _ in range(reports)]
    answers: dict[str, set[int]] = {u: set() for u in uuids}
    lock = threading.Lock()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {auth}"},
        timeout=30,
        limits=httpx.Limits(max_connections=32),
    )

    def send(report_uuid: str) -> None:
        body = {
            "report_uuid": report_uuid,
            "category_code": category_code,
            "kind": "event",
            "lon": random.uniform(min_x, max_x),
            "lat": random.uniform(min_y, max_y),
            "description": "correctness check",
        }
        response = client.post("/api/reports", json=body)
        assert response.status_code in (200, 201), response.text
        with lock:
            answers[report_uuid].add(response.json()["case_id"])

    before = settled_count(url)
    sends = [u for u in uuids for _ in range(2)]
    random.shuffle(sends)  # a UUID's two sends are often in flight together
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(send, sends))
    client.close()
    one_case_each = all(len(ids) == 1 for ids in answers.values())
    engine = create_engine(url)
    with engine.connect() as connection:
        stored: dict[str, int] = dict(
            connection.execute(
                text("SELECT report_uuid::text, case_id FROM report WHERE report_uuid = ANY(:u)"),
                {"u": uuids},
            ).all()
        )
    engine.dispose()
    matches = all(stored.get(u) == next(iter(ids)) for u, ids in answers.items() if ids)
    return {
        "reports": reports,
        "sends": len(sends),
        "new_cases": count_cases(url) - before,
        "one_case_per_uuid": one_case_each,
        "stored_under_answered_case": matches,
        "exact": one_case_each and matches and count_cases(url) - before == reports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18766)
    parser.add_argument(
        "--check-reports", type=int, default=2_000, help="reports sent twice by the check"
    )
    args = parser.parse_args()
    url = bench_url()
    ensure_grid(url, args.cells)
    user_id, category_code = prepare(url)
    auth = token(user_id, Role.INSPECTOR)
    script = WRK_SCRIPT % (*bench_city(args.cells).bounds, category_code)
    results: dict[str, object] = {"cells": args.cells}
    server = start_server(url, args.workers, args.port)
    try:
        if have_wrk():
            run(args.port, url, script, 3, 8, auth)  # warm-up: pools, prepared statements
            for connections in args.connections.split(","):
                results[f"c{connections}"] = run(
                    args.port, url, script, args.seconds, int(connections), auth
                )
        results["correctness"] = correctness(
            args.port, url, auth, category_code, reports=args.check_reports, cells=args.cells
        )
    finally:
        stop_server(server)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
