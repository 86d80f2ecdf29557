"""Crash drill: concurrent intake while PostgreSQL crashes, and the promises checked after.

    .venv/bin/python bench/crash.py [--seconds 120] [--clients 4] [--crashes 2] [--down 8]

A private PostgreSQL cluster (never the shared embedded one: it is stopped the hard way) is
created under a temporary state dir, migrated and seeded with the test block of four cells, a
category, an inspector, a department and a webhook pointing at a receiver in this process. The
app runs in a uvicorn subprocess with its scheduler every half second. Client threads post
reports, each with a fresh UUID; on an error or a timeout a client sends the same UUID again
until a 2xx, as a phone does, and every tenth acknowledged report is sent once more (an answer
lost on the way) and must come back as the same case. A seeder gives intake's cases overdue
assignments all along, so escalations fire and webhook deliveries go out across the crashes.
Mid-run PostgreSQL is stopped in immediate mode (a crash: no checkpoint, recovery from the WAL
on start) and started again after a while, with the app left running. Afterwards: every
acknowledged report is stored once under the case id it was given, no case without its report,
each assignment has each step of the escalation chain once, each escalation one delivery, and
the receiver got every delivery, and how many times (webhook delivery is at least once, with
the X-Citygrid-Delivery id to de-duplicate by; the scheduler remembers an accepted delivery whose
commit the crash cut off, so a database crash repeats none). A reader of staff lists (routes on
the SQLAlchemy sessions, not intake's pool) must see 503 too, never a 500 or a cut connection.
The test suite runs a short form (tests/citygrid/test_crash_safety.py).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# A script in bench/ has bench/ first on its path, where bench/dispatch.py would hide the
# `dispatch` package: the project's root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.cli import migrate
from citygrid.cluster import Cluster
from citygrid.settings import get_settings
from dispatch.escalation.ladder import DEFAULT_CHAIN
from dispatch.webhooks import service as webhooks
from tests.events.seed import add_category, add_department, add_user
from tests.grid.places import BLOCK_EAST, BLOCK_NORTH, BLOCK_SOUTH, BLOCK_WEST, seed_block

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "citygrid_bench_crash"
CLIENT_TIMEOUT_S = 10.0  # an answer slower than this is a hang
RETRY_PAUSE_S = 0.2  # shorter than Retry-After: recovery is measured to a fraction of a second
GIVE_UP_AFTER_STOP_S = 30.0  # a report still unacknowledged this long after the load stopped
RESEND_EVERY = 10  # every n-th acknowledged report is sent again, as if its answer was lost
SEED_ASSIGNMENTS_EVERY_S = 0.5
SETTLE_TIMEOUT_S = 60.0
LOAD_AFTER_RESTART_S = 5.0  # at least, however long PostgreSQL's recovery took
EVENT_KIND = "case.escalated"

# Intake's cases without an assignment get one, dispatched two weeks ago with 4 working hours:
# every step of the chain is due at once. Set-based and idempotent, a crash may cut it anywhere.
SEED_ASSIGNMENTS = """
    INSERT INTO case_assignment (case_id, department_id, dispatched_at, limit_hours, due_at,
                                 warn_at)
    SELECT c.id, %(department_id)s, now() - interval '14 days', 4, now() - interval '13 days',
           now() - interval '13 days'
    FROM event_case c
    WHERE NOT EXISTS (SELECT 1 FROM case_assignment a WHERE a.case_id = c.id)
    ORDER BY c.id
    LIMIT %(limit)s
    ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class DrillPlan:
    load_s: float = 120.0
    clients: int = 4
    crashes: int = 2
    down_s: float = 8.0
    assignments_per_s: float = 2.0  # each fires every step of the chain: 3 webhook deliveries
    scheduler_interval_s: float = 0.5

    def crash_offsets_s(self) -> list[float]:
        """When each crash starts, seconds into the load: spread evenly, load on both sides."""
        step_s = self.load_s / (self.crashes + 1)
        return [step_s * (number + 1) - self.down_s / 2 for number in range(self.crashes)]


@dataclass(frozen=True)
class Seeded:
    category_code: str
    department_id: int
    inspector_id: int


