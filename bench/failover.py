"""Failover drill: intake under load while the primary of a pg_auto_failover formation is lost.

    .venv/bin/python bench/failover.py [--clients 4] [--before 20] [--after 20] [--timeline]

A formation of its own (`citygrid.ha.Formation` under a temporary state dir: a monitor and two
data nodes on 127.0.0.1, synchronous replication, the trial timeouts of citygrid/ha.py) is
created, migrated and seeded like the crash drill's cluster (bench/crash.py: the test block, a
category, an inspector, a department, a webhook to a receiver in this process). The app runs in
a uvicorn subprocess with DATABASE_URL the formation's multi-host URL
(`target_session_attrs=read-write`) and its scheduler every half second. Phones post reports and
retry the same UUID until a 2xx (every tenth acknowledged report is sent again and must come
back as the same case), a reader reads staff lists, and a seeder gives the new cases overdue
assignments, so escalations fire and webhook deliveries go out all along.

Twice, after `--before` seconds of load: the primary's postmaster and its keeper are killed with
SIGKILL (the machine is lost: a postmaster killed alone is restarted by its keeper in a second,
no failover); the monitor promotes the standby; the load goes on for `--after` seconds; then
the old primary's keeper is started again and it rejoins as the standby (pg_rewind when it had
diverged). The second loss is of the node promoted by the first: the formation fails back.

Figures per failover: seconds from the kill to the first 2xx answer to a report sent after the
kill (target ≤ 30 s), to the promotion and to the rejoin; and over the run: acknowledged
reports lost and doubled, every answer by status (5xx other than 503 must be 0), escalations
missing and doubled, webhook deliveries not delivered and posted twice.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.crash import (
    CLIENT_TIMEOUT_S,
    AssignmentSeeder,
    DrillFigures,
    Ledger,
    PhaseClock,
    ReadingClient,
    ReportingClient,
    WebhookReceiver,
    logged_trouble,
    running_app,
    seed,
    settle,
    stop_threads,
    stored_figures,
    timeline_by_second,
    wait_for_health,
)
from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.cli import migrate
from citygrid.ha import NODES, Formation, FormationError
from citygrid.settings import get_settings, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "citygrid_bench_failover"
RECOVERY_TARGET_S = 30.0
ALLOWED_ANSWERS = {"200", "201", "503", "read 200", "read 503"}


@dataclass(frozen=True)
class FailoverPlan:
    clients: int = 4
    before_s: float = 20.0  # load before the first loss
    after_s: float = 20.0  # load after each promotion (then the rejoin)
    between_s: float = 5.0  # load after the rejoin, before the next loss
    failovers: int = 2
    rejoin_last: bool = True  # the node lost last rejoins too (the short form skips it)
    assignments_per_s: float = 2.0
    scheduler_interval_s: float = 0.5


@dataclass
class FailoverLedger(Ledger):
    """The crash drill's ledger, and when each acknowledged attempt was sent and answered."""

    acknowledged_attempts: list[tuple[float, float]] = field(default_factory=list)


class TimedReportingClient(ReportingClient):
    def attempt(self, client: httpx.Client, body: dict[str, Any]) -> int | None:
        started = time.monotonic()
        case_id = super().attempt(client, body)
        if case_id is not None:
            ledger = self.ledger
            assert isinstance(ledger, FailoverLedger)
            with ledger.lock:
                ledger.acknowledged_attempts.append((started, time.monotonic()))
        return case_id


@dataclass
class Failover:
    """One loss of the primary, timed from the kill (monotonic seconds)."""

    victim: str
    promoted: str
    synchronous_standby: str  # synchronous_standby_names on the victim just before
    killed_at: float
    promoted_s: float = float("inf")
    first_2xx_s: float = float("inf")
    rejoined_s: float | None = None  # None: not rejoined (the short form's last loss)


@dataclass
class FailoverFigures:
    drill: DrillFigures
    failovers: list[Failover]
    answers_not_allowed: dict[str, int]

    def lines(self) -> list[str]:
        lines = [
            f"failover {number}: {f.victim} killed (synchronous standby was "
            f"{f.synchronous_standby!r}); {f.promoted} promoted after {f.promoted_s:.1f} s; "
            f"first 2xx to a report sent after the kill {f.first_2xx_s:.1f} s (target "
            f"≤ {RECOVERY_TARGET_S:.0f} s); "
            + (
                f"{f.victim} rejoined as standby {f.rejoined_s:.1f} s after its keeper started"
                if f.rejoined_s is not None
                else f"{f.victim} not restarted"
            )
            for number, f in enumerate(self.failovers, start=1)
        ]
        lines += self.drill.lines()
        lines.append(f"answers other than 2xx/503: {self.answers_not_allowed or 'none'}")
        return lines


def first_2xx_after(ledger: FailoverLedger, at: float) -> float:
    """Seconds from `at` to the first acknowledgement of a report sent after it."""
    with ledger.lock:
        answered = [done for sent, done in ledger.acknowledged_attempts if sent >= at]
    return min(answered) - at if answered else float("inf")


def app_environment(
    formation: Formation, state_dir: Path, plan: FailoverPlan, secret: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": formation.database_url(DATABASE),
        "CITYGRID_STATE_DIR": str(state_dir),
        "CITYGRID_MEDIA_DIR": str(state_dir / "media"),
        "CITYGRID_ENV": "test",
        "CITYGRID_SECRET_KEY": secret,
        "CITYGRID_SCHEDULER_ENABLED": "true",
        "CITYGRID_SCHEDULER_INTERVAL_S": str(plan.scheduler_interval_s),
        "CITYGRID_WEBHOOK_BACKOFF_S": "1",
        "CITYGRID_WEBHOOK_TIMEOUT_S": "10",
        "CITYGRID_LOG_FORMAT": "text",
    }


