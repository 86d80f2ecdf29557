"""The MQTT ingest worker: device messages from the broker into the database, exactly once.

It holds one persistent MQTT 5 session (a fixed client id, clean start off, a session expiry of
a week) subscribed at QoS 1 to ``citygrid/devices/+/telemetry|alarm|heartbeat``, so what devices
publish while it is stopped waits in the broker (which keeps it across its own restarts).

Messages are gathered into batches (up to ``mqtt_batch_max`` messages or ``mqtt_batch_wait_ms``
after the first), parsed with `sensing.messages.parse_message` and handed to
`sensing.ingest.ingest_batch` in a worker thread, which stores them set-based; the batch is
committed, and only then are its messages acknowledged (PUBACK; paho's manual acknowledgement,
since aiomqtt always acknowledges on receipt). So:

* a worker killed before the commit loses nothing: the broker redelivers every message it did
  not acknowledge when the session comes back;
* a worker killed between the commit and the acknowledgement sees those messages again, and
  `ingest_batch` recognises them by (device id, message id) as duplicates: stored once.

At-least-once delivery plus storage that is idempotent by message id is exactly-once storage.

A new case is not filed in the batch's transaction (intake, the routing and the FILE and
DISPATCH actions cost ~10 ms a case, and every alarm of the batch would wait for them): the
batch stores an alarm that owes a case as 'pending', is committed and acknowledged, and the
filer beside the consumer files the owed cases right after, each few in a transaction of its
own (the first alarm of an episode files, the later ones, of that batch or of batches stored
meanwhile, fold into it), then files (立案) and dispatches the new cases a few at a time while
no alarm owes one. The pending row is the durable record of the debt: a worker killed between
the two transactions leaves it, and the filer runs at start and every
``sensing_offline_check_s``, so the next worker files it; one filer at a time (an advisory lock).
A refused message (bad topic, bad JSON, a missing field) is counted, logged once per reason
without its contents, and acknowledged: redelivering it would refuse it again.

When the broker goes away the worker reconnects with a doubling backoff; when PostgreSQL goes
away the batch is kept (unacknowledged) and retried until it answers, with one WARNING per outage.
Every ``sensing_offline_check_s`` it checks for devices silent past their heartbeat interval.
SIGTERM or SIGINT: the batch in hand is committed and acknowledged, then it disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.broker import MqttAddress
from citygrid.settings import Settings, get_settings
from dispatch.scheduler import database_gone
from sensing import ingest
from sensing.alarms import filing
from sensing.messages import KINDS, TOPIC_PREFIX, DeviceMessage, MessageRefused, parse_message

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = [f"{TOPIC_PREFIX}/+/{kind}" for kind in KINDS]
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps the session (and queues) this long
RECONNECT_FIRST_S = 0.2
DATABASE_RETRY_FIRST_S = 0.2
DATABASE_RETRY_MAX_S = 5.0
SUMMARY_EVERY_S = 60.0
FILE_OWED_PER_TRANSACTION = 200  # owed alarms looked at per filing transaction…
CASES_PER_TRANSACTION = 4  # …which ends after filing this many (each case is seen sooner)
DISPATCH_PER_TRANSACTION = 2  # owed dispatches per transaction (new filings go first)
DISPATCH_IDLE_S = 0.2  # dispatching waits until no alarm came owing a case for this long…
DISPATCH_EVERY_S = 0.5  # …or this long after its last slice (so it never starves)
FILER_RETRY_S = 1.0

T = TypeVar("T")
Ingest = Callable[[Session, Sequence[DeviceMessage]], ingest.IngestResult]
OpenSession = Callable[[], AbstractContextManager[Session]]


def ingest_now(session: Session, messages: Sequence[DeviceMessage]) -> ingest.IngestResult:
    return ingest.ingest_batch(session, messages, now=datetime.now(UTC), file_later=True)


def file_owed_now(session: Session, part: int) -> ingest.OwedResult:
    return ingest.file_owed(
        session,
        now=datetime.now(UTC),
        limit=FILE_OWED_PER_TRANSACTION,
        max_cases=CASES_PER_TRANSACTION,
        part=part,
    )


def dispatch_owed_now(session: Session) -> int:
    settings = get_settings()
    return filing.dispatch_owed(
        session, now=datetime.now(UTC), settings=settings, limit=DISPATCH_PER_TRANSACTION
    )


@dataclass
class WorkerStats:
    """What the worker did since it started (logged every minute and when it stops)."""

    received: int = 0
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    alarms: int = 0
    cases_filed: int = 0
    folded: int = 0
    owed: int = 0  # alarms stored owing a case (filed or folded right after the batch)
    dispatched: int = 0  # device cases filed (立案) and dispatched after they were filed
    refused: Counter[str] = field(default_factory=Counter)  # by "field: reason"
    connections: int = 0

    def add(self, result: ingest.IngestResult) -> None:
        self.stored += result.stored
        self.duplicates += result.duplicates
        self.alarms += result.alarms
        self.cases_filed += result.cases_filed
        self.folded += result.folded
        self.owed += result.pending

    def settled(self, result: ingest.OwedResult) -> None:
        self.cases_filed += result.cases_filed
        self.folded += result.folded

    def summary(self) -> str:
        refused = sum(self.refused.values())
        return (
            f"{self.received} messages in {self.batches} batches: {self.stored} stored,"
            f" {self.duplicates} duplicates, {refused} refused; {self.alarms} alarms,"
            f" {self.cases_filed} cases filed ({self.dispatched} dispatched), {self.folded}"
            " folded into open cases"
        )


class Refusals:
    """Counts refused messages by reason; logs each reason once (never the payload), the first
    REASONS_LOGGED reasons only (an unknown device per reason could flood the log)."""

    REASONS_LOGGED = 50

    def __init__(self, stats: WorkerStats) -> None:
        self.stats = stats

    def refused(self, error: MessageRefused) -> None:
        # values.<name> → values: one line per kind of fault, whatever the device named it.
        self.count(f"{error.field.split('.')[0]}: {error.reason}")

    def count(self, reason: str) -> None:
        if reason not in self.stats.refused and len(self.stats.refused) < self.REASONS_LOGGED:
            logger.warning("sensing worker: refused a message (%s); later ones are counted", reason)
        self.stats.refused[reason] += 1


class Inbox:
    """Messages received and not yet in a batch (filled by paho's callback, on the loop)."""

    def __init__(self, batch_max: int) -> None:
        self.batch_max = batch_max
        self.messages: deque[paho.MQTTMessage] = deque()
        self.arrived = asyncio.Event()
        self.full = asyncio.Event()

    def received(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        self.messages.append(message)
        self.arrived.set()
        if len(self.messages) >= self.batch_max:
            self.full.set()

    def is_full(self) -> bool:
        return len(self.messages) >= self.batch_max

    def take(self) -> list[paho.MQTTMessage]:
        """The next batch: up to batch_max messages, in the order they came."""
        count = min(len(self.messages), self.batch_max)
        batch = [self.messages.popleft() for _ in range(count)]
        if not self.messages:
            self.arrived.clear()
        if len(self.messages) < self.batch_max:
            self.full.clear()
        return batch


class StopRequested(Exception):
    """Stopped while a batch waited for the database: it stays unacknowledged."""


class DatabaseWatch:
    """One WARNING when the database stops answering, one INFO when it is back."""

    def __init__(self) -> None:
        self.down = False

    def went_away(self, error: Exception) -> None:
        if not self.down:
            self.down = True
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            logger.warning(
                "sensing worker: the database is not answering (%s: %s); messages wait"
                " unacknowledged in the broker until it does",
                type(error).__name__,
                first_line,
            )

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.info("sensing worker: the database answers again; ingest resumes")


def worker_sessions(settings: Settings) -> OpenSession:
    """The worker's sessions: an engine of its own without the app's pre-ping (a round trip per
    checkout, one per batch here); a connection that died is found by the batch's statement,
    the batch retried (unacknowledged meanwhile) and the connection replaced by the pool. Its
    statements take the generic plan once psycopg prepared them, like the app's hot paths
    (`citygrid.db`): intake's statement re-planned for every case was half its time."""
    engine = create_engine(
        settings.resolved_database_url(),
        pool_size=2 + ingest.OWED_PARTS,
        pool_recycle=3600,
        connect_args={"options": "-c plan_cache_mode=force_generic_plan"},
    )
    event.listen(engine, "connect", db.without_jit)
    return sessionmaker(bind=engine, expire_on_commit=False)


def commit_batch(
    messages: Sequence[DeviceMessage], ingest_batch: Ingest, open_session: OpenSession
) -> ingest.IngestResult:
    """Ingest and commit one batch in a session of its own (runs in a worker thread)."""
    with open_session() as session:
        result = ingest_batch(session, messages)
        session.commit()
    return result


def commit_step(step: Callable[[Session], T], open_session: OpenSession) -> T:
    """One step of the filer in a transaction of its own (runs in a worker thread)."""
    with open_session() as session:
        result = step(session)
        session.commit()
    return result


class BufferedReads:
    """paho reads a packet with three or four recv() calls (its command byte, the remaining
    length byte by byte, the rest) and aiomqtt's reader reads one packet each time the event
    loop reports the socket readable: two thirds of the event loop's time at full speed went
    to epoll and recv. This reads the socket 64 KiB at a time into a buffer that paho's reads
    are served from, and reads packets until the buffer is empty (data left in it would wait
    for the next readiness of the socket, which may never come)."""

    CHUNK = 65536

    def __init__(self, mqtt: paho.Client) -> None:
        self.mqtt = mqtt
        self.buffer = bytearray()
        self.read_one = mqtt.loop_read
        mqtt._sock_recv = self.recv  # type: ignore[method-assign,assignment]
        mqtt.loop_read = self.loop_read  # type: ignore[method-assign]

    def recv(self, size: int) -> bytes:
        if not self.buffer:
            sock = self.mqtt._sock
            if sock is None:
                raise ConnectionError("self._sock is None")
            try:
                data = sock.recv(max(size, self.CHUNK))
            except ssl.SSLWantReadError as error:
                raise BlockingIOError from error
            except ssl.SSLWantWriteError as error:
                self.mqtt._call_socket_register_write()
                raise BlockingIOError from error
            if not data:
                return b""  # the peer closed the connection
            self.buffer += data
        part = bytes(self.buffer[:size])
        del self.buffer[:size]
        return part

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        while True:
            code = self.read_one(max_packets)
            if code != MQTTErrorCode.MQTT_ERR_SUCCESS or not self.buffer:
                return code


def connect_properties(receive_maximum: int) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    properties.ReceiveMaximum = receive_maximum
    return properties


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        address: MqttAddress,
        *,
        ingest_batch: Ingest = ingest_now,
        check_offline: Callable[[], object] | None = None,
        open_session: OpenSession | None = None,
        file_owed: Callable[[Session, int], ingest.OwedResult] = file_owed_now,
        dispatch_owed: Callable[[Session], int] = dispatch_owed_now,
    ) -> None:
        self.file_owed = file_owed
        self.dispatch_owed = dispatch_owed
        self.open_session = open_session or db.open_session
        self.settings = settings
        self.address = address
        # MQTT 5 costs a properties object per message in paho (a quarter of the worker's time
        # at full speed); 3.1.1 is used where the broker's window is known (the embedded one).
        protocol = settings.mqtt_protocol
        self.mqtt5 = protocol == "5" or (protocol == "auto" and settings.mqtt_url is not None)
        self.ingest_batch = ingest_batch
        self.check_offline = check_offline
        self.stats = WorkerStats()
        self.refusals = Refusals(self.stats)
        self.database = DatabaseWatch()
        self.stopping = asyncio.Event()
        self.subscribed = asyncio.Event()  # set once the session's subscriptions are in place
        # Set when alarms may owe cases: at start (a worker that died between a batch's commit
        # and its filings owes them still), after a batch that stored some, periodically.
        self.owed = [asyncio.Event() for _ in range(ingest.OWED_PARTS)]  # one per filer
        self.owing_at = 0.0  # monotonic time of the last batch with alarms owing cases
        self.dispatched_at = 0.0  # …and of the last dispatching slice
        self.owe()

    def stop(self) -> None:
        self.stopping.set()

    def may_dispatch(self) -> bool:
        """Dispatching waits while batches bring alarms that owe cases (filing them goes
        first), but not longer than DISPATCH_EVERY_S between two slices."""
        now = time.monotonic()
        return (
            now - self.owing_at >= DISPATCH_IDLE_S or now - self.dispatched_at >= DISPATCH_EVERY_S
        )

    def owe(self) -> None:
        """Wake the filers: alarms may owe cases."""
        for owed in self.owed:
            owed.set()

    def client(self) -> aiomqtt.Client:
        address = self.address
        client = aiomqtt.Client(
            address.host if address.unix_socket is None else str(address.unix_socket),
            address.port,
            username=address.username,
            password=address.password,
            identifier=self.settings.mqtt_client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if self.mqtt5 else aiomqtt.ProtocolVersion.V311,
            clean_start=False if self.mqtt5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            clean_session=None if self.mqtt5 else False,
            transport="tcp" if address.unix_socket is None else "unix",
            properties=connect_properties(self.settings.mqtt_receive_maximum)
            if self.mqtt5
            else None,
            keepalive=30,
            tls_params=aiomqtt.TLSParameters() if address.tls else None,
        )
        # aiomqtt has no manual acknowledgement of its own: its paho client acknowledges a
        # QoS 1 message on receipt unless told otherwise; we acknowledge after the commit.
        client._client.manual_ack_set(True)
        BufferedReads(client._client)
        return client

    async def run(self) -> WorkerStats:
        """Consume until stop(); reconnects after broker outages."""
        backoff = RECONNECT_FIRST_S
        offline = asyncio.create_task(self.check_offline_periodically(), name="offline-check")
        summary = asyncio.create_task(self.log_summaries(), name="worker-summary")
        filers = [
            asyncio.create_task(self.settle_owed(part), name=f"filer-{part}")
            for part in range(ingest.OWED_PARTS)
        ]
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    await self.consume_one_connection()
                except aiomqtt.MqttError as error:
                    if self.stopping.is_set():
                        break
                    if time.monotonic() - started > 10:
                        backoff = RECONNECT_FIRST_S  # it was up a while: a new outage
                    logger.warning(
                        "sensing worker: broker %s unreachable or gone (%s); reconnecting in"
                        " %.1f s",
                        self.address.display(),
                        error,
                        backoff,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), backoff)
                    backoff = min(backoff * 2, self.settings.mqtt_reconnect_max_s)
        finally:
            for task in (offline, summary, *filers):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        logger.info("sensing worker stopped: %s", self.stats.summary())
        return self.stats

    async def consume_one_connection(self) -> None:
        inbox = Inbox(self.settings.mqtt_batch_max)
        client = self.client()
        # Messages go straight from paho into the inbox (aiomqtt's per-message objects, queue
        # and task cost a fifth of the worker's time at full speed), from before the connection:
        # the broker resends a session's unacknowledged messages right after it accepts it.
        # aiomqtt's own iterator stays empty and only tells when the connection is lost.
        client._client.on_message = inbox.received
        async with client:
            self.stats.connections += 1
            await client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
            self.subscribed.set()
            logger.info(
                "sensing worker: connected to %s as %s, subscribed to %s",
                self.address.display(),
                self.settings.mqtt_client_id,
                ", ".join(SUBSCRIPTIONS),
            )
            lost = asyncio.create_task(self.until_lost(client), name="mqtt-connection")
            stopping = asyncio.create_task(self.stopping.wait(), name="stopping")
            try:
                while not self.stopping.is_set():
                    arrived = asyncio.create_task(inbox.arrived.wait())
                    done, _ = await asyncio.wait(
                        {arrived, lost, stopping}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if arrived not in done:
                        arrived.cancel()
                        if lost in done:
                            lost.result()  # raises the connection's MqttError
                        break
                    if not inbox.is_full():
                        wait_s = self.settings.mqtt_batch_wait_ms / 1000
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(inbox.full.wait(), wait_s)
                    try:
                        await self.handle(client, inbox.take())
                    except StopRequested:
                        break
            finally:
                for task in (lost, stopping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                        await task

    async def until_lost(self, client: aiomqtt.Client) -> None:
        """Returns never; raises MqttError when the connection is lost."""
        async for _message in client.messages:
            raise AssertionError("messages go to the inbox, not to aiomqtt's queue")

    async def handle(self, client: aiomqtt.Client, batch: list[paho.MQTTMessage]) -> None:
        """Parse, store and commit the batch (retrying while the database is away), then ack."""
        self.stats.received += len(batch)
        parsed: list[DeviceMessage] = []
        for message in batch:
            payload = message.payload
            try:
                parsed.append(parse_message(message.topic, bytes(payload)))
            except MessageRefused as error:
                self.refusals.refused(error)
        if parsed:
            result = await self.commit_until_done(parsed)
            self.stats.add(result)
            for reason in result.refusals:  # unknown or retired devices
                self.refusals.count(reason)
            if result.pending:
                self.owing_at = time.monotonic()
                self.owe()  # the filers file them now, beside the next batches
        self.stats.batches += 1
        acknowledge(client, batch)

    async def commit_until_done(self, messages: list[DeviceMessage]) -> ingest.IngestResult:
        """Commit the batch, waiting out a database outage; a batch that fails for another
        reason (a message the ingest cannot take) is stored message by message instead, so one
        bad message does not hold up the rest forever. StopRequested when stopped meanwhile."""
        try:
            return await self.commit_waiting(messages)
        except StopRequested:
            raise
        except Exception:
            logger.exception(
                "sensing worker: a batch of %d messages failed; storing them one by one",
                len(messages),
            )
        total = ingest.IngestResult()
        for message in messages:
            try:
                result = await self.commit_waiting([message])
            except StopRequested:
                raise
            except Exception as error:
                self.refusals.count(f"ingest failed: {type(error).__name__}")
                total.refused += 1
                continue
            for name in (
                "stored",
                "duplicates",
                "refused",
                "alarms",
                "cases_filed",
                "folded",
                "pending",
            ):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.refusals.extend(result.refusals)
        return total

    async def commit_waiting(self, messages: list[DeviceMessage]) -> ingest.IngestResult:
        """Commit, retrying while the database is away (until stop())."""
        delay = DATABASE_RETRY_FIRST_S
        while True:
            try:
                result = await asyncio.to_thread(
                    commit_batch, messages, self.ingest_batch, self.open_session
                )
            except Exception as error:
                if not database_gone(error):
                    raise
                self.database.went_away(error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
                if self.stopping.is_set():
                    raise StopRequested from error  # unacknowledged: the broker keeps them
                delay = min(delay * 2, DATABASE_RETRY_MAX_S)
                continue
            self.database.answered()
            return result

    async def settle_owed(self, part: int) -> None:
        """The filer, beside the consumer: files the cases that stored alarms owe (each in a
        transaction of its own, so a case exists as soon as it can), then files (立案) and
        dispatches the new cases a few at a time while no new alarm owes a case."""
        failing = False  # logged once until a round succeeds
        owed_event = self.owed[part]

        def file_owed(session: Session) -> ingest.OwedResult:
            return self.file_owed(session, part)

        while True:
            await owed_event.wait()
            owed_event.clear()
            try:
                while True:
                    owed = await asyncio.to_thread(commit_step, file_owed, self.open_session)
                    self.stats.settled(owed)
                    for reason in owed.refusals:
                        self.refusals.count(reason)
                    if not owed.more:
                        break
                while not owed_event.is_set():
                    if not self.may_dispatch():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(owed_event.wait(), DISPATCH_IDLE_S)
                        continue
                    self.dispatched_at = time.monotonic()
                    count = await asyncio.to_thread(
                        commit_step, self.dispatch_owed, self.open_session
                    )
                    self.stats.dispatched += count
                    if count < DISPATCH_PER_TRANSACTION:
                        break
            except Exception as error:
                if database_gone(error):
                    self.database.went_away(error)
                elif not failing:
                    logger.exception("sensing worker: filing owed cases failed; retrying")
                failing = True
                await asyncio.sleep(FILER_RETRY_S)
                owed_event.set()
            else:
                failing = False

    async def check_offline_periodically(self) -> None:
        check = self.check_offline
        while True:
            await asyncio.sleep(self.settings.sensing_offline_check_s)
            self.owe()  # a filing that failed for a while is retried here too
            if check is None:
                continue
            try:
                await asyncio.to_thread(check)
            except Exception as error:
                if database_gone(error):
                    self.database.went_away(error)
                else:
                    logger.exception("sensing worker: the offline check failed; next round retries")

    async def log_summaries(self) -> None:
        while True:
            await asyncio.sleep(SUMMARY_EVERY_S)
            logger.info("sensing worker: %s", self.stats.summary())


def acknowledge(client: aiomqtt.Client, batch: Sequence[paho.MQTTMessage]) -> None:
    """PUBACK every QoS 1 message of the batch (on the connection it came in on)."""
    mqtt: paho.Client = client._client
    for message in batch:
        if message.qos > 0:
            mqtt.ack(message.mid, message.qos)


async def run_until_signalled(worker: IngestWorker) -> WorkerStats:
    """Runs the worker; SIGTERM and SIGINT stop it gracefully."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    return await worker.run()
