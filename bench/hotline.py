"""Hotline ticket intake benchmark: 8 concurrent senders replaying tickets, address matching on.

    .venv/bin/python bench/hotline.py [--tickets 100000] [--connections 8] [--workers 2]

On the bench grid (bench/locate.py's city, about 100,000 cells of 100 m) the script lays out a
gazetteer of its own (roads named like Beijing's, houses numbered along both sides, every fifth
number a compound with buildings; written through grid.places' import) and makes messy
addresses of it (grid.places.messy: typos, prefixes, reordering, traditional characters…).
`wrk` then posts JSON tickets with fresh ticket numbers from `--connections` connections until
`--tickets` answers have come back: 80 % address only (the matcher must locate them), 10 % with
coordinates, 10 % consultations or praise (recorded, no case). Then:

- tickets/s: the tickets stored during the run over the span of their created_at (the server's
  own clock: wrk keeps its connections open until its duration ends, so its rate is not used);
  p50/p99 latency from wrk;
- zero lost: the stored tickets cover every 201 answer (at most the requests in flight when the
  Lua script stopped, one per connection, are stored without an answer counted);
- zero doubled: the same numbers are sent again (`--replay` of them): every answer is 200, no
  new ticket, no new case; every filed ticket has exactly one case and one report;
- the share located automatically among the address-only tickets.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
import uuid

from harness import (
    bench_city,
    bench_url,
    ensure_grid,
    have_wrk,
    parse_wrk,
    start_server,
    stop_server,
)
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from events.hotline.keys import KEY_HEADER, issue_source
from grid.places.imports import PlaceRow, write_places
from grid.places.messy import GazetteerEntry, messy_addresses

DISTRICT_CODE = "110199"  # the bench grid's district (bench/harness.py ensure_grid)
SOURCE = "bench-hotline"
# A database of its own (BENCH_DATABASE_URL overrides it, as for every bench).
DATABASE = "citygrid_bench_hotline_intake"
ROAD_WORDS = tuple(
    "安定和平永定朝阳建国光华东风长安复兴崇文宣武德胜安华西坝太平广渠龙潭天坛东直北新交道鼓楼"
    "地安景山沙滩五四美术灯市王府金鱼东四朝内南锣菊儿帽儿雨儿福祥蓑衣板厂前圆后圆花园兵马北兵"
    "南兵新太广福海运禄米演乐本司"[i : i + 2]
    for i in range(0, 102, 2)
)
ROAD_SUFFIXES = ("路", "大街", "胡同", "街")
SPACING_M = 40.0  # one house number per 40 m on each side of a road
CONTENT = (
    "小区门口垃圾堆放多日无人清理",
    "路灯不亮已经一周",
    "井盖破损有安全隐患",
    "楼道堆物占用消防通道",
    "路面塌陷请尽快修复",
    "施工噪音扰民至深夜",
)

WRK_SCRIPT = """
local bodies = {%(bodies)s}
local prefix = "%(prefix)s"
local limit = %(limit)d
local sent, answered = 0, 0
local threads = {}
counts = {}

setup = function(thread) table.insert(threads, thread) end