@dataclass
class Ledger:
    """What the clients saw: acknowledged reports and every answer, by kind."""

    acknowledged: dict[uuid.UUID, int] = field(default_factory=dict)  # report UUID → case id
    acknowledged_at: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    mismatched_resends: int = 0
    unfinished: int = 0
    slowest_answer_s: float = 0.0
    timeline: list[tuple[float, str]] = field(default_factory=list)  # when each answer came
    started_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str, *, elapsed_s: float) -> None:
        with self.lock:
            self.answers[kind] += 1
            self.slowest_answer_s = max(self.slowest_answer_s, elapsed_s)
            self.timeline.append((time.monotonic(), kind))

    def acknowledge(self, report_uuid: uuid.UUID, case_id: int) -> None:
        with self.lock:
            self.acknowledged[report_uuid] = case_id
            self.acknowledged_at.append(time.monotonic())


@dataclass
class DrillFigures:
    acknowledged: int = 0
    lost: int = 0  # acknowledged, not stored
    doubled: int = 0  # stored under another case, or a second case for one report
    resent: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    slowest_answer_s: float = 0.0
    recovery_s: list[float] = field(default_factory=list)  # database started → first 2xx
    app_restarted: bool = False
    assignments: int = 0
    escalations_missing: int = 0
    escalations_doubled: int = 0
    deliveries: int = 0
    deliveries_pending: int = 0
    received_distinct: int = 0
    received_total: int = 0
    received_unknown: int = 0  # ids the receiver got that are no delivery of the database
    phases_s: dict[str, float] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)
    errors_logged: list[str] = field(default_factory=list)  # the app's ERROR/CRITICAL lines
    scheduler_warnings: int = 0  # "the database is not answering": one per outage

    def lines(self) -> list[str]:
        """The figures, one per line, for a person."""
        answers = ", ".join(f"{kind} {count}" for kind, count in sorted(self.answers.items()))
        recovery = ", ".join(f"{seconds:.2f} s" for seconds in self.recovery_s)
        return [
            f"reports acknowledged: {self.acknowledged} (resent after acknowledgement: "
            f"{self.resent})",
            f"lost: {self.lost}; doubled: {self.doubled}; unfinished: {self.unfinished}",
            f"answers: {answers}",
            f"slowest answer: {self.slowest_answer_s:.2f} s (client timeout {CLIENT_TIMEOUT_S} s)",
            f"recovery after the database started: {recovery}; app restarted: {self.app_restarted}",
            f"escalations: {self.assignments} assignments × {len(DEFAULT_CHAIN.steps)} steps, "
            f"missing {self.escalations_missing}, doubled {self.escalations_doubled}",
            f"webhook deliveries: {self.deliveries} queued, {self.deliveries_pending} not "
            f"delivered; receiver got {self.received_distinct} distinct in "
            f"{self.received_total} posts ({self.received_total - self.received_distinct} "
            f"repeated), {self.received_unknown} unknown",
            "phases: "
            + ", ".join(f"{phase} {seconds} s" for phase, seconds in self.phases_s.items()),
            f"app log: {len(self.errors_logged)} ERROR lines, {self.scheduler_warnings} scheduler"
            " warnings",
        ]


# --- the private cluster, the receiver, the app ----------------------------------------------


def new_private_cluster(state_dir: Path, *, configured_state: Path) -> Cluster:
    """Where a cluster of its own goes for `state_dir`; RuntimeError unless it is new (and so
    neither the checkout's nor the configured one)."""
    cluster = Cluster.for_state_dir(state_dir)
    shared = {Cluster.for_state_dir(path).root for path in (ROOT / ".citygrid", configured_state)}
    if cluster.root in shared or cluster.is_initialised():
        raise RuntimeError(f"{cluster.root} is not a new private cluster")
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    """Stops the private cluster and removes its folder."""
    cluster.stop("immediate")
    shutil.rmtree(cluster.root, ignore_errors=True)


