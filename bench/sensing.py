"""Sensing over MQTT: the reliability drill, ingest throughput, publish→case latency, heartbeats.

    flock /tmp/citygrid-heavy.lock .venv/bin/python bench/sensing.py \\
        [--devices 1000] [--alarms 100000] [--readings 200000] [--case-alarms 20000] \\
        [--latency-rate 200] [--latency-seconds 10] [--heartbeat-devices 10000] \\
        [--heartbeat-seconds 60] [--cells 400] [--in-flight 500] [--tiny]

Own database `citygrid_bench_sensing`, made afresh each run (or BENCH_DATABASE_URL, which should
be empty), a square city of `--cells` 100 m cells, and its own mosquitto (a temporary folder and
a free port; the checkout's broker is left alone). Devices are registered set-based (manhole
tilt sensors, one per cell in turn, none on a component, so each device's first alarm files a
case and its later ones fold into it). The worker is the real `citygrid sensing worker` process
(`python -m sensing.worker_cli`); the publisher is this process (aiomqtt, QoS 1, `--in-flight`
publishes awaiting their PUBACK) and shares the machine's cores with the worker, the broker and
PostgreSQL: its CPU time is reported.

1. drill: `--alarms` alarms from `--devices` devices at full speed; the broker restarted at a
   quarter, the worker SIGKILLed and restarted at half and three quarters; then every message id
   the broker acknowledged is counted in `sensing_reading` and `sensing_alarm` (sensing.drill):
   lost, doubled, unexpected must be 0.
2. telemetry: `--readings` readings under threshold from the devices, published at full speed
   with the worker running; readings/s from the first publish to the last row stored. Then the
   same count queued while the worker is stopped and drained by it alone (ingest without the
   publisher competing for the cores).
3. alarms: `--case-alarms` alarms from fresh devices, each device's first files a case through
   intake and the rest fold into it; alarms/s from the first publish to the last alarm with
   its case.
4. latency: alarms at `--latency-rate`/s for `--latency-seconds`, publish → the alarm's row
   with its case (folded into an open case in the batch's transaction, or filed / folded into
   the new case by the worker's filing transaction right after) seen by a reader polling every
   20 ms: p50, p95, max.
5. heartbeats: `--heartbeat-devices` devices heart-beating once a minute (rate devices/60 a
   second) for `--heartbeat-seconds`: the worker's CPU time over the window (/proc) as a share
   of one core.

Prints a markdown table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ensure_grid
from sqlalchemy import Engine, create_engine, make_url, text

from citygrid.broker import Broker, temporary_broker
from citygrid.settings import get_settings
from sensing.drill import WorkerProcess, process_cpu_seconds, run_drill
from sensing.simulate import device_messages, publish_all

DATABASE = "citygrid_bench_sensing"
TINY = {
    "cells": 100,
    "devices": 20,
    "alarms": 400,
    "readings": 1_000,
    "case_alarms": 200,
    "latency_rate": 50.0,
    "latency_seconds": 1.0,
    "heartbeat_devices": 120,
    "heartbeat_seconds": 2.0,
    "in_flight": 50,
}
BENCH_CLIENT_ID = "citygrid-bench"
REGISTER = text("""
    INSERT INTO sensing_device (id, device_type, geom, cell_id, heartbeat_s, last_seen_at)
    SELECT :prefix || lpad(n::text, 5, '0'), 'manhole_tilt', ST_PointOnSurface(c.geom), c.id,
           :heartbeat_s, now()
    FROM generate_series(0, :count - 1) AS n
    JOIN LATERAL (
        SELECT id, geom FROM grid_cell ORDER BY id OFFSET (n % :cells) LIMIT 1
    ) c ON true
