"""Tickets stored exactly once under real concurrency: the app's own async pool and sessions on a
committed database, duplicates sent from many threads at once, some of them racing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.app import create_app
from citygrid.cli import migrate
from events.hotline.models import HotlineCaller, HotlineTicket, HotlineTicketEvent
from events.models import Case, Report
from tests.conftest import throwaway_database
from tests.events.hotline.support import seed_hotline, ticket_body
from tests.events.intake.test_intake import wait_for_blocked_inserts


@pytest.fixture(scope="module")
def committed(server_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated database with the test block, a category and a hotline key, committed."""
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = create_engine(url)
        with Session(engine) as seeding:
            _, key = seed_hotline(seeding)
            seeding.commit()
        engine.dispose()
        yield url, key


def test_duplicates_from_many_threads_are_stored_once(
    committed: tuple[str, dict[str, str]],
) -> None:
    committed_url, key = committed
    engine = create_engine(committed_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    app = create_app()
    app.state.statements = db.AsyncStatements(committed_url, max_size=8)
    app.dependency_overrides[db.get_session] = own_session
    numbers = [f"RACE-{index:03d}" for index in range(12)]
    sends = [number for number in numbers for _ in range(4)]  # each number 4 times at once
    with TestClient(app) as client:

        def send(number: str) -> tuple[int, int, int | None]:
            answer = client.post(
                "/api/hotline/tickets", json=ticket_body(number=number), headers=key
            )
            assert answer.status_code in (200, 201), answer.text
            return answer.status_code, answer.json()["id"], answer.json()["case_id"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, sends))
    by_number: dict[str, set[int]] = {}
    for number, (_, ticket_id, _) in zip(sends, answers, strict=True):
        by_number.setdefault(number, set()).add(ticket_id)
    assert all(len(ids) == 1 for ids in by_number.values())
    assert sorted(status for status, _, _ in answers).count(201) == len(numbers)
    with factory() as check:
        race = HotlineTicket.ticket_number.like("RACE-0%")
        assert check.scalar(select(func.count()).where(race)) == len(numbers)
        assert check.scalar(select(func.count()).select_from(HotlineCaller)) == len(numbers)
        assert check.scalar(select(func.count()).select_from(Case)) == len(numbers)
        assert check.scalar(select(func.count()).select_from(Report)) == len(numbers)
        statuses = check.scalars(select(HotlineTicket.status).distinct()).all()
        assert statuses == ["filed"]
        kinds = check.execute(
            text(
                "SELECT string_agg(kind, ',' ORDER BY seq) FROM hotline_ticket_event "
                "GROUP BY ticket_id"
            )
        ).scalars()
        assert set(kinds) == {"received,located,filed"}
        assert check.scalar(select(func.count()).select_from(HotlineTicketEvent)) == 3 * len(
            numbers
        )
    engine.dispose()


def test_a_ticket_racing_its_replay_at_the_insert_is_stored_once(
    committed: tuple[str, dict[str, str]],
) -> None:
    """Both sends wait on the locked table, then insert at once: ON CONFLICT keeps one."""
    committed_url, key = committed
    engine = create_engine(committed_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as seeding:
        before = seeding.scalar(select(func.count()).select_from(Case)) or 0

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    app = create_app()
    app.state.statements = db.AsyncStatements(committed_url, max_size=4)
    app.dependency_overrides[db.get_session] = own_session
    locker = engine.connect()
    locker.execute(text("LOCK TABLE hotline_ticket IN SHARE ROW EXCLUSIVE MODE"))
    body = ticket_body(number="RACE-LOCKED")
    answers: list[tuple[int, int]] = []
    with TestClient(app) as client:

        def send() -> None:
            answer = client.post("/api/hotline/tickets", json=body, headers=key)
            answers.append((answer.status_code, answer.json()["id"]))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            wait_for_blocked_inserts(locker, 2)
        finally:
            locker.rollback()
            locker.close()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(status for status, _ in answers) == [200, 201]
    assert answers[0][1] == answers[1][1]
    with factory() as check:
        stored = check.scalar(
            select(func.count())
            .select_from(HotlineTicket)
            .where(HotlineTicket.ticket_number == "RACE-LOCKED")
        )
        assert stored == 1
        assert check.scalar(select(func.count()).select_from(Case)) == before + 1
    engine.dispose()
