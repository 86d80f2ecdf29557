"""The closed loop's test world: a department, a dispatcher, an inspector and a category, and
helpers that act on cases through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WorkCalendar
from events.models import Case, CasePhoto, Category
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user

# Not a code of the loaded taxonomy, so seeding it never collides with the real categories.
TEST_STANDARD = "citygrid-test"


@dataclass(frozen=True)
class World:
    category: Category
    sanitation: Department
    roads: Department
    dispatcher: User
    worker: User  # of sanitation
    road_worker: User  # of roads
    inspector: User
    manager: User
    citizen: User


@pytest.fixture
def world(session: Session) -> World:
    sanitation = add_department(session, code="HW-01")
    roads = add_department(session, code="LD-01", kind="roads")
    return World(
        category=add_category(session, code="9901", standard=TEST_STANDARD),
        sanitation=sanitation,
        roads=roads,
        dispatcher=add_user(session, Role.DISPATCHER),
        worker=add_user(session, Role.DEPARTMENT, department=sanitation),
        road_worker=add_user(session, Role.DEPARTMENT, department=roads),
        inspector=add_user(session, Role.INSPECTOR),
        manager=add_user(session, Role.MANAGER),
        citizen=add_user(session, Role.CITIZEN),
    )


def default_calendar(session: Session) -> WorkCalendar:
    return calendar_for_department(session, None, default_code="default")


def headers_of(user: User) -> dict[str, str]:
    token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
    return {"Authorization": f"Bearer {token}"}


def act(client: TestClient, case_id: int, action: str, user: User, **body: Any) -> Response:
    response: Response = client.post(
        f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers_of(user)
    )
    return response


def ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def history(client: TestClient, case_id: int, user: User) -> list[dict[str, Any]]:
    response = client.get(f"/api/cases/{case_id}/history", headers=headers_of(user))
    rows: list[dict[str, Any]] = ok(response)  # type: ignore[assignment]
    return rows


def add_photo(session: Session, case: Case) -> int:
    photo = CasePhoto(
        case_id=case.id,
        storage_key=uuid.uuid4(),
        content_type="image/jpeg",
        size_bytes=1234,
        sha256="0" * 64,
    )
    session.add(photo)
    session.flush()
    return photo.id


def dispatched_case(session: Session, client: TestClient, world: World) -> int:
    """A case filed and dispatched to sanitation through the API."""
    case = add_case(session, category=world.category, reporter=world.citizen)
    ok(act(client, case.id, "file", world.dispatcher))
    ok(act(client, case.id, "dispatch", world.dispatcher, department_code="HW-01"))
    return case.id


def accepted_case(session: Session, client: TestClient, world: World) -> int:
    case_id = dispatched_case(session, client, world)
    ok(act(client, case_id, "accept", world.worker))
    return case_id


def handled_case(session: Session, client: TestClient, world: World) -> int:
    case_id = accepted_case(session, client, world)
    ok(act(client, case_id, "handle", world.worker, reason="cleared the garbage"))
    return case_id