class WebhookReceiver:
    """A local HTTP server that records the X-Citygrid-Delivery id of every post."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(self.headers.get("X-Citygrid-Delivery", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def seed(url: str, receiver_url: str) -> Seeded:
    """The block of four cells, a category (duplicates only within 1 m: intake stays fast on
    thousands of cases), an inspector, a department with a member, and the webhook."""
    engine = create_engine(url)
    with Session(engine) as session:
        seed_block(session)
        category = add_category(session)
        category.duplicate_radius_m = 1.0
        department = add_department(session, code="CRASH-01")
        add_user(session, Role.DEPARTMENT, department=department)
        inspector = add_user(session, Role.INSPECTOR)
        webhooks.create_webhook(
            session, url=receiver_url, secret=None, event_kinds=[EVENT_KIND], created_by=None
        )
        session.commit()
        seeded = Seeded(category.code, department.id, inspector.id)
    engine.dispose()
    return seeded


def free_port() -> int:
    """A TCP port free on the loopback interface just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def app_environment(
    cluster: Cluster, state_dir: Path, plan: DrillPlan, secret: str
) -> dict[str, str]:
    """The app's environment: the private cluster, its own media, the scheduler every
    `scheduler_interval_s`."""
    return {
        **os.environ,
        "DATABASE_URL": cluster.sqlalchemy_url(DATABASE),
        "CITYGRID_STATE_DIR": str(state_dir),
        "CITYGRID_MEDIA_DIR": str(state_dir / "media"),
        "CITYGRID_ENV": "test",
        "CITYGRID_SECRET_KEY": secret,
        "CITYGRID_SCHEDULER_ENABLED": "true",
        "CITYGRID_SCHEDULER_INTERVAL_S": str(plan.scheduler_interval_s),
        "CITYGRID_WEBHOOK_BACKOFF_S": "1",
        "CITYGRID_WEBHOOK_TIMEOUT_S": "10",  # a late answer would be a repeat, not a crash's
        "CITYGRID_LOG_FORMAT": "text",
    }


@contextmanager
def running_app(
    environment: dict[str, str], log_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The app under uvicorn in a subprocess; its base URL and process. Started before the
    database is ready (its imports take seconds): wait_for_health tells when it serves."""
    port = free_port()
    # `citygrid serve`, as a city runs it: its log is what an operator reads after a restart.
    command = [sys.executable, "-c", "from citygrid.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_for_health(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    """Returns once /health answers 200; RuntimeError when the app exits or takes too long."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the app did not answer /health within 90 s")


# --- the load -------------------------------------------------------------------------------


class ReportingClient(threading.Thread):
    """A phone that files reports one after another, each retried until acknowledged."""

    def __init__(
        self, number: int, base_url: str, token: str, category_code: str, ledger: Ledger
    ) -> None:
        super().__init__(name=f"reporter-{number}", daemon=True)
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.category_code = category_code
        self.ledger = ledger
        self.stop = threading.Event()
        self.stopped_at = 0.0
        self.filed = 0
        self.random = secrets.SystemRandom()

    def run(self) -> None:
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=CLIENT_TIMEOUT_S
        ) as client:
            while not self.stop.is_set():
                body = self.report_body()
                case_id = self.file_until_acknowledged(client, body)
                if case_id is None:
                    with self.ledger.lock:
                        self.ledger.unfinished += 1
                    return
                self.filed += 1
                if self.filed % RESEND_EVERY == 0:
                    self.resend(client, body, case_id)

    def report_body(self) -> dict[str, Any]:
        return {
            "report_uuid": str(uuid.uuid4()),
            "category_code": self.category_code,
            "lon": self.random.uniform(BLOCK_WEST + 1e-5, BLOCK_EAST - 1e-5),
            "lat": self.random.uniform(BLOCK_SOUTH + 1e-5, BLOCK_NORTH - 1e-5),
            "description": "crash drill: garbage by the road 路边垃圾",
        }

    def file_until_acknowledged(self, client: httpx.Client, body: dict[str, Any]) -> int | None:
        """The case id of the first 2xx answer; None when the load stopped long ago."""
        while True:
            case_id = self.attempt(client, body)
            if case_id is not None:
                self.ledger.acknowledge(uuid.UUID(body["report_uuid"]), case_id)
                return case_id
            if self.stop.is_set() and time.monotonic() - self.stopped_at > GIVE_UP_AFTER_STOP_S:
                return None
            time.sleep(RETRY_PAUSE_S)

    def attempt(self, client: httpx.Client, body: dict[str, Any]) -> int | None:
        """Posts the report once; the case id on a 2xx, else None (the answer counted)."""
        started = time.monotonic()
        try:
            response = client.post("/api/reports", json=body)
        except httpx.TimeoutException:
            self.ledger.count("timeout", elapsed_s=time.monotonic() - started)
            return None
        except httpx.TransportError as error:
            self.ledger.count(f"transport {type(error).__name__}", elapsed_s=0.0)
            return None
        self.ledger.count(answer_kind(response), elapsed_s=time.monotonic() - started)
        if response.is_success:
            case_id: int = response.json()["case_id"]
            return case_id
        return None

    def resend(self, client: httpx.Client, body: dict[str, Any], case_id: int) -> None:
        """Sends an acknowledged report again: it must come back as the same case."""
        again = self.file_until_acknowledged(client, body)
        if again is not None and again != case_id:
            with self.ledger.lock:
                self.ledger.mismatched_resends += 1
        with self.ledger.lock:
            self.ledger.answers["resent"] += 1


