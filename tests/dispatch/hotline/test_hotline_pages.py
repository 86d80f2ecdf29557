"""The desk and the console show the hotline work: a unit's tickets with their deadlines and the
four-element reply form, its summons; the dispatchers' returns to decide and the summons form."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.dispatch.hotline.support import (
    HotlineWorld,
    act,
    add_ticket,
    dispatch_to,
    headers_of,
)
from tests.web.pages_support import EN, ZH, log_in, open_page


def test_the_desk_shows_the_ticket_its_deadlines_and_the_reply_form_in_chinese(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    log_in(client, world.lead_worker)
    page = open_page(client, "/desk", ZH)
    assert ticket.ticket_number in page and "12345" in page
    assert "签收工单" in page and "申请退单" in page
    assert f'/api/cases/{ticket.case_id}/actions/return"' not in page  # asks, never returns
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)
    page = open_page(client, "/desk", ZH)
    for field in ("received_at", "contacted_person", "contacted_at", "action_taken", "rest_by"):
        assert f'name="{field}"' in page
    assert "答复（四要素）" in page and "接单时间" in page and "已全部办结" in page
    # The case's plain handling form is not offered for a ticket.
    assert f"/api/cases/{ticket.case_id}/actions/handle" not in page
    english = open_page(client, "/desk", EN)
    assert "Reply with the four elements" in english


def test_the_desk_shows_a_summons_to_report_in(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    answer = client.post(
        f"/api/cases/{ticket.case_id}/summons",
        json={"units": [{"department_code": world.co.code}]},
        headers=headers_of(world.dispatcher),
    )
    assert answer.status_code == 201, answer.text
    log_in(client, world.co_worker)
    page = open_page(client, "/desk", ZH)
    assert "吹哨报到" in page and "现场照片" in page
    assert f"/api/cases/{ticket.case_id}/summons/{world.co.code}/report-in" in page


def test_the_console_shows_returns_to_decide_and_the_summons_form(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "request_return", world.lead_worker, reason="非本单位职责")
    log_in(client, world.dispatcher)
    page = open_page(client, "/console", ZH)
    assert ticket.ticket_number in page and "非本单位职责" in page
    assert f"/api/cases/{ticket.case_id}/actions/approve_return" in page
    assert "同意退单" in page and "吹哨报到" in page
    # The open tickets with their deadlines and lights.
    assert 'id="hotline-tickets-table"' in page and "答复时限最近的在前" in page
    # Summoning by the case's number, as the console's form does.
    number = client.get(
        f"/api/cases/{ticket.case_id}", headers=headers_of(world.dispatcher)
    ).json()["number"]
    answer = client.post(
        "/api/summons",
        json={"case_number": number, "units": [{"department_code": world.co.code}]},
        headers=headers_of(world.dispatcher),
    )
    assert answer.status_code == 201, answer.text


def test_the_case_page_offers_a_tickets_unit_the_return_request(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    log_in(client, world.lead_worker)
    page = open_page(client, f"/cases/{ticket.case_id}", ZH)
    assert 'data-action="request_return"' in page and "申请退单" in page
    assert 'data-action="return"' not in page


def test_the_case_page_of_a_signed_ticket_offers_no_plain_handling(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)
    log_in(client, world.lead_worker)
    page = open_page(client, f"/cases/{ticket.case_id}", ZH)
    assert 'data-action="handle"' not in page  # the desk's four-element reply handles it
    assert 'data-action="request_postponement"' in page
