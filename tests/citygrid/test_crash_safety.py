"""Crash safety: nothing acknowledged is lost when PostgreSQL crashes under load.

The short form of bench/crash.py: a private cluster (the shared one is never stopped), the app
in a uvicorn subprocess with its scheduler on, four phones filing reports for 20 seconds (and 5
at least after the restart), a reader of staff lists, overdue assignments escalating to a
webhook receiver, and PostgreSQL stopped in immediate mode for 6 seconds in the middle of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.crash import (
    CLIENT_TIMEOUT_S,
    ROOT,
    DrillFigures,
    DrillPlan,
    Ledger,
    answer_kind,
    new_private_cluster,
    recovery_times_s,
    run_drill,
)
from citygrid.db import close_after_request
from citygrid.settings import get_settings
from dispatch.escalation.ladder import DEFAULT_CHAIN
from dispatch.scheduler import AcceptedDeliveries

SHORT_PLAN = DrillPlan(load_s=20.0, clients=4, crashes=1, down_s=6.0, assignments_per_s=1.0)
ANSWERS_ALLOWED = {"200", "201", "503", "read 200", "read 503"}  # replay, new case, down


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> DrillFigures:
    return run_drill(SHORT_PLAN, tmp_path_factory.mktemp("crash"))


@pytest.mark.crash
def test_every_acknowledged_report_is_stored_once_under_its_case(figures: DrillFigures) -> None:
    print("\n".join(figures.lines()))
    assert figures.acknowledged >= 50
    assert (figures.lost, figures.doubled, figures.unfinished) == (0, 0, 0)
    assert figures.resent >= 5  # acknowledged reports sent again came back as the same case


@pytest.mark.crash
def test_the_api_answers_503_with_retry_after_while_the_database_is_down(
    figures: DrillFigures,
) -> None:
    assert figures.answers.get("503", 0) >= 1
    assert set(figures.answers) <= ANSWERS_ALLOWED, figures.answers  # no 500, no timeout
    assert figures.slowest_answer_s < CLIENT_TIMEOUT_S


@pytest.mark.crash
def test_the_app_recovers_by_itself_when_the_database_returns(figures: DrillFigures) -> None:
    assert not figures.app_restarted
    [recovery_s] = figures.recovery_s
    assert recovery_s < 10.0


@pytest.mark.crash
def test_a_database_restart_is_one_warning_in_the_log_not_an_error(figures: DrillFigures) -> None:
    assert figures.errors_logged == []
    assert figures.scheduler_warnings == SHORT_PLAN.crashes


@pytest.mark.crash
def test_escalations_fire_once_and_deliveries_arrive_across_the_crash(
    figures: DrillFigures,
) -> None:
    assert figures.assignments >= 5
    assert (figures.escalations_missing, figures.escalations_doubled) == (0, 0)
    assert figures.deliveries == figures.assignments * len(DEFAULT_CHAIN.steps)  # one per step
    assert figures.deliveries_pending == 0
    assert figures.received_distinct == figures.deliveries
    assert figures.received_unknown == 0
    # The delivery in flight when the database went away is recorded from memory, not resent.
    assert figures.received_total == figures.received_distinct


@pytest.mark.parametrize(
    ("load_s", "crashes", "down_s", "offsets_s"),
    [
        (20.0, 1, 6.0, [7.0]),
        (120.0, 2, 8.0, [36.0, 76.0]),
    ],
)
def test_crashes_are_spread_with_load_on_both_sides(
    load_s: float, crashes: int, down_s: float, offsets_s: list[float]
) -> None:
    plan = DrillPlan(load_s=load_s, crashes=crashes, down_s=down_s)
    assert plan.crash_offsets_s() == pytest.approx(offsets_s)


@pytest.mark.parametrize(
    ("status_code", "headers", "kind"),
    [
        (201, {}, "201"),
        (503, {"Retry-After": "5"}, "503"),
        (503, {}, "503 without Retry-After"),
        (500, {}, "500"),
    ],
)
def test_answers_are_told_apart(status_code: int, headers: dict[str, str], kind: str) -> None:
    assert answer_kind(httpx.Response(status_code, headers=headers)) == kind


@pytest.mark.parametrize(
    ("acknowledged_at", "restarted_at", "expected_s"),
    [
        ([1.0, 5.0, 7.5], [4.0], [1.0]),
        ([1.0, 12.0, 30.0], [10.0, 29.0], [2.0, 1.0]),
        ([1.0], [4.0], [float("inf")]),  # never recovered
    ],
)
def test_recovery_is_measured_from_the_database_start_to_the_next_acknowledgement(
    acknowledged_at: list[float], restarted_at: list[float], expected_s: list[float]
) -> None:
    ledger = Ledger(acknowledged_at=acknowledged_at)
    assert recovery_times_s(ledger, restarted_at) == expected_s


def test_the_drill_refuses_the_shared_cluster() -> None:
    with pytest.raises(RuntimeError, match="not a new private cluster"):
        new_private_cluster(ROOT / ".citygrid", configured_state=get_settings().state_dir)


class CountingReceiver:
    """A sender whose answers are given in advance; it counts the posts per delivery id."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.posts: list[str] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.posts.append(headers["X-Citygrid-Delivery"])
        return self.statuses.pop(0)


@pytest.mark.parametrize(
    ("statuses", "forget_between", "posts", "answers"),
    [
        ([204], False, ["e1"], [204, 204]),  # accepted, commit failed: answered from memory
        ([204, 200], True, ["e1", "e1"], [204, 200]),  # committed and forgotten: posted as asked
        ([500, 204], False, ["e1", "e1"], [500, 204]),  # refused: posted again
    ],
)
def test_an_accepted_delivery_is_not_posted_again_before_its_commit(
    statuses: list[int], forget_between: bool, posts: list[str], answers: list[int]
) -> None:
    receiver = CountingReceiver(statuses)
    accepted = AcceptedDeliveries()
    send = accepted.remembering(receiver)
    headers = {"X-Citygrid-Delivery": "e1"}

    first = send("http://hooks.example/cg", b"{}", headers)
    if forget_between:
        accepted.forget()
    second = send("http://hooks.example/cg", b"{}", headers)

    assert (receiver.posts, [first, second]) == (posts, answers)


def test_a_session_whose_connection_died_closes_quietly(engine: Engine) -> None:
    session = Session(engine)
    backend_pid = session.scalar(text("SELECT pg_backend_pid()"))  # a transaction is open
    with engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
        other.commit()

    close_after_request(session)  # the rollback fails on the dead connection: not raised

    with Session(engine) as fresh:
        assert fresh.scalar(text("SELECT 1")) == 1
