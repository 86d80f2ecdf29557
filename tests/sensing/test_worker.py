"""The MQTT ingest worker against a real mosquitto and a committed database.

The worker commits in transactions of its own, so these tests use a database of their own
(migrated once per module) rather than the rolled-back session of the other sensing tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiomqtt
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from citygrid import cli as citygrid_cli
from citygrid import db
from citygrid.broker import Broker
from citygrid.settings import get_settings
from events import taxonomy
from events.categories import service as categories
from sensing import worker as worker_module
from sensing.ingest import IngestResult, ingest_batch
from sensing.messages import DeviceMessage, topic_for
from sensing.simulate import device_messages, publish_all
from sensing.worker import Ingest, IngestWorker, ingest_now
from tests.conftest import throwaway_database
from tests.sensing.mqtt_fixtures import private_broker
from tests.sensing.support import COVER_CODE, NOW, add_device, message, seed_cover

DEVICES = [f"W-{number:02}" for number in range(10)]


@pytest.fixture(scope="module")
def committed(server_url: str) -> Iterator[Engine]:
    """A migrated database with the taxonomy, the block, the sewage cover and ten tilt
    sensors on it, committed."""
    with throwaway_database(server_url) as url:
        citygrid_cli.migrate(url)
        engine = db.make_engine(url, pool_size=4)
        with Session(engine) as session:
            categories.load_taxonomy(session, taxonomy.read_taxonomy())
            seed_cover(session)
            for device_id in DEVICES:
                add_device(session, device_id, component_code=COVER_CODE)
            session.commit()
        yield engine
        engine.dispose()


@pytest.fixture
def broker() -> Iterator[Broker]:
    with private_broker() as started:
        yield started


def scalar(engine: Engine, sql: str, **parameters: object) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text(sql), parameters) or 0)


def opener(engine: Engine) -> Callable[[], AbstractContextManager[Session]]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@asynccontextmanager
async def running_worker(
    broker: Broker, engine: Engine, client_id: str, *, ingest: Ingest = ingest_now
) -> AsyncIterator[IngestWorker]:
    settings = get_settings().model_copy(
        update={"mqtt_client_id": client_id, "mqtt_batch_wait_ms": 20.0}
    )
    worker = IngestWorker(
        settings, broker.address(), open_session=opener(engine), ingest_batch=ingest
    )
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.subscribed.wait(), 10)
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def recent(seconds_ago: float = 600) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds_ago)


def test_telemetry_published_over_mqtt_is_stored_once(broker: Broker, committed: Engine) -> None:
    device = DEVICES[0]
    readings = list(
        device_messages(
            "telemetry", 20, [device], start=recent(), values=lambda n: {"tilt_deg": 1.0 + n / 10}
        )
    )

    async def scenario() -> IngestWorker:
        async with running_worker(broker, committed, "test-telemetry") as worker:
            report = await publish_all(broker.address(), readings, in_flight=10)
            assert report.acknowledged == 20
            await until(lambda: worker.stats.stored == 20)
            return worker

    worker = asyncio.run(scenario())
    stored = scalar(
        committed, "SELECT count(*) FROM sensing_reading WHERE device_id = :d", d=device
    )
    assert stored == 20 and worker.stats.duplicates == 0
    cases = scalar(committed, "SELECT count(*) FROM sensing_case WHERE device_id = :d", d=device)
    assert cases == 0  # 1°–2.9°: under the 15° threshold, nothing to file


def test_a_tilt_held_past_the_hold_time_files_one_case_and_alarms_fold(
    broker: Broker, committed: Engine
) -> None:
    device = DEVICES[1]
    start = recent()
    tilt = list(
        device_messages(
            "telemetry", 4, [device], start=start, values=lambda _: {"tilt_deg": 22.0}, prefix="t"
        )
    )  # 22° at 0, 1, 2 and 3 s: held for the type's 3 s
    alarms = list(device_messages("alarm", 50, [device], start=start + timedelta(seconds=10)))

    async def scenario() -> None:
        async with running_worker(broker, committed, "test-tilt") as worker:
            await publish_all(broker.address(), tilt, in_flight=1)
            await until(lambda: worker.stats.stored == 4)
            await publish_all(broker.address(), alarms, in_flight=10)
            # Stored and acknowledged first; the case is filed beside, then dispatched.
            await until(lambda: worker.stats.stored == 54)
            await until(lambda: (worker.stats.cases_filed, worker.stats.dispatched) == (1, 1))
            await until(lambda: worker.stats.folded == 50)

    asyncio.run(scenario())
    with committed.connect() as connection:
        cases = connection.execute(
            text(
                "SELECT sc.case_id, sc.alarm_count FROM sensing_case sc"
                " WHERE sc.device_id = :d AND sc.reason = 'alarm'"
            ),
            {"d": device},
        ).all()
        outcomes: dict[str, int] = dict(
            connection.execute(
                text(
                    "SELECT outcome, count(*) FROM sensing_alarm WHERE device_id = :d"
                    " GROUP BY outcome"
                ),
                {"d": device},
            ).all()
        )
        component = connection.scalar(
            text(
                "SELECT m.code FROM event_case c JOIN component m ON m.id = c.component_id"
                " WHERE c.id = :case"
            ),
            {"case": cases[0].case_id},
        )
    assert len(cases) == 1, cases
    assert outcomes == {"filed": 1, "folded": 50}
    assert cases[0].alarm_count == 51
    assert component == COVER_CODE  # the cover it watches: its maintainer gets the case
    status = scalar(
        committed,
        "SELECT count(*) FROM event_case WHERE id = :case AND status = 'dispatched'",
        case=cases[0].case_id,
    )
    assert status == 1  # filed (立案) and dispatched to the maintainer right after


def test_alarms_owing_a_case_when_a_worker_died_are_filed_by_the_next_one(
    broker: Broker, committed: Engine
) -> None:
    # A worker committed (and acknowledged) a batch, then died before filing its case: the
    # alarms are stored 'pending', the durable record that a case is owed.
    with Session(committed) as session:
        add_device(session, "W-DIED")  # on no component: its own case
        died = [message("W-DIED", "alarm", f"d{i}", i, {"tilt_deg": 30.0 + i}) for i in range(3)]
        owed = ingest_batch(session, died, now=NOW, file_later=True)
        session.commit()
    assert (owed.stored, owed.pending, owed.cases_filed) == (3, 3, 0)

    async def scenario() -> IngestWorker:
        async with running_worker(broker, committed, "test-died") as worker:
            await until(lambda: worker.stats.cases_filed == 1)
            return worker

    worker = asyncio.run(scenario())
    assert worker.stats.folded == 2
    with committed.connect() as connection:
        alarms = connection.execute(
            text(
                "SELECT outcome, case_id, value FROM sensing_alarm WHERE device_id = 'W-DIED'"
                " ORDER BY at"
            )
        ).all()
        case = connection.execute(
            text("SELECT case_id, alarm_count FROM sensing_case WHERE device_id = 'W-DIED'")
        ).one()
    assert [row.outcome for row in alarms] == ["filed", "folded", "folded"]
    assert {row.case_id for row in alarms} == {case.case_id} and case.alarm_count == 3
    assert [row.value for row in alarms] == [30.0, 31.0, 32.0]


def test_refused_messages_are_counted_and_not_redelivered(
    broker: Broker, committed: Engine
) -> None:
    address = broker.address()

    async def publish_bad() -> None:
        async with aiomqtt.Client(address.host, address.port) as client:
            await client.publish(topic_for(DEVICES[2], "telemetry"), b"not json", qos=1)
            await client.publish(
                topic_for(DEVICES[2], "telemetry"),
                json.dumps({"message_id": "x1", "time": "yesterday"}).encode(),
                qos=1,
            )
            await client.publish(
                topic_for("NOT-REGISTERED", "heartbeat"),
                json.dumps({"message_id": "h1", "time": recent().isoformat()}).encode(),
                qos=1,
            )

    async def scenario() -> tuple[int, int]:
        async with running_worker(broker, committed, "test-refused") as worker:
            await publish_bad()
            await until(lambda: worker.stats.received == 3)
            refused = sum(worker.stats.refused.values())
        async with running_worker(broker, committed, "test-refused") as again:
            await asyncio.sleep(0.5)  # anything unacknowledged would come back now
            return refused, again.stats.received

    refused, redelivered = asyncio.run(scenario())
    assert refused == 3
    assert redelivered == 0


def test_messages_redelivered_after_a_worker_died_unacknowledged_are_not_doubled(
    broker: Broker, committed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst moment to die: the batch is committed, its PUBACKs not sent yet."""
    devices = DEVICES[3:6]
    alarms = list(device_messages("alarm", 60, devices, start=recent(), prefix="r"))

    def count() -> int:
        return scalar(
            committed,
            "SELECT count(*) FROM sensing_alarm WHERE device_id = ANY(:d)",
            d=devices,
        )

    async def scenario() -> tuple[int, int]:
        with monkeypatch.context() as patched:
            patched.setattr(worker_module, "acknowledge", lambda client, batch: None)
            async with running_worker(broker, committed, "test-redelivery") as dying:
                await publish_all(broker.address(), alarms, in_flight=20)
                await until(lambda: dying.stats.stored == 60)
        assert count() == 60
        async with running_worker(broker, committed, "test-redelivery") as restarted:
            await until(lambda: restarted.stats.received == 60)
            return restarted.stats.duplicates, restarted.stats.stored

    duplicates, stored = asyncio.run(scenario())
    assert (duplicates, stored) == (60, 0)  # all 60 came back; none stored twice
    assert count() == 60


