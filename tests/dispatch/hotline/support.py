"""A small hotline world: units (one the unit of last resort), a dispatcher, members, tickets
with their cases, and helpers to act through HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from events.hotline.models import HotlineCaller, HotlineTicket, HotlineTicketEvent
from events.lifecycle import CaseStatus
from events.models import Category
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user

CALLER_PHONE = "13812345678"
CALLER_NAME = "张三丰"


@dataclass(frozen=True)
class HotlineWorld:
    category: Category
    lead: Department
    other: Department
    co: Department
    last_resort: Department
    street_office: Department
    dispatcher: User
    lead_worker: User
    other_worker: User
    co_worker: User
    last_resort_worker: User
    street_worker: User


@pytest.fixture
def world(session: Session) -> HotlineWorld:
    code = get_settings().hotline_last_resort_department_code
    last_resort = session.scalar(select(Department).where(Department.code == code))
    if last_resort is None:
        last_resort = add_department(session, code=code, kind="district_government")
    lead = add_department(session, code="HT-HW", kind="sanitation")
    other = add_department(session, code="HT-SZ", kind="municipal_facilities")
    co = add_department(session, code="HT-GS", kind="water_supply_enterprise")
    street_office = add_department(session, code="HT-JD", kind="street_office")
    return HotlineWorld(
        category=add_category(session, code="9911", standard="citygrid-hotline-test"),
        lead=lead,
        other=other,
        co=co,
        last_resort=last_resort,
        street_office=street_office,
        dispatcher=add_user(session, Role.DISPATCHER),
        lead_worker=add_user(session, Role.DEPARTMENT, department=lead),
        other_worker=add_user(session, Role.DEPARTMENT, department=other),
        co_worker=add_user(session, Role.DEPARTMENT, department=co),
        last_resort_worker=add_user(session, Role.DEPARTMENT, department=last_resort),
        street_worker=add_user(session, Role.DEPARTMENT, department=street_office),
    )


def add_ticket(
    session: Session,
    world: HotlineWorld,
    *,
    urgency: str = "general",
    received_at: datetime | None = None,
) -> HotlineTicket:
    """A filed ticket with its (filed) case and its caller."""
    case = add_case(
        session, category=world.category, status=CaseStatus.FILED, description="楼道堆物 stairs"
    )
    ticket = HotlineTicket(
        ticket_number=f"T{uuid.uuid4().hex[:12]}",
        received_at=received_at or datetime.now(UTC) - timedelta(minutes=30),
        ticket_type="complaint",
        urgency_class=urgency,
        content="东四北大街12号楼道堆放杂物，影响通行",
        address_text="东四北大街12号",
        location_status="located",
        case_id=case.id,
        status="filed",
    )
    session.add(ticket)
    session.flush()
    session.add(HotlineCaller(ticket_id=ticket.id, name=CALLER_NAME, phone=CALLER_PHONE))
    session.flush()
    return ticket


def headers_of(user: User) -> dict[str, str]:
    token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
    return {"Authorization": f"Bearer {token}"}


def act(
    client: TestClient, case_id: int, action: str, user: User, *, expect: int = 200, **body: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers_of(user)
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


def dispatch_to(
    client: TestClient, world: HotlineWorld, ticket: HotlineTicket, unit: Department
) -> None:
    assert ticket.case_id is not None
    act(client, ticket.case_id, "dispatch", world.dispatcher, department_code=unit.code)


def reply_body(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "received_at": (now - timedelta(minutes=20)).isoformat(),
        "contacted_person": "来电人本人",
        "contacted_at": (now - timedelta(minutes=10)).isoformat(),
        "action_taken": "已清理楼道杂物，恢复通行",
        "rest_by": "done",
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


def post_reply(
    client: TestClient, ticket: HotlineTicket, user: User, *, expect: int = 201, **changes: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/hotline/tickets/{ticket.id}/replies",
        json=reply_body(**changes),
        headers=headers_of(user),
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


def events_of(session: Session, ticket: HotlineTicket) -> list[HotlineTicketEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(HotlineTicketEvent)
            .where(HotlineTicketEvent.ticket_id == ticket.id)
            .order_by(HotlineTicketEvent.seq)
        )
    )


def kinds_of(session: Session, ticket: HotlineTicket) -> list[str]:
    return [event.kind for event in events_of(session, ticket)]
