"""The reliability drill: alarms published at full speed by simulated devices while the ingest
worker is killed (SIGKILL) and restarted and the broker is restarted; then every alarm the
broker acknowledged is looked up in the database.

Accounting, per (device id, message id):

* acknowledged: the publisher got the broker's PUBACK for it (the broker owns it from then on);
* stored: its row in `sensing_reading` (kind alarm) and in `sensing_alarm`;
* lost: acknowledged but not stored; doubled: more than one `sensing_alarm` row for it, or the
  alarm counts of the cases adding up to more alarms than were filed or folded.

The worker runs as `python -m sensing.worker_cli` (what `citygrid sensing worker` runs) so it can
be killed as a process. Used by tests/sensing/test_drill.py (short form) and bench/sensing.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from citygrid.broker import Broker
from sensing.simulate import Outgoing, PublishReport, device_messages, publish_all

DRILL_CLIENT_ID = "citygrid-drill"


class WorkerProcess:
    """A `citygrid sensing worker` subprocess, its log in a file."""

    def __init__(self, broker: Broker, database_url: str, log: Path, **settings: str) -> None:
        self.log = log
        self.environment = dict(os.environ)  # CITYGRID_MQTT_* settings pass through
        address = broker.address()
        self.environment.update(
            {
                "DATABASE_URL": database_url,
                "MQTT_URL": f"mqtt://{address.host}:{address.port}",
                "CITYGRID_LOG_FORMAT": "text",
                "CITYGRID_MQTT_CLIENT_ID": DRILL_CLIENT_ID,
                **settings,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sensing.worker_cli"],
                env=self.environment,
                stdout=log,
                stderr=log,
                cwd=Path(__file__).resolve().parent.parent,
            )
        self.starts += 1

    def connections(self) -> int:
        try:
            return self.log.read_text(errors="replace").count("subscribed to")
        except OSError:
            return 0

    async def wait_connected(self, count: int, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while self.connections() < count:
                if self.process is not None and self.process.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the worker exited ({self.process.returncode}):\n{tail}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the running worker (from /proc)."""
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


@dataclass
class DrillReport:
    alarms: int
    devices: int
    acknowledged: int = 0
    publish_attempts: int = 0
    publisher_reconnects: int = 0
    worker_kills: int = 0
    broker_restarts: int = 0
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    unexpected: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    case_alarm_total: int = 0
    publish_s: float = 0.0
    drain_s: float = 0.0
    worker_exit: int | None = None

    @property
    def exactly_once(self) -> bool:
        return (
            self.acknowledged == self.alarms
            and self.stored == self.alarms
            and self.lost == 0
            and self.doubled == 0
            and self.unexpected == 0
        )