def answer_kind(response: httpx.Response) -> str:
    """The answer's status code; a 503 without Retry-After is told apart."""
    if response.status_code == 503 and "retry-after" not in response.headers:
        return "503 without Retry-After"
    return str(response.status_code)


class ReadingClient(threading.Thread):
    """Staff reading lists through the sessions' routes (not intake's pool): they must answer
    503 too while the database is down, and recover as well."""

    PATHS = ("/api/categories", "/api/cases?limit=20", "/api/inbox")

    def __init__(self, base_url: str, token: str, ledger: Ledger) -> None:
        super().__init__(name="reader", daemon=True)
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ledger = ledger
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=CLIENT_TIMEOUT_S
        ) as client:
            while not self.stop.wait(RETRY_PAUSE_S):
                for path in self.PATHS:
                    self.read(client, path)

    def read(self, client: httpx.Client, path: str) -> None:
        started = time.monotonic()
        try:
            kind = answer_kind(client.get(path))
        except httpx.TimeoutException:
            kind = "timeout"
        except httpx.TransportError as error:
            kind = f"transport {type(error).__name__} on {path}"
        self.ledger.count(f"read {kind}", elapsed_s=time.monotonic() - started)


class AssignmentSeeder(threading.Thread):
    """Gives intake's new cases overdue assignments, a few at a time, crash or not."""

    def __init__(self, dsn: str, department_id: int, *, per_s: float) -> None:
        super().__init__(name="assignment-seeder", daemon=True)
        self.dsn = dsn
        self.department_id = department_id
        self.per_seeding = max(1, round(per_s * SEED_ASSIGNMENTS_EVERY_S))
        self.stop = threading.Event()

    def run(self) -> None:
        params = {"department_id": self.department_id, "limit": self.per_seeding}
        while not self.stop.wait(SEED_ASSIGNMENTS_EVERY_S):
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=2) as connection:
                    while not self.stop.wait(SEED_ASSIGNMENTS_EVERY_S):
                        connection.execute(SEED_ASSIGNMENTS, params)
            except psycopg.Error:
                continue  # the database is down: try again


# --- the drill ------------------------------------------------------------------------------


def crash_and_restart(cluster: Cluster, down_s: float) -> float:
    """Stops PostgreSQL in immediate mode, waits `down_s`, starts it; when it was started."""
    cluster.stop("immediate")
    time.sleep(down_s)
    cluster.start()
    return time.monotonic()


def drive_load(
    plan: DrillPlan, base_url: str, token: str, seeded: Seeded, cluster: Cluster
) -> tuple[Ledger, list[float]]:
    """Runs the clients, the reader and the seeder for `load_s` (and LOAD_AFTER_RESTART_S after
    the last restart, at least) with the crashes in between; the ledger and when the database
    came back after each crash."""
    ledger = Ledger()
    clients = [
        ReportingClient(number, base_url, token, seeded.category_code, ledger)
        for number in range(plan.clients)
    ]
    seeder = AssignmentSeeder(
        cluster.libpq_dsn(DATABASE), seeded.department_id, per_s=plan.assignments_per_s
    )
    reader = ReadingClient(base_url, token, ledger)
    started = time.monotonic()
    for thread in (*clients, seeder, reader):
        thread.start()
    restarted_at = []
    for offset_s in plan.crash_offsets_s():
        time.sleep(max(0.0, started + offset_s - time.monotonic()))
        restarted_at.append(crash_and_restart(cluster, plan.down_s))
    ends_at = max([started + plan.load_s, *(at + LOAD_AFTER_RESTART_S for at in restarted_at)])
    time.sleep(max(0.0, ends_at - time.monotonic()))
    stop_threads(clients, seeder, reader)
    ledger.started_at = started
    return ledger, restarted_at


def stop_threads(
    clients: list[ReportingClient], seeder: AssignmentSeeder, reader: ReadingClient
) -> None:
    """Stops the threads; a client still retrying a report gets GIVE_UP_AFTER_STOP_S more."""
    for client in clients:
        client.stopped_at = time.monotonic()
        client.stop.set()
    seeder.stop.set()
    reader.stop.set()
    for thread in (*clients, seeder, reader):
        thread.join(timeout=GIVE_UP_AFTER_STOP_S + 2 * CLIENT_TIMEOUT_S)


