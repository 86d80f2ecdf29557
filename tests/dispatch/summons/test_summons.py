"""吹哨报到 through HTTP: a dispatcher summons units to a case (a grid case or a ticket's), each
reports in with a photo and answers, the case closes only when every unit is done, and the
street office rates the units that reported in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import event
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.errors import Conflict
from dispatch.actions.gates import GATES
from dispatch.hotline import service as hotline
from events.cases import service as cases
from events.cases.prerequisites import Situation
from events.lifecycle import CaseStatus
from events.models import Case
from tests.dispatch.hotline.support import (
    HotlineWorld,
    act,
    add_ticket,
    dispatch_to,
    headers_of,
    kinds_of,
    post_reply,
)
from tests.events.photos.images import image_bytes, opened
from tests.events.seed import add_case, add_user


def summon(
    client: TestClient, case_id: int, world: HotlineWorld, *codes: str, expect: int = 201
) -> list[dict[str, Any]]:
    response = client.post(
        f"/api/cases/{case_id}/summons",
        json={"units": [{"department_code": code, "hours": 2} for code in codes], "note": "现场会"},
        headers=headers_of(world.dispatcher),
    )
    assert response.status_code == expect, response.text
    return list(response.json())


def report_in(
    client: TestClient, case_id: int, code: str, user: User, *, photo: bool = True
) -> int:
    files = [("photos", ("site.jpg", image_bytes(gps=(116.4, 39.9)), "image/jpeg"))]
    response = client.post(
        f"/api/cases/{case_id}/summons/{code}/report-in",
        files=files if photo else None,
        data={"note": "已到场"},
        headers=headers_of(user),
    )
    return int(response.status_code)


def answer(client: TestClient, case_id: int, code: str, user: User) -> int:
    response = client.post(
        f"/api/cases/{case_id}/summons/{code}/answer",
        json={"answer": "已协调处置"},
        headers=headers_of(user),
    )
    return int(response.status_code)


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the session sends meanwhile."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)


def situation(session: Session, case_id: int) -> tuple[Situation, int]:
    """The case's situation as an action sees it, and how many statements it took."""
    case = session.get(Case, case_id)
    assert case is not None
    with statements(session) as sent:
        found = cases.situation_of(session, case, datetime.now(UTC), timedelta(days=7), GATES)
    return found, len(sent)


def handled_grid_case(session: Session, client: TestClient, world: HotlineWorld) -> int:
    case = add_case(session, category=world.category, status=CaseStatus.FILED)
    act(client, case.id, "dispatch", world.dispatcher, department_code=world.lead.code)
    act(client, case.id, "accept", world.lead_worker)
    act(client, case.id, "handle", world.lead_worker, reason="已处置")
    return case.id


