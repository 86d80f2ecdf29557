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
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.broker import MqttAddress
from citygrid.settings import Settings
from dispatch.scheduler import database_gone
from sensing import ingest
from sensing.messages import KINDS, TOPIC_PREFIX, DeviceMessage, MessageRefused, parse_message

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = [f"{TOPIC_PREFIX}/+/{kind}" for kind in KINDS]
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps the session (and queues) this long
RECONNECT_FIRST_S = 0.2
DATABASE_RETRY_FIRST_S = 0.2
DATABASE_RETRY_MAX_S = 5.0
SUMMARY_EVERY_S = 60.0

Ingest = Callable[[Session, Sequence[DeviceMessage]], ingest.IngestResult]
OpenSession = Callable[[], AbstractContextManager[Session]]


def ingest_now(session: Session, messages: Sequence[DeviceMessage]) -> ingest.IngestResult:
    return ingest.ingest_batch(session, messages, now=datetime.now(UTC))


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
    refused: Counter[str] = field(default_factory=Counter)  # by "field: reason"
    connections: int = 0

    def add(self, result: ingest.IngestResult) -> None:
        self.stored += result.stored
        self.duplicates += result.duplicates
        self.alarms += result.alarms
        self.cases_filed += result.cases_filed
        self.folded += result.folded

    def summary(self) -> str:
        refused = sum(self.refused.values())
        return (
            f"{self.received} messages in {self.batches} batches: {self.stored} stored,"
            f" {self.duplicates} duplicates, {refused} refused; {self.alarms} alarms,"
            f" {self.cases_filed} cases filed, {self.folded} folded into open cases"
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


def commit_batch(
    messages: Sequence[DeviceMessage], ingest_batch: Ingest, open_session: OpenSession
) -> ingest.IngestResult:
    """Ingest and commit one batch in a session of its own (runs in a worker thread)."""
    with open_session() as session:
        result = ingest_batch(session, messages)
        session.commit()
    return result


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
    ) -> None:
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

    def stop(self) -> None:
        self.stopping.set()

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
        return client

    async def run(self) -> WorkerStats:
        """Consume until stop(); reconnects after broker outages."""
        backoff = RECONNECT_FIRST_S
        offline = asyncio.create_task(self.check_offline_periodically(), name="offline-check")
        summary = asyncio.create_task(self.log_summaries(), name="worker-summary")
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
            for task in (offline, summary):
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
            for name in ("stored", "duplicates", "refused", "alarms", "cases_filed", "folded"):
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

    async def check_offline_periodically(self) -> None:
        if self.check_offline is None:
            return
        check = self.check_offline
        while True:
            await asyncio.sleep(self.settings.sensing_offline_check_s)
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
