"""End to end with a simulated 12345 hotline system on localhost: it sends a ticket, citygrid
works it through (located, dispatched, signed for, a co-unit summoned, both reply with the four
elements, a callback finds it partly solved, rework, a second reply, a callback finds it solved)
and every event goes back through the signed webhook outbox to the system's HTTP server: each
once, in order, never with the caller's name or phone. Also: a returned ticket nobody accepts
reaches the district government, a reply without an element is a 422, and an unreachable caller
is retried, then counted as such in the rates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from dispatch.callbacks import service as callbacks
from dispatch.callbacks.retries import RetryPolicy
from dispatch.hotline_sync import service as sync
from dispatch.hotline_sync.payloads import EVENT_KIND
from dispatch.webhooks import service as webhooks
from events.hotline.models import HotlineTicket
from tests.dispatch.hotline import support
from tests.dispatch.hotline.support import HotlineWorld, act, headers_of, kinds_of, post_reply
from tests.dispatch.hotline_sync.simulated_hotline import SECRET, HotlineSystem, hotline_system
from tests.events.hotline.support import CALLER, PHONE, seed_hotline, ticket_body

world = support.world  # the hotline world's fixture, under its own name


@pytest.fixture
def system(session: Session) -> Iterator[HotlineSystem]:
    """The simulated hotline system, subscribed to the ticket events."""
    with hotline_system() as state:
        webhooks.create_webhook(
            session, url=state.url, secret=SECRET, event_kinds=[EVENT_KIND], created_by=None
        )
        yield state


@pytest.fixture
def source_key(session: Session, world: HotlineWorld) -> dict[str, str]:
    """The hotline system's API key (and the test block the tickets fall in)."""
    _, key = seed_hotline(session)
    return key


def sync_round(session: Session) -> None:
    """What a scheduler round does: push the new ticket events, deliver what is due."""
    now = datetime.now(UTC)
    sync.push_pending(session, now=now, limit=500)
    webhooks.deliver_due(session, now, settings=get_settings())


