"""The unit workflow of a hotline ticket through HTTP: deadlines on dispatch, signing for, the
four-element reply, returns a dispatcher decides, the unit of last resort, co-units,
unreasonable requests, and the callback's rework and close."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import add_working_hours
from dispatch.hotline import service as hotline
from events.hotline.models import HotlineTicket
from tests.dispatch.hotline.support import (
    CALLER_NAME,
    CALLER_PHONE,
    HotlineWorld,
    act,
    add_ticket,
    dispatch_to,
    events_of,
    headers_of,
    kinds_of,
    post_reply,
    reply_body,
)


def workflow(client: TestClient, ticket: HotlineTicket, world: HotlineWorld) -> dict[str, Any]:
    response = client.get(
        f"/api/hotline/tickets/{ticket.id}/workflow", headers=headers_of(world.dispatcher)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def signed(client: TestClient, world: HotlineWorld, ticket: HotlineTicket) -> None:
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)


def test_dispatch_sets_the_deadlines_and_accepting_signs_for_the_ticket(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world, urgency="general")
    dispatch_to(client, world, ticket, world.lead)
    session.refresh(ticket)
    assert ticket.status == "dispatched" and ticket.lead_department_id == world.lead.id
    assert ticket.dispatched_at is not None
    # General tickets: dispatch 24 h clock from receipt, sign for within 4 working hours,
    # first contact 24 h clock, reply 168 h clock from dispatch (events.hotline.standard).
    assert ticket.dispatch_due_at == ticket.received_at + timedelta(hours=24)
    calendar = calendar_for_department(
        session, world.lead.id, default_code=get_settings().default_calendar_code
    )
    assert ticket.sign_due_at == add_working_hours(ticket.dispatched_at, 4, calendar).at
    assert ticket.first_contact_due_at == ticket.dispatched_at + timedelta(hours=24)
    assert ticket.reply_due_at == ticket.dispatched_at + timedelta(hours=168)
    view = workflow(client, ticket, world)
    lights = {row["name"]: row for row in view["deadlines"]}
    assert lights["dispatch"]["met_at"] is not None and lights["dispatch"]["light"] is None
    assert lights["sign_for"]["light"] in {"green", "yellow"}  # counting in working time
    assert lights["reply"]["light"] == "green"
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)
    session.refresh(ticket)
    assert ticket.status == "signed" and ticket.signed_at is not None
    assert kinds_of(session, ticket) == ["dispatched", "signed"]


def test_an_emergency_ticket_counts_in_clock_hours(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world, urgency="emergency")
    dispatch_to(client, world, ticket, world.lead)
    session.refresh(ticket)
    assert ticket.dispatched_at is not None
    assert ticket.sign_due_at == ticket.dispatched_at + timedelta(minutes=30)
    assert ticket.reply_due_at == ticket.dispatched_at + timedelta(hours=24)


@pytest.mark.parametrize(
    "missing", ["received_at", "contacted_person", "contacted_at", "action_taken", "rest_by"]
)
def test_a_reply_without_an_element_is_a_422_naming_it(
    session: Session, client: TestClient, world: HotlineWorld, missing: str
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    answer = post_reply(client, ticket, world.lead_worker, expect=422, **{missing: None})
    assert any(missing in error["loc"] for error in answer["detail"]), answer
    session.refresh(ticket)
    assert ticket.status == "signed" and ticket.replied_at is None


def test_a_blank_or_impossible_element_is_refused_naming_its_field(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    blank = post_reply(client, ticket, world.lead_worker, expect=422, contacted_person="   ")
    assert any("contacted_person" in error["loc"] for error in blank["detail"])
    now = datetime.now(UTC)
    early = post_reply(
        client,
        ticket,
        world.lead_worker,
        expect=422,
        contacted_at=(now - timedelta(hours=2)).isoformat(),
        received_at=(now - timedelta(hours=1)).isoformat(),
    )
    assert early["field"] == "contacted_at" and "must not be before" in early["detail"]


def test_the_lead_reply_handles_the_case_and_replies_the_ticket(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    assert ticket.case_id is not None
    # Plain handling is not a reply: the four elements are required.
    refused = act(client, ticket.case_id, "handle", world.lead_worker, expect=409, reason="done")
    assert "four-element reply" in refused["detail"]
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    view = post_reply(client, ticket, world.lead_worker, rest_by=later)
    assert view["status"] == "replied"
    assert view["replies"][0]["unit_role"] == "lead" and view["replies"][0]["done"] is False
    session.refresh(ticket)
    assert ticket.replied_at is not None and ticket.first_contacted_at is not None
    reply_event = events_of(session, ticket)[-1]
    assert reply_event.kind == "reply"
    assert reply_event.data["contacted_person"] == "来电人本人"
    assert reply_event.data["action_taken"] == "已清理楼道杂物，恢复通行"
    case = client.get(f"/api/cases/{ticket.case_id}", headers=headers_of(world.dispatcher))
    assert case.json()["status"] == "handled"


def test_a_reply_before_signing_for_is_refused(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    answer = post_reply(client, ticket, world.lead_worker, expect=409)
    assert "handle" not in answer["allowed_actions"]
    assert {"accept", "request_return"} <= set(answer["allowed_actions"])
    assert "return" not in answer["allowed_actions"]  # a ticket's unit asks to return it


def test_a_return_is_refused_then_approved_by_a_dispatcher(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    case_id = ticket.case_id
    # A ticket's case is not returned directly: its unit asks.
    act(client, case_id, "return", world.lead_worker, expect=409, reason="not ours")
    act(client, case_id, "request_return", world.lead_worker, reason="不属于本单位职责")
    act(client, case_id, "request_return", world.lead_worker, expect=409, reason="again")
    pending = client.get("/api/hotline/requests", headers=headers_of(world.dispatcher)).json()
    assert [(row["kind"], row["ticket_id"]) for row in pending] == [("return", ticket.id)]
    refused = act(client, case_id, "refuse_return", world.dispatcher, reason="属于本单位")
    assert refused["status"] == "dispatched" and refused["department_id"] == world.lead.id
    assert client.get("/api/hotline/requests", headers=headers_of(world.dispatcher)).json() == []
    act(client, case_id, "request_return", world.lead_worker, reason="确非本单位")
    approved = act(client, case_id, "approve_return", world.dispatcher)
    assert approved["status"] == "returned" and approved["department_id"] is None
    # Back to dispatch: a dispatcher sends it to another unit.
    dispatch_to(client, world, ticket, world.other)
    session.refresh(ticket)
    assert ticket.lead_department_id == world.other.id and ticket.status == "dispatched"
    assert kinds_of(session, ticket) == [
        "dispatched",
        "return_requested",
        "return_refused",
        "return_requested",
        "returned",
        "dispatched",
    ]


def test_two_returns_with_nobody_accepting_go_to_the_unit_of_last_resort(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    assert ticket.case_id is not None
    case_id = ticket.case_id
    for unit, worker in ((world.lead, world.lead_worker), (world.other, world.other_worker)):
        dispatch_to(client, world, ticket, unit)
        act(client, case_id, "request_return", worker, reason="非本单位职责")
        answer = act(client, case_id, "approve_return", world.dispatcher)
    # The second approval dispatched it at once to the district government (兜底).
    assert answer["status"] == "dispatched"
    assert answer["department_id"] == world.last_resort.id
    session.refresh(ticket)
    assert ticket.lead_department_id == world.last_resort.id
    assert kinds_of(session, ticket)[-2:] == ["dispatched", "last_resort"]
    refused = act(
        client, case_id, "request_return", world.last_resort_worker, expect=409, reason="no"
    )
    assert "last resort" in refused["detail"]
    act(client, case_id, "accept", world.last_resort_worker)


def test_a_co_unit_has_its_own_deadline_and_reply(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    added = client.post(
        f"/api/hotline/tickets/{ticket.id}/co-units",
        json={"department_code": world.co.code},
        headers=headers_of(world.dispatcher),
    )
    assert added.status_code == 201, added.text
    co_unit = added.json()["co_units"][0]
    assert co_unit["department_code"] == world.co.code and co_unit["light"] == "green"
    assert co_unit["reply_due_at"] is not None and co_unit["replied_at"] is None
    twice = client.post(
        f"/api/hotline/tickets/{ticket.id}/co-units",
        json={"department_code": world.co.code},
        headers=headers_of(world.dispatcher),
    )
    assert twice.status_code == 409
    # The co-unit replies: recorded apart, the case stays with the lead unit.
    view = post_reply(client, ticket, world.co_worker, action_taken="已检修管线")
    assert view["status"] == "signed"
    assert [row["unit_role"] for row in view["replies"]] == ["co"]
    assert view["co_units"][0]["replied_at"] is not None
    # A unit that is neither lead nor co-unit does not find the ticket.
    post_reply(client, ticket, world.other_worker, expect=404)
    view = post_reply(client, ticket, world.lead_worker)
    assert [row["unit_role"] for row in view["replies"]] == ["co", "lead"]
    assert view["status"] == "replied"
    assert kinds_of(session, ticket)[-3:] == ["co_unit_added", "reply", "reply"]


def test_an_unreasonable_request_is_flagged_and_decided(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    url = f"/api/hotline/tickets/{ticket.id}/unreasonable"
    flagged = client.post(
        url, json={"reason": "诉求超出政策范围"}, headers=headers_of(world.lead_worker)
    )
    assert flagged.status_code == 201, flagged.text
    decision = client.post(
        f"{url}/decision", json={"approve": False}, headers=headers_of(world.dispatcher)
    )
    assert decision.status_code == 200 and decision.json()["unreasonable"] is False
    client.post(url, json={"reason": "要求拆除合法建筑"}, headers=headers_of(world.lead_worker))
    decision = client.post(
        f"{url}/decision",
        json={"approve": True, "note": "同意"},
        headers=headers_of(world.dispatcher),
    )
    assert decision.status_code == 200
    assert decision.json()["unreasonable"] is True
    assert decision.json()["unreasonable_reason"] == "要求拆除合法建筑"
    session.refresh(ticket)
    assert ticket.unreasonable and ticket.unreasonable_reason == "要求拆除合法建筑"
    none_pending = client.post(
        f"{url}/decision", json={"approve": True}, headers=headers_of(world.dispatcher)
    )
    assert none_pending.status_code == 409


def test_the_callback_sends_it_back_for_rework_then_closes_it(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    post_reply(client, ticket, world.lead_worker)
    session.refresh(ticket)
    first_due = ticket.reply_due_at
    by = world.dispatcher.principal()
    hotline.rework_after_callback(
        session, ticket.id, by=by, now=datetime.now(UTC), note="回访：未解决"
    )
    session.refresh(ticket)
    assert ticket.status == "rework" and ticket.reply_due_at is not None
    assert first_due is not None and ticket.reply_due_at >= first_due
    assert ticket.case_id is not None
    case = client.get(f"/api/cases/{ticket.case_id}", headers=headers_of(world.lead_worker))
    assert case.json()["status"] == "rework"
    assert case.json()["department_id"] == world.lead.id  # the same lead unit
    view = post_reply(client, ticket, world.lead_worker, action_taken="再次清理并加装围挡")
    assert [row["work_round"] for row in view["replies"]] == [0, 1]
    hotline.close_after_callback(session, ticket.id, by=by, now=datetime.now(UTC))
    session.refresh(ticket)
    assert ticket.status == "closed" and ticket.closed_at is not None
    case = client.get(f"/api/cases/{ticket.case_id}", headers=headers_of(world.dispatcher))
    assert case.json()["status"] == "closed"
    hotline.close_after_callback(session, ticket.id, by=by, now=datetime.now(UTC))  # idempotent
    assert kinds_of(session, ticket)[-4:] == ["reply", "rework", "reply", "closed"]


def test_no_event_carries_the_callers_name_or_phone(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    client.post(
        f"/api/hotline/tickets/{ticket.id}/co-units",
        json={"department_code": world.co.code},
        headers=headers_of(world.dispatcher),
    )
    # A unit that writes the caller's name or phone into its reply: the hotline is told them masked.
    post_reply(
        client,
        ticket,
        world.lead_worker,
        contacted_person=f"{CALLER_NAME}（138 1234 5678）",
        action_taken=f"已电话联系{CALLER_NAME}并处理",
    )
    reply = events_of(session, ticket)[-1]
    assert reply.data["contacted_person"] == "张**（138****5678）"
    assert reply.data["action_taken"] == "已电话联系张**并处理"
    history = client.get(
        f"/api/cases/{ticket.case_id}/history", headers=headers_of(world.dispatcher)
    ).json()
    assert history[-1]["action"] == "handle" and history[-1]["reason"] == "已电话联系张**并处理"
    for text in [
        json.dumps(event.data, ensure_ascii=False) for event in events_of(session, ticket)
    ]:
        assert CALLER_PHONE not in text and CALLER_NAME not in text


def test_the_workflow_is_hidden_from_units_not_on_the_ticket(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    signed(client, world, ticket)
    url = f"/api/hotline/tickets/{ticket.id}/workflow"
    assert client.get(url, headers=headers_of(world.other_worker)).status_code == 404
    assert client.get(url, headers=headers_of(world.lead_worker)).status_code == 200
    body = reply_body()
    assert (
        client.post(
            f"/api/hotline/tickets/{ticket.id}/replies",
            json=body,
            headers=headers_of(world.dispatcher),
        ).status_code
        == 403
    )


def test_a_dispatcher_reassigns_a_ticket_to_another_unit(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "request_return", world.lead_worker, reason="非本单位")
    act(
        client,
        ticket.case_id,
        "dispatch",
        world.dispatcher,
        department_code=world.other.code,
        reason="改派市政",
    )
    session.refresh(ticket)
    assert ticket.lead_department_id == world.other.id and ticket.signed_at is None
    assert kinds_of(session, ticket) == ["dispatched", "return_requested", "reassigned"]
    # The reassignment answered the unit's pending return request.
    assert client.get("/api/hotline/requests", headers=headers_of(world.dispatcher)).json() == []
    act(client, ticket.case_id, "accept", world.other_worker)