def recovery_times_s(ledger: Ledger, restarted_at: list[float]) -> list[float]:
    """Per crash: seconds from the database's start to the first acknowledgement after it."""
    times = []
    for started in restarted_at:
        after = [at for at in ledger.acknowledged_at if at >= started]
        times.append(min(after) - started if after else float("inf"))
    return times


def run_drill(plan: DrillPlan, workdir: Path) -> DrillFigures:
    """Runs the whole drill in `workdir` (a private cluster, the app, the load, the crashes)
    and returns what was found."""
    state_dir, log_path = workdir / "state", workdir / "app.log"
    secret = secrets.token_urlsafe(32)
    clock = PhaseClock()
    cluster = new_private_cluster(state_dir, configured_state=get_settings().state_dir)
    with ExitStack() as stack:  # unwound in reverse: the app stops, then the cluster goes
        stack.callback(remove_cluster, cluster)
        receiver = stack.enter_context(WebhookReceiver())
        environment = app_environment(cluster, state_dir, plan, secret)
        base_url, server = stack.enter_context(running_app(environment, log_path))
        seeded = start_migrate_and_seed(cluster, receiver.url)
        principal = Principal(seeded.inspector_id, "crash-drill", Role.INSPECTOR, None)
        token = issue_token(principal, secret=secret, ttl=timedelta(hours=2))
        wait_for_health(base_url, server, log_path)
        clock.lap("cluster, migration, seed, app start")
        ledger, restarted_at = drive_load(plan, base_url, token, seeded, cluster)
        clock.lap("load")
        settle(cluster.sqlalchemy_url(DATABASE))
        clock.lap("settling")
        healthy = httpx.get(f"{base_url}/health", timeout=CLIENT_TIMEOUT_S).is_success
        app_restarted = server.poll() is not None or not healthy
        figures = stored_figures(cluster.sqlalchemy_url(DATABASE), ledger, receiver)
    figures.recovery_s = recovery_times_s(ledger, restarted_at)
    figures.app_restarted = app_restarted
    figures.phases_s = clock.laps
    figures.timeline = timeline_by_second(ledger, restarted_at)
    figures.errors_logged, figures.scheduler_warnings = logged_trouble(log_path)
    return figures


LOGGED_LEVEL = re.compile(r"^\d{4}-\d\d-\d\d \S+ (?P<level>[A-Z]+) (?P<logger>\S+) ")


def logged_trouble(log_path: Path) -> tuple[list[str], int]:
    """The app log's ERROR and CRITICAL lines, and how many times the scheduler warned that the
    database was not answering (a restart it survives is a warning, not an error)."""
    errors, warnings = [], 0
    for line in log_path.read_text(errors="replace").splitlines():
        logged = LOGGED_LEVEL.match(line)
        if logged is None:
            continue
        if logged["level"] in ("ERROR", "CRITICAL"):
            errors.append(line)
        elif logged["level"] == "WARNING" and logged["logger"] == "dispatch.scheduler":
            warnings += 1
    return errors, warnings


def timeline_by_second(ledger: Ledger, restarted_at: list[float]) -> list[str]:
    """Per second of the load, the answers by kind (and when the database came back)."""
    seconds: dict[int, Counter[str]] = {}
    for at, kind in ledger.timeline:
        seconds.setdefault(int(at - ledger.started_at), Counter())[kind] += 1
    for at in restarted_at:
        seconds.setdefault(int(at - ledger.started_at), Counter())["DATABASE STARTED"] += 1
    return [
        f"{second:4d} s: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        for second, kinds in sorted(seconds.items())
    ]


def start_migrate_and_seed(cluster: Cluster, receiver_url: str) -> Seeded:
    """Starts the new cluster (initdb first), creates and migrates the database, seeds it."""
    cluster.start()
    cluster.ensure_database(DATABASE)
    url = cluster.sqlalchemy_url(DATABASE)
    migrate(url)
    return seed(url, receiver_url)