def send_ticket(client: TestClient, key: dict[str, str], number: str) -> HotlineTicket:
    answer = client.post("/api/hotline/tickets", json=ticket_body(number=number), headers=key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "filed"
    return HotlineTicket(id=answer.json()["id"], case_id=answer.json()["case_id"])


def call_back(
    client: TestClient, world: HotlineWorld, ticket: HotlineTicket, **body: str
) -> dict[str, Any]:
    response = client.post(
        f"/api/hotline/tickets/{ticket.id}/callbacks",
        json=body,
        headers=headers_of(world.dispatcher),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def ticket_status(session: Session, ticket: HotlineTicket) -> str:
    session.expire_all()
    stored = session.get(HotlineTicket, ticket.id)
    assert stored is not None
    return stored.status


def assert_no_caller_in(system: HotlineSystem) -> None:
    """The caller's phone and name are in no webhook body (grepped as received)."""
    bodies = b"\n".join(system.bodies).decode()
    digits = "".join(ch for ch in bodies if ch.isdigit())
    assert PHONE not in bodies and PHONE not in digits
    assert CALLER not in bodies
    assert system.bad_signatures == 0


def test_a_ticket_from_intake_to_closed_goes_back_to_the_hotline_once_and_in_order(
    session: Session,
    client: TestClient,
    world: HotlineWorld,
    system: HotlineSystem,
    source_key: dict[str, str],
) -> None:
    ticket = send_ticket(client, source_key, "BJ12345-E2E-1")
    assert ticket.case_id is not None
    sync_round(session)
    act(client, ticket.case_id, "dispatch", world.dispatcher, department_code=world.lead.code)
    act(client, ticket.case_id, "accept", world.lead_worker)
    assert ticket_status(session, ticket) == "signed"
    sync_round(session)
    summoned = client.post(
        f"/api/hotline/tickets/{ticket.id}/co-units",
        json={"department_code": world.co.code},
        headers=headers_of(world.dispatcher),
    )
    assert summoned.status_code == 201, summoned.text
    post_reply(client, ticket, world.co_worker, action_taken="已检修管线")
    post_reply(client, ticket, world.lead_worker)
    assert ticket_status(session, ticket) == "replied"
    sync_round(session)

    first = call_back(client, world, ticket, solved="partly", satisfaction="fair")
    assert first["outcome"] == "rework"
    assert ticket_status(session, ticket) == "rework"
    post_reply(client, ticket, world.lead_worker, action_taken="再次清理并加装围挡")
    sync_round(session)
    second = call_back(client, world, ticket, solved="solved", satisfaction="satisfied")
    assert second["outcome"] == "closed"
    assert ticket_status(session, ticket) == "closed"
    sync_round(session)
    # The hotline system sends the ticket again: the same ticket, no second case, no new event.
    again = client.post(
        "/api/hotline/tickets", json=ticket_body(number="BJ12345-E2E-1"), headers=source_key
    )
    assert again.status_code == 200 and again.json()["case_id"] == ticket.case_id
    sync_round(session)
    sync_round(session)

    stored = session.get(HotlineTicket, ticket.id)
    assert stored is not None
    expected = [
        "received", "located", "filed", "dispatched", "signed", "co_unit_added", "reply",
        "reply", "callback", "rework", "reply", "callback", "closed",
    ]  # fmt: skip
    assert kinds_of(session, stored) == expected
    assert system.kinds_of("BJ12345-E2E-1") == expected  # each applied once, in seq order
    applied = system.applied["BJ12345-E2E-1"]
    assert [event["seq"] for event in applied] == list(range(1, len(expected) + 1))  # as sent
    assert len(system.delivery_ids) == len(set(system.delivery_ids)) == len(expected)
    callbacks_back = [event["data"] for event in applied if event["kind"] == "callback"]
    assert [(data["solved"], data["satisfaction"]) for data in callbacks_back] == [
        ("partly", "fair"),
        ("solved", "satisfied"),
    ]
    assert_no_caller_in(system)


def test_a_returned_ticket_nobody_accepts_reaches_the_district_government(
    session: Session,
    client: TestClient,
    world: HotlineWorld,
    system: HotlineSystem,
    source_key: dict[str, str],
) -> None:
    ticket = send_ticket(client, source_key, "BJ12345-E2E-2")
    assert ticket.case_id is not None
    for unit, worker in ((world.lead, world.lead_worker), (world.other, world.other_worker)):
        act(client, ticket.case_id, "dispatch", world.dispatcher, department_code=unit.code)
        act(client, ticket.case_id, "request_return", worker, reason="非本单位职责")
        act(client, ticket.case_id, "approve_return", world.dispatcher)
    sync_round(session)
    session.expire_all()
    stored = session.get(HotlineTicket, ticket.id)
    assert stored is not None and stored.lead_department_id == world.last_resort.id
    kinds = system.kinds_of("BJ12345-E2E-2")
    assert kinds[-1] == "last_resort" and kinds.count("returned") == 2
    assert kinds == kinds_of(session, stored)
    assert_no_caller_in(system)


def test_a_reply_without_an_element_is_refused_naming_it(
    session: Session, client: TestClient, world: HotlineWorld, source_key: dict[str, str]
) -> None:
    ticket = send_ticket(client, source_key, "BJ12345-E2E-3")
    assert ticket.case_id is not None
    act(client, ticket.case_id, "dispatch", world.dispatcher, department_code=world.lead.code)
    act(client, ticket.case_id, "accept", world.lead_worker)
    refused = post_reply(client, ticket, world.lead_worker, expect=422, contacted_person=None)
    assert "contacted_person" in str(refused)
    assert ticket_status(session, ticket) == "signed"


def test_an_unreachable_caller_is_retried_then_counted_as_such(
    session: Session,
    client: TestClient,
    world: HotlineWorld,
    system: HotlineSystem,
    source_key: dict[str, str],
) -> None:
    ticket = send_ticket(client, source_key, "BJ12345-E2E-4")
    assert ticket.case_id is not None
    act(client, ticket.case_id, "dispatch", world.dispatcher, department_code=world.lead.code)
    act(client, ticket.case_id, "accept", world.lead_worker)
    post_reply(client, ticket, world.lead_worker)
    assert call_back(client, world, ticket, outcome="not_reached")["outcome"] == "retry"
    policy = RetryPolicy(max_attempts=3, gap=timedelta(hours=1))
    by, later = world.dispatcher.principal(), datetime.now(UTC)
    outcomes = []
    for hours in (1, 2):
        later += timedelta(hours=hours)
        tried = callbacks.record_callback(
            session, ticket.id, callbacks.CallbackAnswer(reached=False), by=by, now=later,
            policy=policy,
        )  # fmt: skip
        outcomes.append(tried.outcome)
    assert outcomes == ["retry", "unreachable"]
    assert ticket_status(session, ticket) == "closed"
    sync_round(session)
    applied = system.applied["BJ12345-E2E-4"]
    assert [event["data"]["unreachable"] for event in applied if event["kind"] == "callback"] == [
        False,
        False,
        True,
    ]
    assert system.kinds_of("BJ12345-E2E-4")[-1] == "closed"
    month = datetime(2026, 12, 6).strftime("%Y-%m")  # the ticket's received_at (ticket_body)
    rates = client.get(
        "/api/hotline/rates",
        params={"level": "unit", "month": month},
        headers=headers_of(world.dispatcher),
    ).json()
    [row] = [row for row in rates["rows"] if row["key"] == world.lead.code]
    assert (row["unreachable"], row["reached"], row["resolution_rate"]) == (1, 0, None)
    assert_no_caller_in(system)
