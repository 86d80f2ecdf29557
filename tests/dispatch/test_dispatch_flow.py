"""Dispatching through HTTP: routing on filing, auto-dispatch, the queue, reassign, return, bulk
assignment, rule versions kept by old cases, working-time deadlines, suspension and the lights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, DepartmentSupervisor, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import add_working_hours, working_hours_between
from dispatch.escalation import service as escalation_service
from dispatch.models import Notification, RuleSet, WebhookDelivery
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from dispatch.webhooks import service as webhooks
from events.cases.schemas import CaseActionBody
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, CaseAssignment, Category
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import CELL_NE, COMMUNITY, DISTRICT

TEST_STANDARD = "citygrid-test"
WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class World:
    garbage: Category  # 9901: auto-dispatched to sanitation
    vending: Category  # 9902: suggested to enforcement in the community, else unrouted
    other: Category  # 9903: no rule at all
    sanitation: Department
    enforcement: Department
    street_office: Department
    dispatcher: User
    admin: User
    worker: User  # of sanitation
    enforcer: User  # of enforcement


@pytest.fixture
def world(session: Session, client: TestClient) -> World:
    sanitation = add_department(session, code="HW-01")
    enforcement = add_department(session, code="CG-01", kind="urban_mgmt_enforcement")
    street_office = add_department(session, code="JD-01", kind="street_office")
    world = World(
        garbage=add_category(session, code="9901", standard=TEST_STANDARD),
        vending=add_category(session, code="9902", standard=TEST_STANDARD, name_en="Vending"),
        other=add_category(session, code="9903", standard=TEST_STANDARD, name_en="Other"),
        sanitation=sanitation,
        enforcement=enforcement,
        street_office=street_office,
        dispatcher=add_user(session, Role.DISPATCHER),
        admin=add_user(session, Role.ADMIN),
        worker=add_user(session, Role.DEPARTMENT, department=sanitation),
        enforcer=add_user(session, Role.DEPARTMENT, department=enforcement),
    )
    add_case(session, category=world.garbage)  # seeds the test block
    save_rules(session, world, RULES_V1, effective_from=datetime.now(UTC) - timedelta(1))
    return world


def rule(category: str, area: Any, department: str, **extra: Any) -> dict[str, Any]:
    return {
        "category": category,
        "category_kind": "event",
        "area": area,
        "department": department,
        **extra,
    }


RULES_V1_RULES = [
    rule("9901", {"district": DISTRICT.code}, "HW-01", name="garbage to sanitation"),
    rule("9902", {"community": COMMUNITY.code}, "CG-01", name="vending to enforcement"),
]
RULES_V1 = {"auto_dispatch": ["9901"], "rules": RULES_V1_RULES}


def save_rules(
    session: Session, world: World, spec: dict[str, Any], *, effective_from: datetime
) -> RuleSet:
    body = {**spec, "effective_from": effective_from, "comment": "test rules"}
    return rule_sets.save_rule_set(
        session, RuleSetSpec.model_validate(body), by=world.admin.principal(), now=effective_from
    )


def headers_of(user: User) -> dict[str, str]:
    token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
    return {"Authorization": f"Bearer {token}"}


def act(client: TestClient, case_id: int, action: str, user: User, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers_of(user)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def filed(session: Session, client: TestClient, world: World, category: Category) -> int:
    case = add_case(session, category=category, place=CELL_NE)
    return int(act(client, case.id, "file", world.dispatcher)["id"])


def queue(client: TestClient, world: World, kind: str = "all") -> dict[str, Any]:
    response = client.get(f"/api/dispatch/queue?kind={kind}", headers=headers_of(world.dispatcher))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_filing_an_auto_dispatch_category_dispatches_it_by_the_rule(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.garbage)
    detail = client.get(f"/api/cases/{case_id}", headers=headers_of(world.dispatcher)).json()
    assert detail["status"] == "dispatched"
    assert detail["department_id"] == world.sanitation.id
    assert detail["routing"]["department_code"] == "HW-01"
    assert detail["routing"]["auto_dispatch"] is True
    assert "garbage to sanitation" in detail["routing"]["reason"]
    assert detail["rule_set_id"] is not None and detail["routing_rule_id"] is not None
    assert detail["deadline"]["light"] == "green" and detail["deadline"]["limit_hours"] == 4.0
    history = client.get(f"/api/cases/{case_id}/history", headers=headers_of(world.dispatcher))
    steps = [(row["action"], row["details"].get("auto")) for row in history.json()]
    assert steps[-2:] == [("file", None), ("dispatch", True)]
    inbox = client.get("/api/inbox", headers=headers_of(world.worker)).json()
    assert any(item["case_id"] == case_id for item in inbox["items"])


def test_a_suggested_case_waits_in_the_queue_and_goes_where_suggested(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.vending)
    [item] = [i for i in queue(client, world, "new")["items"] if i["case_id"] == case_id]
    assert item["suggested_department"] == "CG-01"
    assert "vending to enforcement" in item["routing_reason"]
    dispatched = act(client, case_id, "dispatch", world.dispatcher)  # no department named
    assert dispatched["department_id"] == world.enforcement.id
    assert all(i["case_id"] != case_id for i in queue(client, world)["items"])


def test_an_unrouted_case_says_why_and_needs_a_department_named(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.other)
    page = queue(client, world, "unrouted")
    [item] = [i for i in page["items"] if i["case_id"] == case_id]
    assert item["suggested_department"] is None
    assert "no rule" in item["routing_reason"]
    assert page["counts"]["unrouted"] >= 1
    refused = client.post(
        f"/api/cases/{case_id}/actions/dispatch", json={}, headers=headers_of(world.dispatcher)
    )
    assert refused.status_code == 422 and refused.json()["field"] == "department_code"
    assert "no rule" in refused.json()["detail"]
    chosen = act(client, case_id, "dispatch", world.dispatcher, department_code="JD-01")
    assert chosen["department_id"] == world.street_office.id
    assert chosen["routing_rule_id"] is None  # the dispatcher chose, no rule did


def test_reassign_needs_a_reason_and_ends_the_first_assignment(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.garbage)  # auto-dispatched to HW-01
    bare = client.post(
        f"/api/cases/{case_id}/actions/dispatch",
        json={"department_code": "JD-01"},
        headers=headers_of(world.dispatcher),
    )
    assert bare.status_code == 422 and bare.json()["field"] == "reason"
    act(client, case_id, "dispatch", world.dispatcher, department_code="JD-01", reason="road")
    rows = session.scalars(
        select(CaseAssignment).where(CaseAssignment.case_id == case_id).order_by(CaseAssignment.id)
    ).all()
    assert [(r.department_id, r.end_reason) for r in rows] == [
        (world.sanitation.id, "reassigned"),
        (world.street_office.id, None),
    ]


def test_a_returned_case_is_back_in_the_queue_with_its_reason_and_bounce_count(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.garbage)
    act(client, case_id, "return", world.worker, reason="not ours: private land")
    [item] = queue(client, world, "returned")["items"]
    assert item["case_id"] == case_id and item["return_count"] == 1
    assert item["last_return_reason"] == "not ours: private land"
    act(client, case_id, "dispatch", world.dispatcher, department_code="HW-01")
    act(client, case_id, "return", world.worker, reason="still not ours")
    [again] = queue(client, world, "returned")["items"]
    assert again["return_count"] == 2 and again["last_return_reason"] == "still not ours"
    detail = client.get(f"/api/cases/{case_id}", headers=headers_of(world.dispatcher)).json()
    assert detail["return_count"] == 2 and detail["deadline"] is None


def test_bulk_assignment_is_all_or_nothing(
    session: Session, client: TestClient, world: World
) -> None:
    vending = [filed(session, client, world, world.vending) for _ in range(2)]
    unrouted = filed(session, client, world, world.other)
    refused = client.post(
        "/api/dispatch/assign",
        json={"case_ids": [*vending, unrouted]},
        headers=headers_of(world.dispatcher),
    )
    assert refused.status_code == 409, refused.text
    assert [r["case_id"] for r in refused.json()["refusals"]] == [unrouted]
    statuses = session.scalars(select(Case.status).where(Case.id.in_(vending))).all()
    assert set(statuses) == {"filed"}
    done = client.post(
        "/api/dispatch/assign", json={"case_ids": vending}, headers=headers_of(world.dispatcher)
    )
    assert done.status_code == 200, done.text
    assert {o["department_id"] for o in done.json()} == {world.enforcement.id}
    named = client.post(
        "/api/dispatch/assign",
        json={"case_ids": [unrouted], "department_code": "JD-01"},
        headers=headers_of(world.dispatcher),
    )
    assert named.status_code == 200 and named.json()[0]["department_id"] == world.street_office.id


def test_an_old_case_keeps_the_rule_version_it_was_routed_with(
    session: Session, client: TestClient, world: World
) -> None:
    old_case = filed(session, client, world, world.garbage)
    v1 = session.get(Case, old_case)
    assert v1 is not None and v1.rule_set_id is not None
    v2 = {
        "auto_dispatch": ["9901"],
        "rules": [rule("9901", {"cell": CELL_NE.code}, "JD-01", name="garbage by the office")],
    }
    save_rules(session, world, v2, effective_from=datetime.now(UTC) - timedelta(hours=1))
    new_case = filed(session, client, world, world.garbage)
    session.expire_all()
    old, new = session.get(Case, old_case), session.get(Case, new_case)
    assert old is not None and new is not None
    assert old.rule_set_id == v1.rule_set_id and old.department_id == world.sanitation.id
    assert new.rule_set_id != v1.rule_set_id and new.department_id == world.street_office.id


def test_reroute_applies_new_rules_to_waiting_cases(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.other)
    v2 = {"rules": [*RULES_V1_RULES, rule("*", "citywide", "JD-01", name="fallback")]}
    save_rules(session, world, v2, effective_from=datetime.now(UTC) - timedelta(hours=1))
    rerouted = client.post(
        "/api/dispatch/queue/reroute", json={}, headers=headers_of(world.dispatcher)
    )
    assert rerouted.status_code == 200 and rerouted.json()["routed"] >= 1
    [item] = [i for i in queue(client, world)["items"] if i["case_id"] == case_id]
    assert item["kind"] == "new" and item["suggested_department"] == "JD-01"


def service_act(
    session: Session, case_id: int, action: CaseAction, user: User, now: datetime, **body: Any
) -> Case:
    return actions.act_on_case(
        session,
        case_id,
        action,
        user.principal(),
        CaseActionBody(**body),
        now,
        reopen_window=WINDOW,
        default_calendar_code=get_settings().default_calendar_code,
    )


def test_deadline_counts_working_time_and_suspension_stops_the_clock(
    session: Session, world: World
) -> None:
    calendar = calendar_for_department(
        session, None, default_code=get_settings().default_calendar_code
    )
    case = add_case(session, category=world.vending, status=CaseStatus.FILED)
    friday_1600 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 16:00 in Beijing, a Friday
    service_act(
        session,
        case.id,
        CaseAction.DISPATCH,
        world.dispatcher,
        friday_1600,
        department_code="CG-01",
    )
    # 4 working hours: 1.5 on Friday, then Monday 08:30–11:00
    assert case.due_at == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert case.warn_at == add_working_hours(friday_1600, 3.2, calendar).at
    service_act(
        session,
        case.id,
        CaseAction.REQUEST_SUSPENSION,
        world.enforcer,
        friday_1600 + timedelta(minutes=30),
        reason="waiting for the owner",
    )
    suspended_at = datetime(2026, 11, 20, 8, 45, tzinfo=UTC)
    service_act(session, case.id, CaseAction.APPROVE_SUSPENSION, world.dispatcher, suspended_at)
    resumed_at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00
    service_act(session, case.id, CaseAction.RESUME, world.dispatcher, resumed_at)
    paused = working_hours_between(suspended_at, resumed_at, calendar)
    assert paused == pytest.approx(0.75 + 7.5 + 1.5)  # Fri 16:45–17:30, all Monday, Tue to 10:00
    used_before = working_hours_between(friday_1600, suspended_at, calendar)
    assert case.due_at == add_working_hours(resumed_at, 4 - used_before, calendar).at
    assignment = session.scalar(select(CaseAssignment).where(CaseAssignment.case_id == case.id))
    assert assignment is not None and assignment.suspended_hours == pytest.approx(paused)


def test_lights_in_the_case_and_the_listing(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = filed(session, client, world, world.garbage)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    late = {
        "dispatched_at": long_ago,
        "due_at": long_ago + timedelta(days=1),
        "warn_at": long_ago + timedelta(hours=20),
    }
    session.execute(update(Case).where(Case.id == case_id).values(**late))
    session.execute(update(CaseAssignment).where(CaseAssignment.case_id == case_id).values(**late))
    detail = client.get(f"/api/cases/{case_id}", headers=headers_of(world.dispatcher)).json()
    assert detail["deadline"]["light"] == "red" and detail["deadline"]["overdue"] is True
    listing = client.get("/api/cases?overdue=true", headers=headers_of(world.dispatcher)).json()
    assert [(i["id"], i["light"]) for i in listing["items"]] == [(case_id, "red")]
    assert session.scalar(select(Notification.id).where(Notification.case_id == case_id))


def test_dispatch_feeds_the_webhook_outbox_and_escalation_follows_the_deadline(
    session: Session, world: World
) -> None:
    webhooks.create_webhook(
        session, url="http://127.0.0.1:9/hook", secret="s", event_kinds=[], created_by=None
    )
    supervisor = add_user(session, Role.MANAGER)
    session.add(DepartmentSupervisor(department_id=world.enforcement.id, user_id=supervisor.id))
    case = add_case(session, category=world.vending, status=CaseStatus.FILED)
    monday_0830 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
    service_act(
        session,
        case.id,
        CaseAction.DISPATCH,
        world.dispatcher,
        monday_0830,
        department_code="CG-01",
    )
    kinds = session.scalars(
        select(WebhookDelivery.kind).where(
            WebhookDelivery.payload["case_id"].as_integer() == case.id
        )
    ).all()
    assert kinds == ["case.dispatched"]
    settings = get_settings()
    # 4 working hours: warned at 3.2 (11:42), overdue at 14:30 (lunch 12:00–13:30 not counted)
    early = escalation_service.run_escalations(
        session, datetime(2026, 11, 23, 3, 40, tzinfo=UTC), settings=settings
    )
    assert sum(early.fired.values()) == 0
    warned = escalation_service.run_escalations(
        session, datetime(2026, 11, 23, 3, 43, tzinfo=UTC), settings=settings
    )
    assert warned.fired == {"warning": 1}
    overdue = escalation_service.run_escalations(
        session, datetime(2026, 11, 23, 6, 31, tzinfo=UTC), settings=settings
    )
    assert overdue.fired == {"overdue": 1}
    told = session.scalars(select(Notification.user_id).where(Notification.case_id == case.id))
    assert {world.enforcer.id, supervisor.id} <= set(told)