async def run_drill(
    broker: Broker,
    engine: Engine,
    database_url: str,
    devices: Sequence[str],
    alarms: int,
    *,
    log: Path,
    rate: float | None = None,
    in_flight: int = 500,
    run_id: str = "",
    drain_timeout_s: float = 300.0,
    worker_settings: dict[str, str] | None = None,
) -> DrillReport:
    """Publish `alarms` alarms from `devices` (registered) while the worker is killed at a
    half and three quarters of the publishing and the broker restarted at a quarter; wait for the
    worker to store everything acknowledged, then account for every message id."""
    start = datetime.now(UTC) - timedelta(hours=2)
    prefix = f"drill{run_id}-"
    messages = list(device_messages("alarm", alarms, devices, start=start, prefix=prefix))
    report = DrillReport(alarms=alarms, devices=len(devices))
    worker = WorkerProcess(broker, database_url, log, **(worker_settings or {}))
    worker.start()
    await worker.wait_connected(1)  # the persistent session and its subscriptions exist

    marks = {0.25: asyncio.Event(), 0.5: asyncio.Event(), 0.75: asyncio.Event()}

    def progress(done: int) -> None:
        for share, event in marks.items():
            if done >= share * alarms:
                event.set()

    async def disrupt() -> None:
        await marks[0.25].wait()  # the broker restarts under a working worker and publisher
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        report.broker_restarts += 1
        await worker.wait_connected(2)  # the worker reconnected by itself
        await marks[0.5].wait()
        worker.kill()
        report.worker_kills += 1
        worker.start()
        await worker.wait_connected(3)  # a worker killed while it works, not while it starts
        await marks[0.75].wait()
        worker.kill()
        report.worker_kills += 1
        worker.start()

    started = time.monotonic()
    disruptions = asyncio.create_task(disrupt())
    published: PublishReport = await publish_all(
        broker.address(), messages, in_flight=in_flight, rate=rate, on_progress=progress
    )
    await disruptions
    report.publish_s = time.monotonic() - started
    report.acknowledged = published.acknowledged
    report.publish_attempts = published.attempts
    report.publisher_reconnects = published.reconnects
    device_list = list(devices)
    stored_sql = (
        "SELECT count(*) FROM sensing_reading WHERE device_id = ANY(:devices)"
        " AND kind = 'alarm' AND message_id LIKE :prefix"
    )
    async with asyncio.timeout(drain_timeout_s):
        while True:
            stored = await asyncio.to_thread(
                scalar, engine, stored_sql, devices=device_list, prefix=prefix + "%"
            )
            if stored >= report.acknowledged:
                break
            await asyncio.sleep(0.1)
        # Stored and acknowledged first; the cases they owe are filed right after (and by the
        # next worker when one died in between): every alarm ends filed or folded.
        while await asyncio.to_thread(scalar, engine, OWED_SQL, devices=device_list):
            await asyncio.sleep(0.1)
    report.drain_s = time.monotonic() - started - report.publish_s
    await worker.wait_connected(4)  # the last worker is up (so SIGTERM meets its handler)
    report.worker_exit = await asyncio.to_thread(worker.terminate)
    account(report, engine, messages, device_list, prefix)
    return report


OWED_SQL = (
    "SELECT count(*) FROM sensing_alarm WHERE device_id = ANY(:devices) AND outcome = 'pending'"
)


def scalar(engine: Engine, sql: str, **parameters: object) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text(sql), parameters) or 0)


def account(
    report: DrillReport,
    engine: Engine,
    messages: Sequence[Outgoing],
    devices: list[str],
    prefix: str,
) -> None:
    """Compare what was acknowledged with what the database holds, per message id."""
    expected = {(m.device_id, m.message_id) for m in messages}
    parameters = {"devices": devices, "prefix": prefix + "%"}
    with engine.connect() as connection:
        readings = connection.execute(
            text(
                "SELECT device_id, message_id, count(*) FROM sensing_reading"
                " WHERE device_id = ANY(:devices) AND kind = 'alarm'"
                " AND message_id LIKE :prefix GROUP BY 1, 2"
            ),
            parameters,
        ).all()
        alarms = connection.execute(
            text(
                "SELECT device_id, message_id, count(*), min(outcome) FROM sensing_alarm"
                " WHERE device_id = ANY(:devices) AND message_id LIKE :prefix GROUP BY 1, 2"
            ),
            parameters,
        ).all()
        report.case_alarm_total = scalar(
            engine,
            "SELECT coalesce(sum(alarm_count), 0) FROM sensing_case WHERE device_id = ANY(:d)"
            " AND reason = 'alarm'",
            d=devices,
        )
    stored = {(row[0], row[1]) for row in readings}
    in_alarms = {(row[0], row[1]) for row in alarms}
    report.stored = len(stored & in_alarms & expected)
    report.lost = len(expected - stored) + len(expected - in_alarms)
    report.doubled = sum(1 for row in readings if row[2] > 1) + sum(
        1 for row in alarms if row[2] > 1
    )
    report.unexpected = len((stored | in_alarms) - expected)
    outcomes: dict[str, int] = {}
    for row in alarms:
        outcomes[row[3]] = outcomes.get(row[3], 0) + 1
    report.outcomes = outcomes