def new_private_formation(state_dir: Path) -> Formation:
    formation = Formation.for_state_dir(state_dir)
    configured = Formation.for_state_dir(get_settings().state_dir).root
    if formation.root in (configured, Formation.for_state_dir(ROOT / ".citygrid").root) or (
        formation.root.exists() and any(formation.root.iterdir())
    ):
        raise RuntimeError(f"{formation.root} is not a new private formation")
    return formation


@contextmanager
def running_formation(formation: Formation) -> Iterator[Formation]:
    try:
        formation.init(DATABASE, report=lambda step: None)
        yield formation
    finally:
        formation.remove()


def lose_primary(formation: Formation, ledger: FailoverLedger) -> Failover:
    """Kills the primary (postmaster and keeper, SIGKILL) and waits for the promotion."""
    victim = formation.primary()
    if victim is None:
        raise FormationError("no primary to lose")
    [promoted] = [name for name in NODES if name != victim]
    failover = Failover(
        victim, promoted, formation.synchronous_standby_names(victim), time.monotonic()
    )
    formation.kill(victim)
    failover.killed_at = time.monotonic()
    formation.wait_for_states({promoted: {"wait_primary", "primary"}}, timeout_s=120)
    failover.promoted_s = time.monotonic() - failover.killed_at
    return failover


def rejoin(formation: Formation, failover: Failover) -> None:
    started = time.monotonic()
    formation.start_keeper(failover.victim)
    formation.wait_for_states(
        {failover.victim: {"secondary"}, failover.promoted: {"primary"}}, timeout_s=120
    )
    failover.rejoined_s = time.monotonic() - started


def run_drill(plan: FailoverPlan, workdir: Path) -> FailoverFigures:
    state_dir, log_path = workdir / "state", workdir / "app.log"
    secret = secrets.token_urlsafe(32)
    clock = PhaseClock()
    formation = new_private_formation(state_dir)
    failovers: list[Failover] = []
    with ExitStack() as stack:  # unwound in reverse: the app stops, then the formation goes
        stack.enter_context(running_formation(formation))
        url = normalise_database_url(formation.database_url(DATABASE))
        receiver = stack.enter_context(WebhookReceiver())
        environment = app_environment(formation, state_dir, plan, secret)
        base_url, server = stack.enter_context(running_app(environment, log_path))
        migrate(url)
        seeded = seed(url, receiver.url)
        principal = Principal(seeded.inspector_id, "failover-drill", Role.INSPECTOR, None)
        token = issue_token(principal, secret=secret, ttl=timedelta(hours=2))
        wait_for_health(base_url, server, log_path)
        clock.lap("formation, migration, seed, app start")

        ledger = FailoverLedger()
        clients: list[ReportingClient] = [
            TimedReportingClient(number, base_url, token, seeded.category_code, ledger)
            for number in range(plan.clients)
        ]
        seeder = AssignmentSeeder(
            formation.database_url(DATABASE), seeded.department_id, per_s=plan.assignments_per_s
        )
        reader = ReadingClient(base_url, token, ledger)
        ledger.started_at = time.monotonic()
        for thread in (*clients, seeder, reader):
            thread.start()
        time.sleep(plan.before_s)
        for number in range(plan.failovers):
            failover = lose_primary(formation, ledger)
            failovers.append(failover)
            time.sleep(plan.after_s)
            failover.first_2xx_s = first_2xx_after(ledger, failover.killed_at)
            if number + 1 < plan.failovers or plan.rejoin_last:
                rejoin(formation, failover)
                time.sleep(plan.between_s)
        stop_threads(clients, seeder, reader)
        clock.lap("load and failovers")
        settle(url)
        clock.lap("settling")
        healthy = httpx.get(f"{base_url}/health", timeout=CLIENT_TIMEOUT_S).is_success
        app_restarted = server.poll() is not None or not healthy
        drill = stored_figures(url, ledger, receiver)
    drill.recovery_s = [failover.first_2xx_s for failover in failovers]
    drill.app_restarted = app_restarted
    drill.phases_s = clock.laps
    drill.timeline = timeline_by_second(ledger, [f.killed_at for f in failovers])
    drill.errors_logged, drill.scheduler_warnings = logged_trouble(log_path)
    not_allowed = {
        kind: count for kind, count in drill.answers.items() if kind not in ALLOWED_ANSWERS
    }
    return FailoverFigures(drill, failovers, not_allowed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=4, help="concurrent phones")
    parser.add_argument("--before", type=float, default=20.0, help="seconds of load first")
    parser.add_argument("--after", type=float, default=20.0, help="seconds after a promotion")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (app log)")
    parser.add_argument("--timeline", action="store_true", help="answers per second")
    args = parser.parse_args()
    plan = FailoverPlan(clients=args.clients, before_s=args.before, after_s=args.after)
    workdir = Path(tempfile.mkdtemp(prefix="citygrid-failover-"))
    try:
        started = time.monotonic()
        figures = run_drill(plan, workdir)
        print(f"plan: {plan}; drill took {time.monotonic() - started:.1f} s")
        print("\n".join(figures.lines()))
        if args.timeline:
            print("\n".join(figures.drill.timeline))
    finally:
        if args.keep:
            print(f"app log: {workdir / 'app.log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