""")


def fresh_database() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    server = get_settings().resolved_database_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return make_url(server).set(database=DATABASE).render_as_string(hide_password=False)


def register(engine: Engine, prefix: str, count: int, *, heartbeat_s: int = 3600) -> list[str]:
    with engine.begin() as connection:
        cells = connection.scalar(text("SELECT count(*) FROM grid_cell")) or 1
        connection.execute(
            REGISTER,
            {"prefix": prefix, "count": count, "cells": cells, "heartbeat_s": heartbeat_s},
        )
    return [f"{prefix}{number:05}" for number in range(count)]


def count_rows(engine: Engine, table: str, prefix: str, kind: str | None = None) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE device_id LIKE :prefix"
    if kind is not None:
        sql += " AND kind = :kind"
    if table == "sensing_alarm":
        sql += " AND outcome <> 'pending'"  # settled: filed, folded (its case exists)
    with engine.connect() as connection:
        return int(connection.scalar(text(sql), {"prefix": prefix + "%", "kind": kind}) or 0)


def owed_dispatches(engine: Engine, prefix: str) -> int:
    sql = "SELECT count(*) FROM sensing_case WHERE dispatch_owed AND device_id LIKE :prefix"
    with engine.connect() as connection:
        return int(connection.scalar(text(sql), {"prefix": prefix + "%"}) or 0)


async def until_count(
    engine: Engine, table: str, prefix: str, target: int, *, kind: str | None = None
) -> float:
    """Polls until `target` rows; the monotonic time it got there."""
    while True:
        have = await asyncio.to_thread(count_rows, engine, table, prefix, kind)
        if have >= target:
            return time.monotonic()
        await asyncio.sleep(0.1)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU seconds of the worker, the broker and this process (the publisher) over a phase."""

    def __init__(self, worker: WorkerProcess, broker: Broker) -> None:
        self.worker, self.broker = worker, broker

    def read(self) -> tuple[float, float, float, float]:
        broker_pid = self.broker.pid()
        return (
            time.monotonic(),
            self.worker.cpu_seconds(),
            process_cpu_seconds(broker_pid) if broker_pid else 0.0,
            own_cpu(),
        )

    @staticmethod
    def shares(start: tuple[float, ...], end: tuple[float, ...]) -> dict[str, float]:
        wall = end[0] - start[0]
        return {
            "wall_s": wall,
            "worker_core": (end[1] - start[1]) / wall,
            "broker_core": (end[2] - start[2]) / wall,
            "publisher_core": (end[3] - start[3]) / wall,
        }