class PhaseClock:
    """Seconds per phase of the drill, for the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.laps[phase] = round(now - self.last, 1)
        self.last = now


# --- the checks -----------------------------------------------------------------------------

ESCALATION_COUNTS = text(
    """
    SELECT count(*) AS assignments,
           count(*) FILTER (WHERE steps < :steps) AS missing,
           count(*) FILTER (WHERE steps > :steps) AS doubled
    FROM (SELECT a.id, count(e.id) AS steps
          FROM case_assignment a LEFT JOIN escalation e ON e.assignment_id = a.id
          GROUP BY a.id) per_assignment
    """
)
DELIVERY_COUNTS = text(
    """
    SELECT count(*) AS deliveries, count(*) FILTER (WHERE status <> 'delivered') AS pending,
           coalesce(array_agg(event_id::text), '{}') AS event_ids
    FROM webhook_delivery
    """
)
STORED_REPORTS = text(
    "SELECT report_uuid::text, case_id FROM report WHERE report_uuid = ANY(CAST(:uuids AS uuid[]))"
)
# A case with no report, or with two reports that each filed it: a report filed twice.
CASES_FILED_TWICE_OR_ORPHANED = text(
    """
    SELECT count(*) FROM event_case c
    WHERE NOT EXISTS (SELECT 1 FROM report r WHERE r.case_id = c.id)
       OR (SELECT count(*) FROM report r WHERE r.original_case_id = c.id) > 1
    """
)
STEPS = {"steps": len(DEFAULT_CHAIN.steps)}


def settle(url: str) -> None:
    """Waits (at most SETTLE_TIMEOUT_S) until the scheduler has fired every due step and
    delivered every event: what it does after the load is part of the promise."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    engine = create_engine(url)
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            escalations = connection.execute(ESCALATION_COUNTS, STEPS).one()
            deliveries = connection.execute(DELIVERY_COUNTS).one()
            connection.rollback()
            if escalations.missing == 0 and deliveries.pending == 0:
                break
            time.sleep(0.5)
    engine.dispose()


def stored_figures(url: str, ledger: Ledger, receiver: WebhookReceiver) -> DrillFigures:
    """Compares what the clients were told and the receiver got with what the database holds."""
    engine = create_engine(url)
    with engine.connect() as connection:
        uuids = [str(report_uuid) for report_uuid in ledger.acknowledged]
        rows = connection.execute(STORED_REPORTS, {"uuids": uuids}).all()
        filed_twice = connection.scalar(CASES_FILED_TWICE_OR_ORPHANED) or 0
        escalations = connection.execute(ESCALATION_COUNTS, STEPS).one()
        deliveries = connection.execute(DELIVERY_COUNTS).one()
    engine.dispose()
    figures = intake_figures(ledger, {report_uuid: case_id for report_uuid, case_id in rows})
    figures.doubled += filed_twice
    figures.assignments = escalations.assignments
    figures.escalations_missing = escalations.missing
    figures.escalations_doubled = escalations.doubled
    figures.deliveries = deliveries.deliveries
    figures.deliveries_pending = deliveries.pending
    with receiver.lock:
        received = list(receiver.received)
    figures.received_total = len(received)
    figures.received_distinct = len(set(received))
    figures.received_unknown = len(set(received) - set(deliveries.event_ids))
    return figures


def intake_figures(ledger: Ledger, stored: dict[str, int]) -> DrillFigures:
    """Lost (acknowledged, not stored) and doubled (stored under another case id, or a resend
    answered with another case) reports, and what the clients saw."""
    given = {str(report_uuid): case_id for report_uuid, case_id in ledger.acknowledged.items()}
    return DrillFigures(
        acknowledged=len(given),
        lost=sum(1 for report_uuid in given if report_uuid not in stored),
        doubled=ledger.mismatched_resends
        + sum(
            1
            for report_uuid, case_id in given.items()
            if stored.get(report_uuid, case_id) != case_id
        ),
        resent=ledger.answers["resent"],
        answers={kind: count for kind, count in ledger.answers.items() if kind != "resent"},
        unfinished=ledger.unfinished,
        slowest_answer_s=ledger.slowest_answer_s,
    )


def main() -> None:
    """Runs the drill as the command line asks and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=120.0, help="load duration")
    parser.add_argument("--clients", type=int, default=4, help="concurrent reporting clients")
    parser.add_argument("--crashes", type=int, default=2)
    parser.add_argument("--down", type=float, default=8.0, help="seconds down per crash")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (app log)")
    parser.add_argument("--timeline", action="store_true", help="answers per second")
    args = parser.parse_args()
    plan = DrillPlan(
        load_s=args.seconds, clients=args.clients, crashes=args.crashes, down_s=args.down
    )
    workdir = Path(tempfile.mkdtemp(prefix="citygrid-crash-"))
    try:
        started = time.monotonic()
        figures = run_drill(plan, workdir)
        print(f"plan: {plan}; drill took {time.monotonic() - started:.1f} s")
        print("\n".join(figures.lines()))
        if args.timeline:
            print("\n".join(figures.timeline))
    finally:
        if args.keep:
            print(f"app log: {workdir / 'app.log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
