"""Callbacks (回访): the waiting list, one click per answer, rework for "not solved", closing
otherwise, retries with their gap and the unreachable caller; phones masked in the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from dispatch.callbacks import service
from dispatch.callbacks.models import HotlineCallback
from dispatch.callbacks.retries import RetryPolicy
from events.hotline.models import HotlineTicket
from tests.conftest import token_for
from tests.dispatch.hotline import support
from tests.dispatch.hotline.support import (
    CALLER_PHONE,
    HotlineWorld,
    act,
    add_ticket,
    dispatch_to,
    headers_of,
    kinds_of,
    post_reply,
)

world = support.world  # the hotline world's fixture, under its own name

POLICY = RetryPolicy(max_attempts=3, gap=timedelta(hours=1))


def replied_ticket(session: Session, client: TestClient, world: HotlineWorld) -> HotlineTicket:
    """A ticket dispatched to the lead unit, signed for and replied."""
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)
    post_reply(client, ticket, world.lead_worker)
    session.refresh(ticket)
    return ticket


def waiting(client: TestClient, world: HotlineWorld) -> dict[str, dict[str, object]]:
    response = client.get("/api/hotline/callbacks", headers=headers_of(world.dispatcher))
    assert response.status_code == 200, response.text
    assert CALLER_PHONE not in response.text
    return {row["ticket_number"]: row for row in response.json()}


def call_back(
    client: TestClient, world: HotlineWorld, ticket: HotlineTicket, expect: int = 201, **body: str
) -> dict[str, object]:
    response = client.post(
        f"/api/hotline/tickets/{ticket.id}/callbacks",
        json=body,
        headers=headers_of(world.dispatcher),
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


def test_a_replied_ticket_waits_with_its_phone_masked(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    task = waiting(client, world)[ticket.ticket_number]
    assert task["caller_phone_masked"] == "138****5678"
    assert (task["round"], task["attempts"], task["next_try_at"]) == (1, 0, None)
    assert task["status"] == "replied"


def test_solved_and_fair_closes_the_ticket(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    answer = call_back(client, world, ticket, solved="solved", satisfaction="fair")
    assert answer["outcome"] == "closed"
    session.refresh(ticket)
    assert ticket.status == "closed"
    assert kinds_of(session, ticket)[-2:] == ["callback", "closed"]
    assert ticket.ticket_number not in waiting(client, world)
    call_back(client, world, ticket, expect=409, solved="solved", satisfaction="satisfied")


@pytest.mark.parametrize(
    ("solved", "satisfaction"), [("not_solved", "unsatisfied"), ("partly", "fair")]
)
def test_work_left_sends_it_back_to_the_same_unit_then_a_second_round(
    session: Session, client: TestClient, world: HotlineWorld, solved: str, satisfaction: str
) -> None:
    ticket = replied_ticket(session, client, world)
    answer = call_back(client, world, ticket, solved=solved, satisfaction=satisfaction)
    assert answer["outcome"] == "rework"
    session.refresh(ticket)
    assert (ticket.status, ticket.lead_department_id) == ("rework", world.lead.id)
    assert ticket.ticket_number not in waiting(client, world)
    post_reply(client, ticket, world.lead_worker, action_taken="再次清理并加装围挡")
    task = waiting(client, world)[ticket.ticket_number]
    assert (task["round"], task["attempts"]) == (2, 0)
    second = call_back(client, world, ticket, solved="solved", satisfaction="satisfied")
    assert second["callback"]["round"] == 2  # type: ignore[index]
    assert second["outcome"] == "closed"


def test_an_unreachable_caller_is_retried_then_counted_and_closed(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    first = call_back(client, world, ticket, outcome="not_reached")
    assert first["outcome"] == "retry"
    too_soon = call_back(client, world, ticket, expect=409, outcome="not_reached")
    assert too_soon["field"] == "next_try_at"
    task = waiting(client, world)[ticket.ticket_number]
    assert task["attempts"] == 1 and task["next_try_at"] is not None
    # The next tries after the gap (the service takes the clock as an argument).
    by = world.dispatcher.principal()
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    unreached = service.CallbackAnswer(reached=False)
    second = service.record_callback(session, ticket.id, unreached, by=by, now=later, policy=POLICY)
    assert second.outcome == "retry"
    last = later + timedelta(hours=2)
    third = service.record_callback(session, ticket.id, unreached, by=by, now=last, policy=POLICY)
    assert third.outcome == "unreachable" and third.callback.gave_up
    session.refresh(ticket)
    assert ticket.status == "closed"
    tries = session.scalars(
        select(HotlineCallback).where(HotlineCallback.ticket_id == ticket.id)
    ).all()
    assert [(row.attempt, row.reached, row.gave_up) for row in tries] == [
        (1, False, False),
        (2, False, False),
        (3, False, True),
    ]
    assert kinds_of(session, ticket)[-4:] == ["callback", "callback", "callback", "closed"]


def test_a_reached_answer_needs_both_answers_and_nothing_else(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    missing = call_back(client, world, ticket, expect=422, solved="solved")
    assert missing["field"] == "satisfaction"
    extra = call_back(client, world, ticket, expect=422, outcome="not_reached", solved="solved")
    assert extra["field"] == "solved"
    unknown = call_back(client, world, ticket, expect=422, solved="maybe", satisfaction="fair")
    assert "solved" in str(unknown["detail"])


def test_only_dispatchers_and_admins_call_back(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    worker = headers_of(world.lead_worker)
    assert client.get("/api/hotline/callbacks", headers=worker).status_code == 403
    response = client.post(
        f"/api/hotline/tickets/{ticket.id}/callbacks",
        json={"solved": "solved", "satisfaction": "satisfied"},
        headers=worker,
    )
    assert response.status_code == 403
    manager = {"Authorization": f"Bearer {token_for(Role.MANAGER)}"}
    assert client.get("/api/hotline/callbacks", headers=manager).status_code == 403


def test_the_callbacks_page_has_one_click_answers_in_chinese(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = replied_ticket(session, client, world)
    headers = {**headers_of(world.dispatcher), "Accept-Language": "zh-CN"}
    page = client.get("/hotline/callbacks", headers=headers)
    assert page.status_code == 200
    assert ticket.ticket_number in page.text
    assert "138****5678" in page.text and CALLER_PHONE not in page.text
    assert page.text.count(f"/api/hotline/tickets/{ticket.id}/callbacks") == 10  # 3 × 3 + 1
    assert "部分解决 · 基本满意" in page.text and "联系不上" in page.text


def test_a_ticket_closed_without_a_callback_waits_for_one(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    ticket.status, ticket.closed_at = "closed", datetime.now(UTC) - timedelta(days=2)
    old = add_ticket(session, world)
    old.status, old.closed_at = "closed", datetime.now(UTC) - timedelta(days=45)
    session.flush()
    listed = waiting(client, world)
    assert ticket.ticket_number in listed and old.ticket_number not in listed
    answer = call_back(client, world, ticket, solved="solved", satisfaction="satisfied")
    assert answer["outcome"] == "closed"
    assert ticket.ticket_number not in waiting(client, world)
    assert kinds_of(session, ticket)[-1] == "callback"  # closed already: no second closing