async def throughput(
    engine: Engine,
    broker: Broker,
    worker: WorkerProcess,
    kind: str,
    prefix: str,
    devices: list[str],
    count: int,
    in_flight: int,
    *,
    values: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Publish `count` messages at full speed with the worker running; rows/s to the last."""
    start = datetime.now(UTC) - timedelta(hours=1)
    messages = list(
        device_messages(
            kind,  # type: ignore[arg-type]
            count,
            devices,
            start=start,
            values=(lambda _n: values) if values else None,
            prefix=f"{kind[0]}{int(time.time())}-",
        )
    )
    meter = Meter(worker, broker)
    before = meter.read()
    table = "sensing_reading"
    baseline = await asyncio.to_thread(count_rows, engine, table, prefix)
    settled = await asyncio.to_thread(count_rows, engine, "sensing_alarm", prefix)
    published = await publish_all(broker.address(), messages, in_flight=in_flight)
    published_at = time.monotonic()
    done_at = await until_count(engine, table, prefix, baseline + count)
    extra: dict[str, Any] = {}
    if kind == "alarm":  # and every alarm filed its case or folded into one
        done_at = await until_count(engine, "sensing_alarm", prefix, settled + count)
        # The new cases are filed (立案) and dispatched after: until none owes it.
        while await asyncio.to_thread(owed_dispatches, engine, prefix):
            await asyncio.sleep(0.1)
        dispatched_s = time.monotonic() - before[0]
        extra = {"dispatched_s": dispatched_s, "dispatched_per_s": count / dispatched_s}
    after = meter.read()
    elapsed = done_at - before[0]
    return {
        **extra,
        "messages": count,
        "per_s": count / elapsed,
        "elapsed_s": elapsed,
        "publish_per_s": count / (published_at - before[0]),
        "acknowledged": published.acknowledged,
        **Meter.shares(before, after),
    }


async def drained(
    engine: Engine,
    broker: Broker,
    database_url: str,
    log: Path,
    prefix: str,
    devices: list[str],
    count: int,
    in_flight: int,
) -> dict[str, Any]:
    """Queue `count` readings while no worker runs, then time a worker draining them alone."""
    start = datetime.now(UTC) - timedelta(hours=1)
    messages = list(
        device_messages(
            "telemetry",
            count,
            devices,
            start=start,
            values=lambda _n: {"tilt_deg": 1.0},
            prefix=f"q{int(time.time())}-",
        )
    )
    baseline = await asyncio.to_thread(count_rows, engine, "sensing_reading", prefix)
    await publish_all(broker.address(), messages, in_flight=in_flight)
    worker = WorkerProcess(broker, database_url, log, CITYGRID_MQTT_CLIENT_ID=BENCH_CLIENT_ID)
    worker.start()
    await worker.wait_connected(worker.connections() + 1)
    first = time.monotonic()
    cpu = worker.cpu_seconds()
    done_at = await until_count(engine, "sensing_reading", prefix, baseline + count)
    used = worker.cpu_seconds() - cpu
    worker.terminate()
    return {
        "messages": count,
        "per_s": count / (done_at - first),
        "elapsed_s": done_at - first,
        "worker_core": used / (done_at - first),
    }


async def latency(
    engine: Engine, broker: Broker, devices: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    """Alarms at `rate`/s; publish → row visible (filed or folded), polled every 20 ms."""
    count = int(rate * seconds)
    prefix = f"l{int(time.time())}-"
    messages = list(
        device_messages(
            "alarm", count, devices, start=datetime.now(UTC) - timedelta(hours=1), prefix=prefix
        )
    )
    index = {(m.device_id, m.message_id): n for n, m in enumerate(messages)}
    seen: dict[int, float] = {}
    outcome: dict[int, str] = {}
    owed: set[int] = set()  # alarm rows stored 'pending': their case is being filed
    with engine.connect() as connection:
        last_id = int(connection.scalar(text("SELECT coalesce(max(id), 0) FROM sensing_alarm")))

    def poll() -> None:
        nonlocal last_id
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, device_id, message_id, outcome FROM sensing_alarm"
                    " WHERE id > :last OR id = ANY(:owed) ORDER BY id"
                ),
                {"last": last_id, "owed": sorted(owed)},
            ).all()
        now = time.monotonic()
        for row in rows:
            last_id = max(last_id, row.id)
            number = index.get((row.device_id, row.message_id))
            if number is None:
                continue
            if row.outcome in ("filed", "folded"):
                seen.setdefault(number, now)
                outcome[number] = row.outcome
                owed.discard(row.id)
            elif row.outcome == "pending":
                owed.add(row.id)

    async def poller() -> None:
        while len(seen) < count:
            await asyncio.to_thread(poll)
            await asyncio.sleep(0.02)

    polling = asyncio.create_task(poller())
    published = await publish_all(broker.address(), messages, in_flight=50, rate=rate)
    async with asyncio.timeout(120):
        await polling

    def delays(kind: str | None) -> list[float]:
        return sorted(
            (seen[n] - published.sent_at[n]) * 1000
            for n in range(count)
            if kind is None or outcome[n] == kind
        )

    every, filed, folded = delays(None), delays("filed"), delays("folded")
    return {
        "alarms": count,
        "filed": len(filed),
        "p50_ms": statistics.median(every),
        "p95_ms": percentile(every, 0.95),
        "max_ms": every[-1],
        "filed_p95_ms": percentile(filed, 0.95),
        "folded_p95_ms": percentile(folded, 0.95),
    }


def percentile(values: list[float], share: float) -> float:
    return values[int(share * (len(values) - 1))] if values else float("nan")


async def heartbeats(
    engine: Engine, broker: Broker, worker: WorkerProcess, devices: list[str], seconds: float
) -> dict[str, Any]:
    rate = len(devices) / 60
    count = int(rate * seconds)
    messages = list(
        device_messages(
            "heartbeat",
            count,
            devices,
            start=datetime.now(UTC) - timedelta(hours=1),
            prefix=f"h{int(time.time())}-",
        )
    )
    meter = Meter(worker, broker)
    before = meter.read()
    await publish_all(broker.address(), messages, in_flight=20, rate=rate)
    await until_count(engine, "sensing_reading", "HB-", count, kind="heartbeat")
    after = meter.read()
    return {
        "devices": len(devices),
        "messages": count,
        "per_s": rate,
        **Meter.shares(before, after),
    }


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    url = fresh_database()
    ensure_grid(url, arguments.cells)
    engine = create_engine(url, pool_size=4)
    results: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="citygrid-bench-sensing-"))
    drill_devices = register(engine, "DR-", arguments.devices)
    telemetry_devices = register(engine, "TL-", arguments.devices)
    alarm_devices = register(engine, "CA-", arguments.devices)
    latency_devices = register(engine, "LT-", max(1, arguments.devices // 5))
    heartbeat_devices = register(engine, "HB-", arguments.heartbeat_devices, heartbeat_s=60)
    with temporary_broker() as broker:
        started = time.monotonic()
        drill = await run_drill(
            broker,
            engine,
            url,
            drill_devices,
            arguments.alarms,
            log=folder / "drill.log",
            in_flight=arguments.in_flight,
            drain_timeout_s=3600,
        )
        results["drill"] = {**drill.__dict__, "exactly_once": drill.exactly_once}
        results["drill"]["elapsed_s"] = time.monotonic() - started
        print(f"drill: {json.dumps(results['drill'])}", flush=True)
        # One worker (and one persistent session) for the rest: the drill's session is left.
        worker = WorkerProcess(
            broker, url, folder / "worker.log", CITYGRID_MQTT_CLIENT_ID=BENCH_CLIENT_ID
        )
        worker.start()
        await worker.wait_connected(1)
        results["telemetry"] = await throughput(
            engine,
            broker,
            worker,
            "telemetry",
            "TL-",
            telemetry_devices,
            arguments.readings,
            arguments.in_flight,
            values={"tilt_deg": 1.0},
        )
        print(f"telemetry: {json.dumps(results['telemetry'])}", flush=True)
        results["alarms"] = await throughput(
            engine,
            broker,
            worker,
            "alarm",
            "CA-",
            alarm_devices,
            arguments.case_alarms,
            arguments.in_flight,
        )
        print(f"alarms: {json.dumps(results['alarms'])}", flush=True)
        results["latency"] = await latency(
            engine, broker, latency_devices, arguments.latency_rate, arguments.latency_seconds
        )
        print(f"latency: {json.dumps(results['latency'])}", flush=True)
        results["heartbeats"] = await heartbeats(
            engine, broker, worker, heartbeat_devices, arguments.heartbeat_seconds
        )
        print(f"heartbeats: {json.dumps(results['heartbeats'])}", flush=True)
        worker.terminate()
        results["telemetry_drained"] = await drained(
            engine,
            broker,
            url,
            folder / "drain.log",
            "TL-",
            telemetry_devices,
            arguments.readings,
            arguments.in_flight,
        )
        print(f"telemetry drained: {json.dumps(results['telemetry_drained'])}", flush=True)
    with engine.connect() as connection:
        results["cases_filed"] = int(
            connection.scalar(text("SELECT count(*) FROM sensing_case WHERE reason = 'alarm'"))
        )
    engine.dispose()
    return results


def table(results: dict[str, Any]) -> str:
    drill, tele, drained_ = results["drill"], results["telemetry"], results["telemetry_drained"]
    alarms, lat, beat = results["alarms"], results["latency"], results["heartbeats"]
    rows = [
        ("measure", "figure", "target"),
        (
            f"drill: {drill['alarms']:,} alarms, {drill['devices']:,} devices, worker killed x2,"
            " broker restarted x1",
            f"lost {drill['lost']}, doubled {drill['doubled']}, unexpected {drill['unexpected']}"
            f" ({drill['stored']:,} stored once; {drill['publish_attempts'] - drill['alarms']:,}"
            f" republished; outcomes {drill['outcomes']})",
            "0 lost, 0 doubled",
        ),
        (
            "telemetry ingest, publisher running alongside",
            f"{tele['per_s']:,.0f} readings/s (worker {tele['worker_core']:.0%} of a core,"
            f" broker {tele['broker_core']:.0%}, publisher {tele['publisher_core']:.0%})",
            ">= 10,000/s",
        ),
        (
            "telemetry ingest, queued then drained by the worker alone",
            f"{drained_['per_s']:,.0f} readings/s (worker {drained_['worker_core']:.0%} of a core)",
            ">= 10,000/s",
        ),
        (
            "alarms filing or folding into cases",
            f"{alarms['per_s']:,.0f} alarms/s with their cases; every new case filed and"
            f" dispatched {alarms['dispatched_s']:.1f} s after the first publish"
            f" ({alarms['dispatched_per_s']:,.0f} alarms/s; worker {alarms['worker_core']:.0%}"
            " of a core)",
            ">= 1,000/s",
        ),
        (
            f"publish -> case, {lat['alarms']:,} alarms at a steady rate",
            f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
            f" (the {lat['filed']} filing a new case: p95 {lat['filed_p95_ms']:.0f} ms; folding:"
            f" p95 {lat['folded_p95_ms']:.0f} ms)",
            "p95 <= 500 ms",
        ),
        (
            f"{beat['devices']:,} devices heart-beating every 60 s ({beat['per_s']:.0f}/s)",
            f"worker {beat['worker_core']:.1%} of a core over {beat['wall_s']:.0f} s"
            f" (broker {beat['broker_core']:.1%}, publisher {beat['publisher_core']:.1%})",
            "< 5 % of a core",
        ),
    ]
    lines = [f"| {' | '.join(row)} |" for row in rows]
    lines.insert(1, "|---|---|---|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=400)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--alarms", type=int, default=100_000)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--case-alarms", type=int, default=20_000)
    parser.add_argument("--latency-rate", type=float, default=200.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--heartbeat-devices", type=int, default=10_000)
    parser.add_argument("--heartbeat-seconds", type=float, default=60.0)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--tiny", action="store_true", help="Every size cut (the tests' run).")
    arguments = parser.parse_args()
    if arguments.tiny:
        arguments.__dict__.update(TINY)
    os.environ.setdefault("CITYGRID_SENSING_OFFLINE_CHECK_S", "86400")  # no offline cases here
    # The workers reach the bench's broker through MQTT_URL; it is configured as the embedded
    # one is (a window of CITYGRID_MQTT_RECEIVE_MAXIMUM), so they speak 3.1.1 as with that one.
    os.environ.setdefault("CITYGRID_MQTT_PROTOCOL", "3.1.1")
    results = asyncio.run(run(arguments))
    print(table(results))
    print(json.dumps(results, default=str))
    if not results["drill"]["exactly_once"]:
        sys.exit("the drill lost or doubled alarms")


if __name__ == "__main__":
    main()