def test_a_database_outage_holds_the_batch_and_warns_once(
    broker: Broker, committed: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL going away (as a restart does) keeps the batch unacknowledged and retried."""
    device = DEVICES[6]
    readings = list(
        device_messages(
            "telemetry", 5, [device], start=recent(), values=lambda _: {"tilt_deg": 1.0}
        )
    )
    failures = {"left": 3}

    def flaky(session: Session, messages: Sequence[DeviceMessage]) -> IngestResult:
        if failures["left"]:
            failures["left"] -= 1
            raise psycopg.OperationalError("connection to server failed: No such file")
        return ingest_now(session, messages)

    async def scenario() -> IngestWorker:
        async with running_worker(broker, committed, "test-outage", ingest=flaky) as worker:
            await publish_all(broker.address(), readings, in_flight=5)
            await until(lambda: worker.stats.stored == 5)
            return worker

    with caplog.at_level(logging.INFO, logger="sensing.worker"):
        worker = asyncio.run(scenario())
    warnings = [r for r in caplog.records if "database is not answering" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert worker.stats.stored == 5 and failures["left"] == 0


def test_a_message_the_ingest_cannot_take_does_not_hold_up_the_others(
    broker: Broker, committed: Engine
) -> None:
    device = DEVICES[7]
    readings = list(
        device_messages(
            "telemetry", 6, [device], start=recent(), values=lambda _: {"tilt_deg": 1.0}
        )
    )

    def choking(session: Session, messages: Sequence[DeviceMessage]) -> IngestResult:
        if any(message.message_id == "m3" for message in messages):
            raise ValueError("a bug met m3")
        return ingest_now(session, messages)

    async def scenario() -> IngestWorker:
        async with running_worker(broker, committed, "test-poison", ingest=choking) as worker:
            await publish_all(broker.address(), readings, in_flight=6)
            await until(lambda: worker.stats.received == 6 and worker.stats.batches >= 1)
            await until(lambda: worker.stats.stored == 5)
            return worker

    worker = asyncio.run(scenario())
    assert worker.stats.refused == {"ingest failed: ValueError": 1}
    stored = scalar(
        committed, "SELECT count(*) FROM sensing_reading WHERE device_id = :d", d=device
    )
    assert stored == 5


def test_stopping_during_an_outage_leaves_the_batch_to_the_broker(
    broker: Broker, committed: Engine
) -> None:
    device = DEVICES[8]
    readings = list(
        device_messages(
            "telemetry", 4, [device], start=recent(), values=lambda _: {"tilt_deg": 1.0}
        )
    )

    def down(session: Session, messages: Sequence[DeviceMessage]) -> IngestResult:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    async def scenario() -> tuple[int, int]:
        async with running_worker(broker, committed, "test-stop", ingest=down) as stuck:
            await publish_all(broker.address(), readings, in_flight=4)
            await until(lambda: stuck.database.down)
        async with running_worker(broker, committed, "test-stop") as healthy:
            await until(lambda: healthy.stats.stored == 4)
            return stuck.stats.stored, healthy.stats.stored

    assert asyncio.run(scenario()) == (0, 4)


def test_the_worker_checks_for_silent_devices_periodically(
    broker: Broker, committed: Engine
) -> None:
    rounds: list[float] = []
    settings = get_settings().model_copy(
        update={"mqtt_client_id": "test-offline", "sensing_offline_check_s": 0.1}
    )

    async def scenario() -> None:
        worker = IngestWorker(
            settings,
            broker.address(),
            open_session=opener(committed),
            check_offline=lambda: rounds.append(1.0),
        )
        task = asyncio.create_task(worker.run())
        await until(lambda: len(rounds) >= 3, timeout=10)
        worker.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert len(rounds) >= 3
