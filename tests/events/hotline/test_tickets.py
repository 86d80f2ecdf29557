"""POST /api/hotline/tickets: tickets stored once, located, filed as cases; the lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import AuditEvent
from citygrid.accounts.roles import Role
from events.hotline.keys import KEY_HEADER, revoke_source
from events.hotline.models import HotlineCaller, HotlineSource, HotlineTicket, HotlineTicketEvent
from events.hotline.schemas import TicketCreate
from events.hotline.service import record_event, wgs84_of
from events.hotline.statements import INSERT_TICKET
from events.models import Case, Report
from tests.events.hotline.support import (
    CALLER,
    MASKED_PHONE,
    PHONE,
    add_places,
    seed_hotline,
    ticket_body,
)
from tests.events.seed import add_category, add_department, add_user
from tests.grid.places import CELL_NW, CELL_SE, centre_of

Auth = Callable[[Role], dict[str, str]]


def events_of(session: Session, ticket_id: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(HotlineTicketEvent.seq, HotlineTicketEvent.kind)
        .where(HotlineTicketEvent.ticket_id == ticket_id)
        .order_by(HotlineTicketEvent.seq)
    )
    return [(seq, kind) for seq, kind in rows]


def test_a_ticket_with_coordinates_becomes_a_filed_case(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    answer = client.post(
        "/api/hotline/tickets", json=ticket_body(number="BJ20261206001"), headers=key
    )
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["status"] == "filed" and ticket["location_status"] == "located"
    assert ticket["cell_code"] == CELL_NW.code
    assert ticket["caller_phone"] == MASKED_PHONE and ticket["caller_name"] == "张**"
    assert PHONE not in answer.text and CALLER not in answer.text
    case = session.get(Case, ticket["case_id"])
    assert case is not None and case.status == "filed" and case.filed_at is not None
    report = session.scalar(select(Report).where(Report.case_id == case.id))
    assert report is not None and report.channel == "hotline"
    assert events_of(session, ticket["id"]) == [(1, "received"), (2, "located"), (3, "filed")]
    caller = session.get(HotlineCaller, ticket["id"])
    assert caller is not None and caller.phone == PHONE
    stored = session.get(HotlineTicket, ticket["id"])
    assert stored is not None and stored.dispatch_due_at is not None
    assert (stored.dispatch_due_at - stored.received_at).total_seconds() == 24 * 3600


def test_a_replayed_ticket_answers_200_with_the_same_ticket_and_no_second_case(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    body = ticket_body(number="BJ20261206002")
    first = client.post("/api/hotline/tickets", json=body, headers=key)
    again = client.post("/api/hotline/tickets", json={**body, "content": "改过的内容"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["case_id"] == first.json()["case_id"]
    assert again.json()["replayed"] is True
    assert session.scalar(select(func.count()).select_from(Case)) == 1
    assert session.scalar(select(func.count()).select_from(HotlineTicket)) == 1
    assert len(events_of(session, first.json()["id"])) == 3


def test_consultations_and_praise_are_recorded_without_a_case(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    for kind in ("consultation", "praise"):
        answer = client.post(
            "/api/hotline/tickets", json=ticket_body(ticket_type=kind), headers=key
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "recorded"
        assert answer.json()["location_status"] == "not_needed"
        assert answer.json()["case_id"] is None
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    listed = client.get("/api/hotline/tickets?status=recorded", headers=auth_headers(session))
    assert len(listed.json()["tickets"]) == 2


def auth_headers(session: Session, role: Role = Role.DISPATCHER) -> dict[str, str]:
    from tests.events.intake.support import headers_for

    return headers_for(add_user(session, role))


def test_an_address_the_gazetteer_does_not_know_waits_to_be_located(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    body = ticket_body(address_text="某个不存在的地方 99 号")
    del body["lon"], body["lat"]
    answer = client.post("/api/hotline/tickets", json=body, headers=key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "to_locate" and answer.json()["case_id"] is None
    headers = auth_headers(session)
    waiting = client.get("/api/hotline/tickets?status=to_locate", headers=headers).json()
    assert [t["id"] for t in waiting["tickets"]] == [answer.json()["id"]]
    # The dispatcher picks a point on the map: the ticket is located and filed.
    lon, lat = centre_of(CELL_SE)
    picked = client.post(
        f"/api/hotline/tickets/{answer.json()['id']}/location",
        json={"lon": lon, "lat": lat},
        headers=headers,
    )
    assert picked.status_code == 200, picked.text
    assert picked.json()["status"] == "filed" and picked.json()["cell_code"] == CELL_SE.code
    case = session.get(Case, picked.json()["case_id"])
    assert case is not None and case.status == "filed"
    again = client.post(
        f"/api/hotline/tickets/{answer.json()['id']}/location",
        json={"lon": lon, "lat": lat},
        headers=headers,
    )
    assert again.status_code == 409
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_point_outside_the_grid_without_a_known_address_waits_to_be_located(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    body = ticket_body(point=(117.5, 40.5), address_text=None)
    answer = client.post("/api/hotline/tickets", json=body, headers=key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "to_locate"


def test_the_category_hint_names_the_category_by_code_or_name(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    special = add_category(
        session, code="9977", name_zh="测试热线类别", name_en="Hotline test", standard="hl-test"
    )
    by_name = client.post(
        "/api/hotline/tickets", json=ticket_body(category_hint="测试热线类别"), headers=key
    )
    by_code = client.post(
        "/api/hotline/tickets", json=ticket_body(category_hint="9977"), headers=key
    )
    unknown = client.post(
        "/api/hotline/tickets", json=ticket_body(category_hint="没有这个类别"), headers=key
    )
    assert by_name.json()["category_code"] == by_code.json()["category_code"] == special.code
    assert unknown.status_code == 201 and unknown.json()["category_code"] is not None
    assert unknown.json()["status"] == "filed"


def test_a_missing_unknown_or_revoked_key_is_refused(client: TestClient, session: Session) -> None:
    _, key = seed_hotline(session)
    assert client.post("/api/hotline/tickets", json=ticket_body()).status_code == 403
    wrong = {KEY_HEADER: "not-a-key"}
    assert client.post("/api/hotline/tickets", json=ticket_body(), headers=wrong).status_code == 403
    source = session.scalar(select(HotlineSource).order_by(HotlineSource.id.desc()))
    assert source is not None
    revoke_source(session, source.id)
    assert client.post("/api/hotline/tickets", json=ticket_body(), headers=key).status_code == 403
    assert session.scalar(select(func.count()).select_from(HotlineTicket)) == 0


def test_bad_fields_are_refused_naming_the_field(client: TestClient, session: Session) -> None:
    _, key = seed_hotline(session)
    changes: tuple[tuple[dict[str, Any], str], ...] = (
        ({"ticket_type": "抱怨"}, "ticket_type"),
        ({"urgency_class": "urgent"}, "urgency_class"),
        ({"received_at": "2026-12-06T09:00:00"}, "received_at"),
        ({"caller_phone": "call me"}, "caller_phone"),
        ({"content": ""}, "content"),
        ({"datum": "epsg3857"}, "datum"),
    )
    for change, field in changes:
        answer = client.post("/api/hotline/tickets", json={**ticket_body(), **change}, headers=key)
        assert answer.status_code == 422, (change, answer.text)
        assert field in answer.text
    half = ticket_body()
    del half["lat"]
    answer = client.post("/api/hotline/tickets", json=half, headers=key)
    assert answer.status_code == 422 and "lat" in answer.json()["field"]


def test_lists_page_by_keyset_and_filter(client: TestClient, session: Session) -> None:
    _, key = seed_hotline(session)
    for hour in range(5):
        body = ticket_body(
            received_at=f"2026-12-06T0{hour}:00:00+08:00",
            urgency_class="emergency" if hour % 2 else "general",
            ticket_type="suggestion",
        )
        assert client.post("/api/hotline/tickets", json=body, headers=key).status_code == 201
    headers = auth_headers(session, Role.MANAGER)
    first = client.get("/api/hotline/tickets?page_size=2", headers=headers).json()
    second = client.get(
        f"/api/hotline/tickets?page_size=2&after={first['next_cursor']}", headers=headers
    ).json()
    third = client.get(
        f"/api/hotline/tickets?page_size=2&after={second['next_cursor']}", headers=headers
    ).json()
    times = [t["received_at"] for page in (first, second, third) for t in page["tickets"]]
    assert len(times) == 5 and times == sorted(times, reverse=True)
    assert third["next_cursor"] is None
    urgent = client.get("/api/hotline/tickets?urgency_class=emergency", headers=headers).json()
    assert len(urgent["tickets"]) == 2
    period = client.get(
        "/api/hotline/tickets?from=2026-12-06T01:00:00%2B08:00&to=2026-12-06T03:00:00%2B08:00",
        headers=headers,
    ).json()
    assert len(period["tickets"]) == 2
    bad = client.get("/api/hotline/tickets?after=garbage", headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "after"
    refused = client.get("/api/hotline/tickets", headers=auth_headers(session, Role.INSPECTOR))
    assert refused.status_code == 403


def test_the_caller_in_full_is_for_dispatchers_and_the_lead_department_and_audited(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    ticket = client.post("/api/hotline/tickets", json=ticket_body(), headers=key).json()
    dispatcher = auth_headers(session)
    seen = client.get(f"/api/hotline/tickets/{ticket['id']}/caller", headers=dispatcher)
    assert seen.status_code == 200 and seen.json()["phone"] == PHONE
    lead, other = add_department(session, code="HL-1"), add_department(session, code="HL-2")
    stored = session.get(HotlineTicket, ticket["id"])
    assert stored is not None
    stored.lead_department_id = lead.id
    session.flush()
    from tests.events.intake.support import headers_for

    member = headers_for(add_user(session, Role.DEPARTMENT, department=lead))
    outsider = headers_for(add_user(session, Role.DEPARTMENT, department=other))
    url = f"/api/hotline/tickets/{ticket['id']}/caller?reason=回访"
    assert client.get(url, headers=member).json()["name"] == CALLER
    assert client.get(url, headers=outsider).status_code == 403
    assert client.get(url, headers=auth_headers(session, Role.MANAGER)).status_code == 403
    views = session.scalars(select(AuditEvent).where(AuditEvent.kind == "caller_viewed")).all()
    assert len(views) == 2
    assert all(view.details["ticket_id"] == ticket["id"] for view in views)
    assert all(PHONE not in str(view.details) for view in views)


def test_record_event_numbers_events_per_ticket(client: TestClient, session: Session) -> None:
    _, key = seed_hotline(session)
    ticket = client.post("/api/hotline/tickets", json=ticket_body(), headers=key).json()
    from datetime import UTC, datetime

    seq = record_event(
        session, ticket["id"], "dispatched", {"department": "HW"}, now=datetime.now(UTC)
    )
    assert seq == 4
    count = session.execute(
        text("SELECT count(*) FROM hotline_ticket_event WHERE ticket_id = :id"),
        {"id": ticket["id"]},
    ).scalar()
    assert count == 4


def test_an_address_of_the_gazetteer_is_located_into_its_cell(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    add_places(session)
    body = ticket_body(address_text="东城区多福巷５号院３号楼")  # full-width digits
    del body["lon"], body["lat"]
    answer = client.post("/api/hotline/tickets", json=body, headers=key)
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["status"] == "filed" and ticket["cell_code"] == CELL_SE.code
    assert ticket["place_id"] is not None and ticket["location_confidence"] >= 0.6
    assert (ticket["lon"], ticket["lat"]) == pytest.approx(centre_of(CELL_SE))


def test_the_dispatcher_picks_a_candidate_of_a_vague_address(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    add_places(session)
    body = ticket_body(address_text="多福巷5号院8号楼")  # a building the gazetteer lacks
    del body["lon"], body["lat"]
    answer = client.post("/api/hotline/tickets", json=body, headers=key)
    ticket = answer.json()
    assert ticket["status"] == "to_locate", ticket
    assert len(ticket["candidates"]) == 2, ticket
    headers = auth_headers(session)
    chosen = ticket["candidates"][-1]
    picked = client.post(
        f"/api/hotline/tickets/{ticket['id']}/location",
        json={"place_id": chosen["place_id"]},
        headers=headers,
    )
    assert picked.status_code == 200, picked.text
    assert picked.json()["place_id"] == chosen["place_id"]
    assert picked.json()["status"] == "filed"
    unknown = client.post(
        f"/api/hotline/tickets/{ticket['id']}/location", json={"place_id": 999999}, headers=headers
    )
    assert unknown.status_code == 409


def test_a_replay_finishes_a_ticket_a_crash_left_received(
    client: TestClient, session: Session
) -> None:
    """The ticket was stored (201 never reached the hotline, or the process died before it was
    located): its replay locates and files it, once."""
    _, key = seed_hotline(session)
    body = ticket_body(number="BJ-CRASHED-1")
    left = TicketCreate.model_validate(body)
    point = wgs84_of(left)
    assert point is not None
    session.connection().exec_driver_sql(
        INSERT_TICKET,
        {
            "ticket_number": left.ticket_number,
            "source_id": None,
            "received_at": left.received_at,
            "ticket_type": left.ticket_type.value,
            "urgency_class": left.urgency_class.value,
            "content": left.content,
            "address_text": left.address_text,
            "lon": point[0],
            "lat": point[1],
            "input_datum": "wgs84",
            "hint": None,
            "suggested_id": None,
            "opens_case": True,
            "default_code": None,
            "location_status": "to_locate",
            "status": "received",
            "dispatch_due_at": None,
            "caller_name": left.caller_name,
            "caller_phone": left.caller_phone,
            "event_data": "{}",
            "now": left.received_at,
        },
    )
    replay = client.post("/api/hotline/tickets", json=body, headers=key)
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "filed" and replay.json()["case_id"] is not None
    again = client.post("/api/hotline/tickets", json=body, headers=key)
    assert again.json()["case_id"] == replay.json()["case_id"]
    assert session.scalar(select(func.count()).select_from(Case)) == 1
    assert events_of(session, replay.json()["id"]) == [
        (1, "received"),
        (2, "located"),
        (3, "filed"),
    ]


def test_the_page_lists_tickets_by_tab_and_only_dispatchers_get_the_pick(
    client: TestClient, session: Session
) -> None:
    _, key = seed_hotline(session)
    add_places(session)
    body = ticket_body(address_text="多福巷5号院8号楼")
    del body["lon"], body["lat"]
    waiting = client.post("/api/hotline/tickets", json=body, headers=key).json()
    filed = client.post("/api/hotline/tickets", json=ticket_body(), headers=key).json()
    dispatcher = {**auth_headers(session), "Accept-Language": "zh-CN"}
    page = client.get("/hotline", headers=dispatcher)
    assert page.status_code == 200 and "热线工单" in page.text and "待定位" in page.text
    assert f'id="ticket-{waiting["id"]}"' in page.text and "candidate-pick" in page.text
    assert f'id="ticket-{filed["id"]}"' not in page.text
    filed_tab = client.get("/hotline?tab=filed", headers=dispatcher)
    assert filed["case_number"] in filed_tab.text
    manager = {**auth_headers(session, Role.MANAGER), "Accept-Language": "en"}
    read_only = client.get("/hotline", headers=manager)
    assert read_only.status_code == 200 and "To be located" in read_only.text
    assert "candidate-pick" not in read_only.text and MASKED_PHONE in read_only.text
    refused = client.get("/hotline", headers=auth_headers(session, Role.INSPECTOR))
    assert refused.status_code == 403