def test_a_grid_case_closes_only_when_every_summoned_unit_reported_in_and_answered(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    case_id = handled_grid_case(session, client, world)
    rows = summon(client, case_id, world, world.co.code, world.other.code)
    assert [row["state"] for row in rows] == ["summoned", "summoned"]
    summon(client, case_id, world, world.co.code, expect=409)  # already summoned
    inspector = add_user(session, Role.INSPECTOR)
    refused = act(client, case_id, "verify_pass", inspector, expect=409)
    assert "2 summoned unit(s)" in refused["detail"]
    # Answering before reporting in, and reporting in without a photo, are refused.
    assert answer(client, case_id, world.co.code, world.co_worker) == 409
    assert report_in(client, case_id, world.co.code, world.co_worker, photo=False) == 422
    # A unit that is not summoned finds nothing.
    assert report_in(client, case_id, world.co.code, world.other_worker) == 404
    assert report_in(client, case_id, world.co.code, world.co_worker) == 200
    assert report_in(client, case_id, world.co.code, world.co_worker) == 409
    assert answer(client, case_id, world.co.code, world.co_worker) == 200
    refused = act(client, case_id, "verify_pass", inspector, expect=409)
    assert "1 summoned unit(s)" in refused["detail"]
    assert report_in(client, case_id, world.other.code, world.other_worker) == 200
    assert answer(client, case_id, world.other.code, world.other_worker) == 200
    closed = act(client, case_id, "verify_pass", inspector)
    assert closed["status"] == "closed"
    listed = client.get(f"/api/cases/{case_id}/summons", headers=headers_of(world.dispatcher))
    assert [row["state"] for row in listed.json()] == ["done", "done"]
    history = client.get(f"/api/cases/{case_id}/history", headers=headers_of(world.dispatcher))
    steps = [row["action"] for row in history.json()]
    assert steps.count("summons_report") == 2 and steps.count("summons_answer") == 2


def test_the_report_in_photo_is_stored_without_exif_in_its_public_copy(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    case_id = handled_grid_case(session, client, world)
    summon(client, case_id, world, world.co.code)
    assert report_in(client, case_id, world.co.code, world.co_worker) == 200
    row = client.get(f"/api/cases/{case_id}/summons", headers=headers_of(world.co_worker))
    photo_id = row.json()[0]["photo_id"]
    assert photo_id is not None
    public = client.get(f"/api/photos/{photo_id}", headers=headers_of(world.dispatcher))
    assert public.status_code == 200
    image: Image.Image = opened(public.content)
    assert not image.getexif()


def test_a_tickets_case_with_an_open_summons_is_not_closed_by_the_callback(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    ticket = add_ticket(session, world)
    dispatch_to(client, world, ticket, world.lead)
    assert ticket.case_id is not None
    act(client, ticket.case_id, "accept", world.lead_worker)
    summon(client, ticket.case_id, world, world.co.code)
    post_reply(client, ticket, world.lead_worker)
    # What gates the callback comes from dispatch's tables through the workflow's gatekeeper:
    # the case's history in one statement, the ticket, its reply and the summons in another.
    waiting, sent = situation(session, ticket.case_id)
    assert (waiting.ticket_case, waiting.lead_reply_ready, waiting.summons_open) == (True, True, 1)
    assert sent == 2
    by = world.dispatcher.principal()
    with pytest.raises(Conflict, match="summoned unit"):
        hotline.close_after_callback(session, ticket.id, by=by, now=datetime.now(UTC))
    assert report_in(client, ticket.case_id, world.co.code, world.co_worker) == 200
    assert answer(client, ticket.case_id, world.co.code, world.co_worker) == 200
    assert situation(session, ticket.case_id)[0].summons_open == 0
    hotline.close_after_callback(session, ticket.id, by=by, now=datetime.now(UTC))
    session.refresh(ticket)
    assert ticket.status == "closed"
    assert "summoned" in kinds_of(session, ticket)


def test_the_street_office_rates_the_units_that_reported_in_listed_per_month(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    case_id = handled_grid_case(session, client, world)
    summon(client, case_id, world, world.co.code, world.other.code)
    report_in(client, case_id, world.co.code, world.co_worker)
    url = f"/api/cases/{case_id}/summons/{{code}}/rating"
    body = {"rating": 4, "note": "到场及时"}
    street = headers_of(world.street_worker)
    # Only a unit that reported in is rated, and only by the street office (or above).
    not_reported = client.post(url.format(code=world.other.code), json=body, headers=street)
    assert not_reported.status_code == 409
    by_unit = client.post(
        url.format(code=world.co.code), json=body, headers=headers_of(world.lead_worker)
    )
    assert by_unit.status_code == 403
    out_of_range = client.post(url.format(code=world.co.code), json={"rating": 6}, headers=street)
    assert out_of_range.status_code == 422
    rated = client.post(url.format(code=world.co.code), json=body, headers=street)
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 4 and rated.json()["rating_note"] == "到场及时"
    month = datetime.now(UTC).astimezone().strftime("%Y-%m")
    listed = client.get(
        f"/api/summons/ratings?month={month}&department_code={world.co.code}",
        headers=headers_of(world.dispatcher),
    )
    assert listed.status_code == 200, listed.text
    [unit] = listed.json()
    assert unit["department_code"] == world.co.code and unit["ratings"] == 1
    assert unit["average"] == 4.0 and unit["reported_in"] == 1 and unit["on_time"] == 1
    bad_month = client.get(
        "/api/summons/ratings?month=2026-13", headers=headers_of(world.dispatcher)
    )
    assert bad_month.status_code == 422


def test_only_an_open_case_summons_and_only_dispatchers_summon(
    session: Session, client: TestClient, world: HotlineWorld
) -> None:
    case = add_case(session, category=world.category, status=CaseStatus.CLOSED)
    summon(client, case.id, world, world.co.code, expect=409)
    open_case = add_case(session, category=world.category, status=CaseStatus.FILED)
    response = client.post(
        f"/api/cases/{open_case.id}/summons",
        json={"units": [{"department_code": world.co.code}]},
        headers=headers_of(world.lead_worker),
    )
    assert response.status_code == 403
    unknown = client.post(
        f"/api/cases/{open_case.id}/summons",
        json={"units": [{"department_code": "NOPE"}]},
        headers=headers_of(world.dispatcher),
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "department_code"
