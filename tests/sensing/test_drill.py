"""The reliability drill, short form: 2,000 alarms with message ids from 50 simulated devices,
published while the worker (a real `citygrid sensing worker` process) is killed with SIGKILL and
restarted twice and the broker is restarted once: each alarm the broker acknowledged is in the
database exactly once, filed or folded. The long form (100,000 alarms, 1,000 devices) is
bench/sensing.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citygrid import cli as citygrid_cli
from citygrid import db
from citygrid.broker import temporary_broker
from events import taxonomy
from events.categories import service as categories
from sensing.drill import run_drill
from tests.conftest import throwaway_database
from tests.sensing.support import COVER_CODE, add_device, seed_cover

DEVICES = [f"D-{number:03}" for number in range(50)]


@pytest.fixture(scope="module")
def drill_database(server_url: str) -> Iterator[tuple[str, Engine]]:
    with throwaway_database(server_url) as url:
        citygrid_cli.migrate(url)
        engine = db.make_engine(url, pool_size=2)
        with Session(engine) as session:
            categories.load_taxonomy(session, taxonomy.read_taxonomy())
            seed_cover(session)
            for number, device_id in enumerate(DEVICES):
                # Half watch the cover (their alarms fold into its case), half watch nothing.
                cover = {"component_code": COVER_CODE} if number % 2 else {}
                add_device(session, device_id, **cover)
            session.commit()
        yield url, engine
        engine.dispose()


def test_every_acknowledged_alarm_is_stored_exactly_once_through_kills_and_a_restart(
    drill_database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = drill_database
    with temporary_broker() as broker:
        report = asyncio.run(
            run_drill(
                broker,
                engine,
                url,
                DEVICES,
                2_000,
                log=tmp_path / "worker.log",
                rate=300,  # seven seconds of publishing: the restart and kills land within them
                in_flight=50,
                drain_timeout_s=60,
            )
        )
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert (report.worker_kills, report.broker_restarts) == (2, 1)
    assert report.acknowledged == 2_000
    assert report.publisher_reconnects >= 1  # the broker restarted while they were publishing
    assert report.lost == 0, log[-3000:]
    assert report.doubled == 0 and report.unexpected == 0
    assert report.stored == 2_000
    assert set(report.outcomes) <= {"filed", "folded"}, report.outcomes
    assert sum(report.outcomes.values()) == 2_000
    assert report.case_alarm_total == 2_000  # the cases' alarm counts add up: none counted twice
    assert report.worker_exit == 0  # SIGTERM: a clean stop
    # Three worker starts and one reconnection after the broker's restart.
    assert log.count("subscribed to") == 4 and "reconnecting in" in log
