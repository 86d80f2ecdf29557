"""Two people acting on one case at the same moment: exactly one wins, the other gets 409.

Runs on a committed throwaway database with a connection per request (the rolled-back
per-test transaction would put both requests on one connection, and nothing would race).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal, Role
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from events.cases import service as case_service
from events.cases.schemas import CaseActionBody
from events.lifecycle import CaseAction, CaseStatus
from events.models import CaseAssignment, CaseTransition, Category
from tests.conftest import throwaway_database, token_for
from tests.events.cases.world import TEST_STANDARD
from tests.events.seed import add_case, add_category, add_department, add_user

ROUNDS = 5  # each round races on a fresh case
LOCK_WAIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Cast:
    """Ids of the committed users who race."""

    category_id: int
    dispatchers: tuple[Principal, Principal]
    worker: Principal  # of HW-01


@pytest.fixture(scope="module")
def committed(server_url: str) -> Iterator[tuple[Engine, Cast]]:
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = db.make_engine(url, pool_size=4)
        with Session(engine, expire_on_commit=False) as session:
            sanitation = add_department(session, code="HW-01")
            add_department(session, code="LD-01", kind="roads")
            cast = Cast(
                category_id=add_category(session, code="9901", standard=TEST_STANDARD).id,
                dispatchers=(
                    add_user(session, Role.DISPATCHER).principal(),
                    add_user(session, Role.DISPATCHER).principal(),
                ),
                worker=add_user(session, Role.DEPARTMENT, department=sanitation).principal(),
            )
            session.commit()
        yield engine, cast
        engine.dispose()


@pytest.fixture(scope="module")
def racing_client(committed: tuple[Engine, Cast]) -> Iterator[TestClient]:
    engine, _ = committed
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def session_per_request() -> Iterator[Session]:
        with factory() as session:
            yield session

    app = create_app()
    app.dependency_overrides[db.get_session] = session_per_request
    with TestClient(app) as test_client:
        yield test_client


def new_case(engine: Engine, cast: Cast, status: CaseStatus, *, department: str | None) -> int:
    """A committed case in `status`, dispatched to the department with code `department` (its
    assignment row too: a department keeps seeing a case it held, e.g. after returning it)."""
    with Session(engine) as session:
        category = session.get(Category, cast.category_id)
        assert category is not None
        case = add_case(session, category=category, status=status)
        if department is not None:
            department_id = session.scalar(
                select(Department.id).where(Department.code == department)
            )
            assert department_id is not None
            case.department_id = department_id
            session.add(
                CaseAssignment(
                    case_id=case.id, department_id=department_id, dispatched_at=datetime.now(UTC)
                )
            )
        session.commit()
        return case.id


def history_count(engine: Engine, case_id: int) -> int:
    with Session(engine) as session:
        count = session.scalar(select(func.count()).where(CaseTransition.case_id == case_id))
        return int(count or 0)


def headers(principal: Principal) -> dict[str, str]:
    token = token_for(
        principal.role, user_id=principal.user_id, department_id=principal.department_id
    )
    return {"Authorization": f"Bearer {token}"}


def race(client: TestClient, posts: list[tuple[str, dict[str, Any], Principal]]) -> list[int]:
    """POST every (url, body, caller) at once; their status codes, sorted."""
    barrier = threading.Barrier(len(posts))
    responses: list[Response] = []

    def post(url: str, body: dict[str, Any], principal: Principal) -> None:
        barrier.wait()
        responses.append(client.post(url, json=body, headers=headers(principal)))

    threads = [threading.Thread(target=post, args=p) for p in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for response in responses:
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:
            assert response.json()["status"] in {s.value for s in CaseStatus}
    return sorted(response.status_code for response in responses)


def test_two_dispatchers_dispatching_at_once(
    racing_client: TestClient, committed: tuple[Engine, Cast]
) -> None:
    engine, cast = committed
    first, second = cast.dispatchers
    for _ in range(ROUNDS):
        case_id = new_case(engine, cast, CaseStatus.FILED, department=None)
        url = f"/api/cases/{case_id}/actions/dispatch"
        # Both saw the filed case (version 1); without it the later one would be a reassign.
        codes = race(
            racing_client,
            [
                (url, {"department_code": "HW-01", "expected_version": 1}, first),
                (url, {"department_code": "LD-01", "expected_version": 1}, second),
            ],
        )
        assert codes == [200, 409]
        assert history_count(engine, case_id) == 2  # the report and one dispatch


def test_accept_and_return_at_once(
    racing_client: TestClient, committed: tuple[Engine, Cast]
) -> None:
    engine, cast = committed
    for _ in range(ROUNDS):
        case_id = new_case(engine, cast, CaseStatus.DISPATCHED, department="HW-01")
        base = f"/api/cases/{case_id}/actions"
        codes = race(
            racing_client,
            [
                (f"{base}/accept", {}, cast.worker),
                (f"{base}/return", {"reason": "not ours"}, cast.worker),
            ],
        )
        assert codes == [200, 409]
        assert history_count(engine, case_id) == 2


def test_the_guarded_update_refuses_the_second_of_two_open_transactions(
    committed: tuple[Engine, Cast],
) -> None:
    """Deterministic: the second action reads the case before the first commits, waits on the
    row, and finds the version moved on once the first commits."""
    engine, cast = committed
    case_id = new_case(engine, cast, CaseStatus.FILED, department=None)
    first, second = cast.dispatchers
    now, window = datetime.now(UTC), timedelta(days=30)
    outcome: list[BaseException | None] = []
    with Session(engine) as winner:
        dispatch = CaseActionBody(department_code="HW-01")
        actions.act_on_case(
            winner,
            case_id,
            CaseAction.DISPATCH,
            first,
            dispatch,
            now,
            reopen_window=window,
            default_calendar_code=get_settings().default_calendar_code,
        )

        def lose() -> None:
            with Session(engine) as loser:
                body = CaseActionBody(reason="a duplicate")
                try:
                    actions.act_on_case(
                        loser,
                        case_id,
                        CaseAction.CANCEL,
                        second,
                        body,
                        now,
                        reopen_window=window,
                        default_calendar_code=get_settings().default_calendar_code,
                    )
                    outcome.append(None)
                except case_service.CaseChanged as error:
                    outcome.append(error)

        thread = threading.Thread(target=lose)
        thread.start()
        wait_for_a_lock_wait(engine)
        winner.commit()
        thread.join()
    assert isinstance(outcome[0], case_service.CaseChanged)
    assert outcome[0].payload()["status"] == "dispatched"
    assert history_count(engine, case_id) == 2


def wait_for_a_lock_wait(engine: Engine) -> None:
    """Until some backend of this database waits on a row lock (the loser's UPDATE)."""
    deadline = time.monotonic() + LOCK_WAIT_TIMEOUT_S
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            connection.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second transaction never waited on the case's row")
