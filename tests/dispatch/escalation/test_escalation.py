"""Escalation: the pure chain arithmetic, and runs at controlled times through the inbox, the
webhook outbox and `citygrid dispatch escalations run`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid import db
from citygrid.accounts.models import Department, DepartmentSupervisor, User
from citygrid.accounts.roles import Role
from citygrid.errors import NotFound
from citygrid.settings import Settings, get_settings
from dispatch import scheduler
from dispatch.calendars import service as calendars
from dispatch.deadlines import DEFAULT_PERIODS, DEFAULT_WEEKDAYS, WorkCalendar, add_working_hours
from dispatch.escalation.ladder import (
    DEFAULT_CHAIN,
    EscalationStep,
    Recipient,
    describe_step,
    due_steps,
    parse_chain,
    step_threshold,
)
from dispatch.escalation.service import run_escalations
from dispatch.models import Escalation, RuleSet, WebhookDelivery
from dispatch.webhooks import service as webhooks
from events.models import CaseAssignment
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(periods=DEFAULT_PERIODS, weekdays=DEFAULT_WEEKDAYS, time_zone=SHANGHAI)
THURSDAY_9 = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
STEPS = {step.step: step for step in DEFAULT_CHAIN.steps}
MINUTE = timedelta(minutes=1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


# -- The pure chain -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "dispatched_at", "suspended_hours", "expected"),
    [
        ("warning", THURSDAY_9, 0.0, local(26, 13, 42)),  # 3.2 h: over the lunch break
        ("overdue", THURSDAY_9, 0.0, local(26, 14, 30)),
        ("escalated", THURSDAY_9, 0.0, local(27, 9, 30)),  # 8 h: into the next morning
        ("overdue", THURSDAY_9, 2.0, local(26, 16, 30)),  # suspended time does not count
        ("overdue", local(27, 16, 0), 0.0, local(30, 11, 0)),  # Friday → Monday
    ],
)
def test_step_threshold_counts_working_time(
    step: str, dispatched_at: datetime, suspended_hours: float, expected: datetime
) -> None:
    threshold = step_threshold(
        STEPS[step],
        dispatched_at=dispatched_at,
        allowed_hours=4.0,
        suspended_hours=suspended_hours,
        calendar=CALENDAR,
    )
    assert threshold == expected


THRESHOLDS = {
    "warning": local(26, 13, 42),
    "overdue": local(26, 14, 30),
    "escalated": local(27, 9, 30),
}


@pytest.mark.parametrize(
    ("fired", "now", "expected"),
    [
        (set(), local(26, 13, 41), []),
        (set(), local(26, 13, 42), ["warning"]),
        ({"warning"}, local(26, 15, 0), ["overdue"]),
        ({"warning", "overdue"}, local(27, 9, 29), []),
        (set(), local(28, 0, 0), ["warning", "overdue", "escalated"]),  # catching up
        ({"warning", "overdue", "escalated"}, local(30, 0, 0), []),
    ],
)
def test_due_steps_are_the_unfired_ones_past_their_threshold(
    fired: set[str], now: datetime, expected: list[str]
) -> None:
    assert [step.step for step in due_steps(DEFAULT_CHAIN, fired, THRESHOLDS, now)] == expected


@pytest.mark.parametrize(
    ("step", "title"),
    [
        (STEPS["warning"], "80 % of the time limit used [warning]"),
        (STEPS["overdue"], "overdue [overdue]"),
        (STEPS["escalated"], "overdue by 4 working hours [escalated]"),
        (
            EscalationStep(step="late", at_fraction=1.5, notify=[Recipient.MANAGERS]),
            "150 % of the time limit used [late]",
        ),
    ],
)
def test_describe_step(step: EscalationStep, title: str) -> None:
    assert describe_step(step) == title


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"step": "early", "at_fraction": 0.5, "notify": ["department"]}], "greater than or"),
        ([{"step": "x", "at_fraction": 1.0, "notify": ["mayor"]}], "notify"),
        (
            [
                {"step": "b", "at_fraction": 1.0, "notify": ["managers"]},
                {"step": "a", "at_fraction": 0.8, "notify": ["department"]},
            ],
            "in the order they fire",
        ),
    ],
)
def test_parse_chain_refuses_bad_chains(raw: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_chain(raw)


def test_parse_chain_defaults_when_empty() -> None:
    assert parse_chain([]) is DEFAULT_CHAIN


# -- Runs against the database ------------------------------------------------------------------


@dataclass
class Scene:
    """A department with two members and a supervisor, a dispatcher, a manager, one case
    dispatched to the department on Thursday 09:00 with 4 working hours, and its thresholds."""

    department: Department
    members: list[User]
    supervisor: User
    dispatcher: User
    manager: User
    assignment: CaseAssignment
    thresholds: dict[str, datetime]


def assign(session: Session, department: Department, *, limit_hours: float = 4.0) -> CaseAssignment:
    """A current assignment dispatched on Thursday 09:00, deadlines from the default calendar."""
    case = add_case(session, category=add_category(session), department=department)
    calendar = calendars.calendar_for_department(
        session, department.id, default_code=get_settings().default_calendar_code
    )
    due = add_working_hours(THURSDAY_9, limit_hours, calendar)
    warn = add_working_hours(THURSDAY_9, 0.8 * limit_hours, calendar)
    assignment = CaseAssignment(
        case_id=case.id,
        department_id=department.id,
        dispatched_at=THURSDAY_9,
        limit_hours=limit_hours,
        due_at=due.at,
        warn_at=warn.at,
        due_provisional=due.provisional,
        postponed_hours=0.0,
        suspended_hours=0.0,
    )
    session.add(assignment)
    session.flush()
    return assignment


@pytest.fixture
def scene(session: Session) -> Scene:
    department = add_department(session, code="HW-ESC")
    members = [add_user(session, Role.DEPARTMENT, department=department) for _ in range(2)]
    supervisor = add_user(session, Role.DEPARTMENT, department=department)
    session.add(DepartmentSupervisor(department_id=department.id, user_id=supervisor.id))
    add_user(session, Role.DEPARTMENT)  # a member of another department: never told
    assignment = assign(session, department)
    calendar = calendars.calendar_for_department(
        session, department.id, default_code=get_settings().default_calendar_code
    )
    thresholds = {
        step.step: step_threshold(
            step,
            dispatched_at=THURSDAY_9,
            allowed_hours=4.0,
            suspended_hours=0.0,
            calendar=calendar,
        )
        for step in DEFAULT_CHAIN.steps
    }
    dispatcher, manager = add_user(session, Role.DISPATCHER), add_user(session, Role.MANAGER)
    return Scene(department, members, supervisor, dispatcher, manager, assignment, thresholds)


def inbox_titles(client: TestClient, user: User) -> list[str]:
    token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
    answer = client.get("/api/inbox", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return sorted(item["title"].split("[")[-1].rstrip("]") for item in answer.json()["items"])


def run(session: Session, now: datetime) -> dict[str, int]:
    return run_escalations(session, now, settings=get_settings()).fired


def test_the_chain_fires_each_step_once_at_its_time(
    client: TestClient, session: Session, scene: Scene
) -> None:
    at = scene.thresholds
    assert at["warning"] == scene.assignment.warn_at  # the 80 % step is the warning point

    assert run(session, at["warning"] - MINUTE) == {}
    assert run(session, at["warning"]) == {"warning": 1}
    assert run(session, at["warning"] + MINUTE) == {}  # again: nothing new
    assert [inbox_titles(client, member) for member in scene.members] == [["warning"]] * 2
    assert inbox_titles(client, scene.supervisor) == ["warning"]  # as a member
    assert inbox_titles(client, scene.dispatcher) == []

    assert run(session, at["overdue"] - MINUTE) == {}
    assert run(session, at["overdue"]) == {"overdue": 1}
    assert inbox_titles(client, scene.supervisor) == ["overdue", "warning"]
    assert [inbox_titles(client, member) for member in scene.members] == [["warning"]] * 2

    assert run(session, at["escalated"] - MINUTE) == {}
    assert run(session, at["escalated"]) == {"escalated": 1}
    assert inbox_titles(client, scene.dispatcher) == ["escalated"]
    assert inbox_titles(client, scene.manager) == ["escalated"]
    assert inbox_titles(client, scene.supervisor) == ["overdue", "warning"]

    report = run_escalations(session, at["escalated"] + timedelta(days=3), settings=get_settings())
    assert (report.examined, report.fired_total) == (0, 0)  # fully escalated: not a candidate


def test_a_late_run_catches_up_on_every_step(
    client: TestClient, session: Session, scene: Scene
) -> None:
    report = run_escalations(session, local(30, 9, 0), settings=get_settings())

    assert report.fired == {"warning": 1, "overdue": 1, "escalated": 1}
    assert report.notifications == 2 + 2 + 1 + 1  # members+supervisor, supervisor, dispatch., man.
    escalations = session.scalars(
        select(Escalation).where(Escalation.assignment_id == scene.assignment.id)
    ).all()
    assert {row.step: row.threshold_at for row in escalations} == scene.thresholds
    assert inbox_titles(client, scene.manager) == ["escalated"]


@pytest.mark.parametrize("state", ["handled", "suspended", "ended"])
def test_handled_suspended_or_ended_assignments_do_not_escalate(
    client: TestClient, session: Session, scene: Scene, state: str
) -> None:
    at = scene.thresholds["warning"] - timedelta(minutes=30)
    if state == "ended":
        scene.assignment.ended_at, scene.assignment.end_reason = at, "reassigned"
    else:
        setattr(scene.assignment, f"{state}_at", at)
    session.flush()

    report = run_escalations(session, local(30, 9, 0), settings=get_settings())

    assert (report.examined, report.fired_total) == (0, 0)
    assert inbox_titles(client, scene.members[0]) == []


def test_suspended_hours_push_the_thresholds_back(session: Session, scene: Scene) -> None:
    # As the assignment records it after a suspension of 2 working hours, resumed.
    two_hours = timedelta(hours=2)  # both thresholds stay in Thursday's afternoon period
    scene.assignment.suspended_hours = 2.0
    scene.assignment.warn_at = scene.thresholds["warning"] + two_hours
    scene.assignment.due_at = scene.thresholds["overdue"] + two_hours
    session.flush()

    assert run(session, scene.thresholds["overdue"]) == {}
    assert run(session, scene.thresholds["warning"] + two_hours) == {"warning": 1}
    assert run(session, scene.thresholds["overdue"] + two_hours - MINUTE) == {}
    assert run(session, scene.thresholds["overdue"] + two_hours) == {"overdue": 1}


def test_webhook_events_are_queued_once_per_fired_step(session: Session, scene: Scene) -> None:
    webhook = webhooks.create_webhook(
        session, url="https://hooks.example/cg", secret=None, event_kinds=[], created_by=None
    )
    other = webhooks.create_webhook(
        session, url="https://hooks.example/x", secret=None, event_kinds=["ping"], created_by=None
    )

    for now in (scene.thresholds["overdue"], scene.thresholds["overdue"], local(30, 9, 0)):
        run_escalations(session, now, settings=get_settings())

    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id.in_([webhook.id, other.id]))
        .order_by(WebhookDelivery.id)
    ).all()
    assert [(row.webhook_id, row.kind) for row in rows] == [(webhook.id, "case.escalated")] * 3
    assert [row.payload["step"] for row in rows] == ["warning", "overdue", "escalated"]
    first = rows[0].payload
    assert first["case_id"] == scene.assignment.case_id
    assert first["department_code"] == "HW-ESC"
    assert datetime.fromisoformat(first["due_at"]) == scene.assignment.due_at
    assert datetime.fromisoformat(first["threshold_at"]) == scene.thresholds["warning"]


def test_the_chain_in_force_comes_from_the_rule_set(
    client: TestClient, session: Session, scene: Scene
) -> None:
    chain = [
        {"step": "heads_up", "at_fraction": 0.9, "notify": ["department", "dispatchers"]},
        {"step": "late", "at_fraction": 1.0, "delay_hours": 1, "notify": ["managers"]},
    ]
    session.add(
        RuleSet(
            version=900,
            effective_from=THURSDAY_9 - timedelta(days=1),
            escalation=chain,
            source={},
        )
    )
    session.flush()

    assert run(session, scene.thresholds["warning"]) == {}  # 80 % is no step of this chain
    assert run(session, scene.thresholds["overdue"]) == {"heads_up": 1}
    assert run(session, scene.thresholds["overdue"] + timedelta(hours=1)) == {"late": 1}
    assert inbox_titles(client, scene.dispatcher) == ["heads_up"]
    assert inbox_titles(client, scene.manager) == ["late"]


def test_inactive_recipients_are_skipped(
    client: TestClient, session: Session, scene: Scene
) -> None:
    scene.members[0].is_active = False
    session.flush()

    report = run_escalations(session, scene.thresholds["warning"], settings=get_settings())

    assert report.notifications == 2  # the other member and the supervisor
    assert inbox_titles(client, scene.members[1]) == ["warning"]


def test_runs_page_through_candidates_in_batches(session: Session, scene: Scene) -> None:
    for _ in range(4):
        assign(session, scene.department)

    report = run_escalations(
        session, scene.thresholds["warning"], settings=get_settings(), batch_size=2
    )

    assert (report.examined, report.fired) == (5, {"warning": 5})
    count = select(func.count()).select_from(Escalation).where(Escalation.step == "warning")
    assert session.scalar(count) == 5


def test_cli_runs_escalations_at_a_given_time(
    run_cli: Callable[..., Result], session: Session, scene: Scene
) -> None:
    result = run_cli("dispatch", "escalations", "run", "--now", "2026-11-26T14:30:00+08:00")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "examined 1 assignments; fired 2 steps (overdue 1, warning 1); "
        "wrote 4 notifications; queued 0 webhook deliveries"
    )
    again = run_cli("dispatch", "escalations", "run", "--now", "2026-11-26T14:31:00+08:00")
    assert "fired 0 steps" in again.output


def test_departments_without_a_calendar_use_the_configured_default(
    session: Session, scene: Scene
) -> None:
    missing = Settings(default_calendar_code="no-such-calendar")
    with pytest.raises(NotFound, match="no-such-calendar"):
        run_escalations(session, scene.thresholds["warning"], settings=missing)


# -- The scheduler ------------------------------------------------------------------------------


def test_a_job_held_by_another_process_is_skipped(
    engine: Engine, session: Session, scene: Scene
) -> None:
    with engine.connect() as other_process, other_process.begin():
        other_process.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": scheduler.ESCALATION_LOCK_KEY}
        )
        skipped = scheduler.escalate_once(session, local(30, 9, 0), settings=get_settings())

    assert skipped is None
    assert session.scalar(select(func.count()).select_from(Escalation)) == 0


def test_a_round_survives_a_failing_job(
    session: Session,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    @contextmanager
    def test_session() -> Iterator[Session]:
        yield session

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(db, "open_session", test_session)
    monkeypatch.setattr(scheduler, "escalate_once", broken)
    webhook = webhooks.create_webhook(
        session, url="http://127.0.0.1:9/nobody", secret=None, event_kinds=[], created_by=None
    )
    webhooks.enqueue(session, kind="case.dispatched", payload={}, now=THURSDAY_9)

    scheduler.run_jobs(get_settings())

    assert "escalation run failed" in caplog.text
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    ).one()
    assert delivery.attempts == 1  # the deliveries still ran


def test_the_scheduler_runs_rounds_and_stops_on_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: list[int] = []
    two_rounds = threading.Event()

    def count_round(settings: Settings) -> None:
        rounds.append(1)
        if len(rounds) >= 2:
            two_rounds.set()

    monkeypatch.setattr(scheduler, "run_jobs", count_round)
    settings = Settings(scheduler_enabled=True, scheduler_interval_s=0.001)

    async def serve() -> list[str]:
        async with scheduler.running_scheduler(settings):
            assert await asyncio.to_thread(two_rounds.wait, 5.0)
        return [task.get_name() for task in asyncio.all_tasks()]

    tasks_after_shutdown = asyncio.run(serve())
    assert len(rounds) >= 2
    assert "citygrid-scheduler" not in tasks_after_shutdown


def test_a_disabled_scheduler_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: list[int] = []
    monkeypatch.setattr(scheduler, "run_jobs", lambda settings: rounds.append(1))

    async def serve() -> None:
        async with scheduler.running_scheduler(Settings(scheduler_enabled=False)):
            await asyncio.sleep(0)

    asyncio.run(serve())
    assert rounds == []
