"""The in-process scheduler: escalations and webhook deliveries, run periodically.

Every app process runs it; a PostgreSQL transaction-level advisory lock per job makes sure only
one process runs a job at a time (the others skip that round). Each job runs in a worker thread
in its own session and transaction; an error is logged and the next round tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from citygrid import db, partitions
from citygrid.settings import Settings
from dispatch.escalation.service import EscalationReport, run_escalations
from dispatch.hotline_sync import service as hotline_sync
from dispatch.webhooks import service as webhooks
from dispatch.webhooks.service import DeliveryReport, Sender

logger = logging.getLogger(__name__)

# Advisory lock keys, one per job (any bigint agreed by every process; these spell "cgesc"
# and "cgwhk" in ASCII).
ESCALATION_LOCK_KEY = 0x6367657363
DELIVERY_LOCK_KEY = 0x6367776B68
DELIVERY_BATCHES_PER_RUN = 20  # then the next round, so one slow receiver cannot hog a run


def holds_job_lock(session: Session, key: int) -> bool:
    """Takes the job's advisory lock for the session's transaction; False when another
    transaction holds it (the lock is released by commit or rollback)."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


def escalate_once(
    session: Session, now: datetime, *, settings: Settings
) -> EscalationReport | None:
    """Runs escalations under the job lock and commits; None when another process runs them."""
    if not holds_job_lock(session, ESCALATION_LOCK_KEY):
        return None
    report = run_escalations(session, now, settings=settings)
    session.commit()
    return report


class AcceptedDeliveries:
    """Deliveries a receiver accepted (2xx) whose outcome is not committed yet, by URL and
    delivery id. When that commit fails (the database went away), the next attempt records the
    remembered answer instead of posting again: a database crash repeats no delivery. A crash
    of this process still repeats the one in flight (receivers de-duplicate by the id)."""

    def __init__(self) -> None:
        self._accepted: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def remembering(self, send: Sender) -> Sender:
        """`send`, answering from memory for a delivery already accepted."""

        def send_once(url: str, body: bytes, headers: Mapping[str, str]) -> int:
            key = (url, headers["X-Citygrid-Delivery"])
            with self._lock:
                accepted = self._accepted.get(key)
            if accepted is not None:
                return accepted
            status_code = send(url, body, headers)
            if 200 <= status_code < 300:
                with self._lock:
                    self._accepted[key] = status_code
            return status_code

        return send_once

    def forget(self) -> None:
        """Called once their outcomes are committed."""
        with self._lock:
            self._accepted.clear()


ACCEPTED = AcceptedDeliveries()


def deliver_batch(session: Session, now: datetime, *, settings: Settings) -> DeliveryReport | None:
    """Delivers up to DELIVERY_BATCH due webhook events, each in a transaction of its own under
    the job lock; their counts, or None when another process is delivering.

    One event per transaction, so what a crash can leave posted but unrecorded is that one
    event, not a batch; and ACCEPTED keeps it from being posted twice by this process."""
    send = ACCEPTED.remembering(webhooks.httpx_sender(settings.webhook_timeout_s))
    report = DeliveryReport()
    for _ in range(webhooks.DELIVERY_BATCH):
        if not holds_job_lock(session, DELIVERY_LOCK_KEY):
            session.rollback()
            return report if report.attempted else None
        delivered = webhooks.deliver_due(session, now, settings=settings, send=send, limit=1)
        session.commit()
        ACCEPTED.forget()
        if delivered.attempted == 0:
            break
        report.add(delivered)
    return report


class DatabaseWatch:
    """Whether the database answered the scheduler's last round.

    A restart of PostgreSQL ends the pooled connections; the next rounds fail until it is back
    and then recover by themselves. That is one WARNING when it goes away and one INFO when it
    answers again, not a traceback a round: an ERROR stays for what a restart cannot explain."""

    def __init__(self) -> None:
        self.down = False

    def went_away(self, job: str, error: Exception) -> None:
        if not self.down:
            self.down = True
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            logger.warning(
                "scheduler: the database is not answering (%s: %s); the %s and later rounds "
                "wait for it",
                type(error).__name__,
                reason,
                job,
            )

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.info("scheduler: the database answers again; escalations and deliveries resume")


DATABASE_WATCH = DatabaseWatch()
# SQLSTATEs of a server going away: connection exceptions (class 08), shutdown by the
# administrator or a crash, and "the database system is starting up / shutting down".
SERVER_GONE_STATES = ("08", "57P01", "57P02", "57P03")


def database_gone(error: Exception) -> bool:
    """True for what a restart or outage raises (a dropped, refused or pooled-out connection);
    False for a statement's own failure (a timeout, a deadlock, a constraint)."""
    if isinstance(error, PoolTimeout):
        return True
    original = error.orig if isinstance(error, OperationalError) else error
    if not isinstance(original, psycopg.OperationalError):
        return False
    state = original.sqlstate
    return state is None or state.startswith(SERVER_GONE_STATES)


def run_jobs(settings: Settings, watch: DatabaseWatch = DATABASE_WATCH) -> None:
    """One round: escalations, then deliveries batch by batch; errors are logged, not raised."""
    try:
        with db.open_session() as session:
            escalate_once(session, datetime.now(UTC), settings=settings)
    except Exception as error:
        if not database_gone(error):
            logger.exception("scheduler: escalation run failed; the next round tries again")
        else:
            watch.went_away("escalation run", error)
            return  # the deliveries would find it gone too
    try:  # hotline ticket events into the outbox, so this round's deliveries take them
        with db.open_session() as session:
            hotline_sync.push_once(
                session, now=datetime.now(UTC), limit=settings.hotline_sync_batch
            )
    except Exception as error:
        if not database_gone(error):
            logger.exception("scheduler: hotline sync failed; the next round tries again")
    try:
        for _ in range(DELIVERY_BATCHES_PER_RUN):
            with db.open_session() as session:
                report = deliver_batch(session, datetime.now(UTC), settings=settings)
            if report is None or report.attempted < webhooks.DELIVERY_BATCH:
                break
    except Exception as error:
        if not database_gone(error):
            logger.exception("scheduler: webhook delivery failed; the next round tries again")
        else:
            watch.went_away("webhook delivery", error)
            return
    partitions.run_daily(settings.city_zone)  # monthly partitions: pg_partman, daily
    watch.answered()


async def run_periodically(settings: Settings) -> None:
    """Runs a round every `scheduler_interval_s` until cancelled."""
    while True:
        await asyncio.to_thread(run_jobs, settings)
        await asyncio.sleep(settings.scheduler_interval_s)


@asynccontextmanager
async def running_scheduler(settings: Settings) -> AsyncIterator[None]:
    """Runs the scheduler's jobs in the background while the app serves (when enabled)."""
    if not settings.scheduler_enabled:
        yield
        return
    task = asyncio.create_task(run_periodically(settings), name="citygrid-scheduler")
    try:
        yield
    finally:
        # A round already in its worker thread finishes (its transaction commits or rolls
        # back whole); no new round starts.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