init = function(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["%(header)s"] = "%(key)s"
end

request = function()
  sent = sent + 1
  local body = bodies[(sent %% #bodies) + 1]
  body = string.gsub(body, "@NUMBER@", string.format("%%s-%%07d", prefix, sent))
  return wrk.format("POST", "/api/hotline/tickets", nil, body)
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end

done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      io.write(string.format("status %%d: %%d\\n", status, n))
    end
  end
end
"""


def road_names(count: int) -> list[str]:
    rng = random.Random(7)
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(ROAD_WORDS) + rng.choice(ROAD_WORDS) + rng.choice(ROAD_SUFFIXES)
        if name not in names:
            names.append(name)
    return names


def gazetteer_rows(cells: int, roads: int) -> list[PlaceRow]:
    """Houses along `roads` roads across the bench city, half east-west, half north-south."""
    west, south, east, north = bench_city(cells).bounds
    metres_lat = 111_320.0
    metres_lon = metres_lat * 0.766  # cos(40°)
    rows: list[PlaceRow] = []
    names = road_names(roads)
    for index, name in enumerate(names):
        along_lon = index % 2 == 0
        share = (index // 2 + 0.5) / ((roads + 1) // 2)
        length_m = (east - west) * metres_lon if along_lon else (north - south) * metres_lat
        for number in range(1, int(length_m / SPACING_M)):
            offset = number * SPACING_M / (metres_lon if along_lon else metres_lat)
            side = 12.0 * (1 if number % 2 else -1)
            if along_lon:
                lon = west + offset
                lat = south + share * (north - south) + side / metres_lat
            else:
                lon = west + share * (east - west) + side / metres_lon
                lat = south + offset
            rows.append(PlaceRow(len(rows), f"{name}{number}号", "address", lon, lat))
            if number % 5 == 0:
                for building in (1, 2, 3):
                    rows.append(
                        PlaceRow(
                            len(rows),
                            f"{name}{number}号院{building}号楼",
                            "address",
                            lon + building * 15.0 / metres_lon,
                            lat,
                        )
                    )
    return rows


def prepare(url: str, cells: int, roads: int) -> tuple[str, list[GazetteerEntry]]:
    """A hotline key, and the bench gazetteer (written once per database)."""
    engine = create_engine(url)
    with Session(engine) as session:
        have = session.scalar(text("SELECT count(*) FROM place WHERE source = :s"), {"s": SOURCE})
        if not have:
            started = time.perf_counter()
            report = write_places(
                session,
                gazetteer_rows(cells, roads),
                district_code=DISTRICT_CODE,
                source=SOURCE,
                outside="skip",
            )
            session.commit()
            print(f"gazetteer: {report.added} places in {time.perf_counter() - started:.1f} s")
        secret = issue_source(session, name=f"bench {uuid.uuid4().hex[:6]}").secret
        session.commit()
        entries = [
            GazetteerEntry(int(row.id), row.cell_id, row.name)
            for row in session.execute(
                text("SELECT id, cell_id, name FROM place WHERE source = :s ORDER BY id"),
                {"s": SOURCE},
            )
        ]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE place"))
    engine.dispose()
    return secret, entries


def ticket_bodies(entries: list[GazetteerEntry], cells: int, count: int) -> list[str]:
    """JSON bodies with @NUMBER@ where the ticket number goes."""
    rng = random.Random(11)
    messy = messy_addresses(entries, count, seed=13)
    west, south, east, north = bench_city(cells).bounds
    bodies = []
    for index in range(count):
        body: dict[str, object] = {
            "ticket_number": "@NUMBER@",
            "received_at": "2026-12-06T09:00:00+08:00",
            "ticket_type": "complaint",
            "urgency_class": rng.choice(("general", "general", "general", "utilities")),
            "content": rng.choice(CONTENT),
            "caller_name": "张先生",
            "caller_phone": f"138{rng.randrange(10**8):08d}",
            "address_text": messy[index].text,
        }
        roll = index % 10
        if roll == 8:  # coordinates too
            body["lon"] = rng.uniform(west, east)
            body["lat"] = rng.uniform(south, north)
        elif roll == 9:
            body["ticket_type"] = rng.choice(("consultation", "praise"))
        bodies.append(json.dumps(body, ensure_ascii=False))
    return bodies


def lua_string(text_value: str) -> str:
    return '"' + text_value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_run(
    port: int,
    bodies: list[str],
    prefix: str,
    limit: int,
    connections: int,
    key: str,
    *,
    stop_when_stored: str | None = None,
) -> str:
    """wrk's output once `limit` answers came back. wrk runs for its duration whatever the
    script does, so with `stop_when_stored` (the database URL) it is interrupted (SIGINT: it
    then reports) as soon as `limit` tickets of the prefix are stored; otherwise its duration
    is sized for the replays (fast: nothing is written)."""
    import signal
    import subprocess
    import tempfile

    script = WRK_SCRIPT % {
        "bodies": ",".join(lua_string(body) for body in bodies),
        "prefix": prefix,
        "limit": limit,
        "header": KEY_HEADER,
        "key": key,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script_file:
        script_file.write(script)
    seconds = int(limit / 20) + 60 if stop_when_stored else int(limit / 150) + 15
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-s", script_file.name, f"http://127.0.0.1:{port}"]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if stop_when_stored:
        engine = create_engine(stop_when_stored)
        count = text("SELECT count(*) FROM hotline_ticket WHERE ticket_number LIKE :p")
        while wrk.poll() is None:
            time.sleep(0.5)
            with engine.connect() as connection:
                if (connection.scalar(count, {"p": f"{prefix}-%"}) or 0) >= limit:
                    time.sleep(1.0)  # the last answers reach wrk
                    wrk.send_signal(signal.SIGINT)
                    break
        engine.dispose()
    output, _ = wrk.communicate()
    return output


def cpu_seconds(pgid: int, database: str) -> tuple[float, float]:
    """CPU seconds used so far by the server's processes (its process group) and by the
    PostgreSQL backends serving `database` (from /proc; a backend that exited is not counted)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    server = backends = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[2]) == pgid:
            server += used
        elif command.startswith("postgres: ") and f" {database} " in command:
            backends += used
    return server, backends


def statuses_of(output: str) -> dict[int, int]:
    return {int(code): int(n) for code, n in re.findall(r"status (\d+): (\d+)", output)}


def stored(url: str, prefix: str) -> dict[str, float]:
    """What the database holds of the run's tickets (once requests in flight have finished)."""
    engine = create_engine(url)
    query = text(
        """
        SELECT count(*) AS tickets,
               count(*) FILTER (WHERE t.status = 'filed') AS filed,
               count(*) FILTER (WHERE t.status = 'to_locate') AS to_locate,
               count(*) FILTER (WHERE t.status = 'recorded') AS recorded,
               count(*) FILTER (WHERE t.status = 'received') AS received,
               count(*) FILTER (WHERE t.input_datum IS NULL
                                AND t.ticket_type NOT IN ('consultation', 'praise'))
                   AS address_only,
               count(*) FILTER (WHERE t.input_datum IS NULL AND t.status = 'filed')
                   AS address_only_located,
               count(DISTINCT t.case_id) AS cases,
               (SELECT count(*) FROM report r JOIN hotline_ticket x ON x.case_id = r.case_id
                WHERE x.ticket_number LIKE :pattern) AS reports,
               extract(epoch FROM max(t.created_at) - min(t.created_at)) AS span_s,
               (SELECT count(*) FROM hotline_ticket_event e JOIN hotline_ticket y
                    ON y.id = e.ticket_id WHERE y.ticket_number LIKE :pattern) AS events
        FROM hotline_ticket t WHERE t.ticket_number LIKE :pattern
        """
    )
    previous: dict[str, float] = {}
    while True:
        with engine.connect() as connection:
            found = connection.execute(query, {"pattern": f"{prefix}-%"}).one()._asdict()
            row = {key: float(value or 0) for key, value in found.items()}
        if row == previous:
            break
        previous = row
        time.sleep(0.5)
    engine.dispose()
    return {
        key: (float(value) if key == "span_s" else int(value or 0)) for key, value in row.items()
    }


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--roads", type=int, default=60)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--replay", type=int, default=10_000, help="numbers sent a second time")
    parser.add_argument("--bodies", type=int, default=5_000, help="distinct bodies cycled")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args()
    url = bench_url(DATABASE)
    ensure_grid(url, args.cells)
    key, entries = prepare(url, args.cells, args.roads)
    bodies = ticket_bodies(entries, args.cells, min(args.bodies, args.tickets))
    prefix = f"B{uuid.uuid4().hex[:8]}"
    results: dict[str, object] = {
        "cells": args.cells,
        "places": len(entries),
        "tickets": args.tickets,
        "connections": args.connections,
    }
    if not have_wrk():
        print(json.dumps(results, indent=2))
        return
    port = args.port or free_port()
    server = start_server(url, args.workers, port)
    try:
        warm = min(500, args.tickets)
        wrk_run(port, bodies, f"{prefix}W", warm, 8, key, stop_when_stored=url)  # warm-up
        database = make_url(url).database or ""
        cpu_before = cpu_seconds(server.pid, database)
        output = wrk_run(
            port, bodies, prefix, args.tickets, args.connections, key, stop_when_stored=url
        )
        cpu_after = cpu_seconds(server.pid, database)
        figures = parse_wrk(output)
        statuses = statuses_of(output)
        after = stored(url, prefix)
        replay_limit = min(args.replay, args.tickets)
        replay_output = wrk_run(port, bodies, prefix, replay_limit, args.connections, key)
        replay_statuses = statuses_of(replay_output)
        after_replay = stored(url, prefix)
    finally:
        stop_server(server)
    in_flight = int(after["tickets"]) - statuses.get(201, 0)
    results.update(
        tickets_per_s=round(int(after["tickets"]) / max(float(after["span_s"]), 1e-9), 1),
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        statuses={str(k): v for k, v in sorted(statuses.items())},
        stored=after,
        nothing_lost=0 <= in_flight <= args.connections,
        replay={
            "sent": replay_limit,
            "statuses": {str(k): v for k, v in sorted(replay_statuses.items())},
            "all_200": set(replay_statuses) == {200},
            "new_tickets": int(after_replay["tickets"]) - int(after["tickets"]),
            "new_cases": int(after_replay["cases"]) - int(after["cases"]),
        },
        nothing_doubled=(
            after_replay == after and after["cases"] == after["filed"] == after["reports"]
        ),
        cpu_ms_per_ticket={
            "server": round((cpu_after[0] - cpu_before[0]) * 1000 / max(after["tickets"], 1), 2),
            "postgres": round((cpu_after[1] - cpu_before[1]) * 1000 / max(after["tickets"], 1), 2),
        },
        located_automatically=round(
            int(after["address_only_located"]) / max(int(after["address_only"]), 1),
            4,
        ),
    )
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
