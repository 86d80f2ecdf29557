"""Departments over HTTP: listing, detail with members, admin changes, supervisors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from tests.events.seed import add_department, add_user

Headers = Callable[[Role], dict[str, str]]
ROADS = {"code": "RD-01", "name": "Roads bureau", "kind": "roads", "contact": "010-1234"}


def brief(user: User) -> dict[str, object]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def test_staff_list_departments_with_members_and_supervisors(
    client: TestClient, session: Session, auth: Headers
) -> None:
    sanitation = add_department(session, code="HW-01")
    add_department(session, code="HW-02")
    add_user(session, Role.DEPARTMENT, department=sanitation)
    add_user(session, Role.DEPARTMENT, department=sanitation)
    boss = add_user(session, Role.MANAGER)
    client.put(f"/api/departments/HW-01/supervisors/{boss.id}", headers=auth(Role.ADMIN))

    response = client.get("/api/departments", headers=auth(Role.INSPECTOR))
    assert response.status_code == 200
    listed = {item["code"]: item for item in response.json()}
    assert listed["HW-01"] == {
        "code": "HW-01",
        "name": "sanitation HW-01",
        "kind": "sanitation",
        "contact": None,
        "calendar_code": None,
        "is_active": True,
        "member_count": 2,
        "supervisors": [brief(boss)],
    }
    assert (listed["HW-02"]["member_count"], listed["HW-02"]["supervisors"]) == (0, [])


def test_the_detail_lists_members(client: TestClient, session: Session, auth: Headers) -> None:
    sanitation = add_department(session, code="HW-01")
    member = add_user(session, Role.DEPARTMENT, username="zhang.wei", department=sanitation)
    add_user(session, Role.DEPARTMENT)  # of another department
    response = client.get("/api/departments/HW-01", headers=auth(Role.DEPARTMENT))
    assert response.status_code == 200
    assert response.json()["members"] == [brief(member)]
    assert response.json()["member_count"] == 1
    missing = client.get("/api/departments/NOPE", headers=auth(Role.DEPARTMENT))
    assert missing.status_code == 404
    assert "no department with code 'NOPE'" in missing.json()["detail"]


def test_an_admin_creates_a_department_on_a_calendar(client: TestClient, auth: Headers) -> None:
    default_code = get_settings().default_calendar_code
    body = ROADS | {"calendar_code": default_code}
    response = client.post("/api/departments", json=body, headers=auth(Role.ADMIN))
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["calendar_code"], created["is_active"], created["members"]) == (
        default_code,
        True,
        [],
    )
    again = client.post("/api/departments", json=ROADS, headers=auth(Role.ADMIN))
    assert again.status_code == 409
    assert again.json()["field"] == "code"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (ROADS | {"calendar_code": "lunar"}, 422, "calendar_code"),
        (ROADS | {"budget": 10}, 422, "budget"),  # unknown fields are refused
        ({**ROADS, "code": "has space"}, 422, "code"),
        ({k: v for k, v in ROADS.items() if k != "kind"}, 422, "kind"),
    ],
)
def test_a_bad_department_is_refused_naming_the_field(
    client: TestClient, auth: Headers, body: dict[str, object], status: int, field: str
) -> None:
    response = client.post("/api/departments", json=body, headers=auth(Role.ADMIN))
    assert response.status_code == status
    detail = response.json()
    named = detail.get("field") or detail["detail"][0]["loc"][-1]
    assert named == field


def test_an_admin_changes_a_department(client: TestClient, session: Session, auth: Headers) -> None:
    add_department(session, code="HW-01")
    url = "/api/departments/HW-01"
    default_code = get_settings().default_calendar_code
    changed = client.patch(
        url,
        json={"name": "Sanitation east", "calendar_code": default_code, "is_active": False},
        headers=auth(Role.ADMIN),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["calendar_code"], body["is_active"]) == (
        "Sanitation east",
        default_code,
        False,
    )
    assert body["kind"] == "sanitation"  # untouched
    back = client.patch(url, json={"calendar_code": None}, headers=auth(Role.ADMIN))
    assert back.json()["calendar_code"] is None
    refused = client.patch(url, json={"name": None}, headers=auth(Role.ADMIN))
    assert refused.status_code == 422 and refused.json()["field"] == "name"
    unknown = client.patch("/api/departments/NOPE", json={}, headers=auth(Role.ADMIN))
    assert unknown.status_code == 404


def test_supervisors_are_managers_or_department_users(
    client: TestClient, session: Session, auth: Headers
) -> None:
    sanitation = add_department(session, code="HW-01")
    head = add_user(session, Role.DEPARTMENT, department=sanitation)
    inspector = add_user(session, Role.INSPECTOR)
    url = f"/api/departments/HW-01/supervisors/{head.id}"
    added = client.put(url, headers=auth(Role.ADMIN))
    assert added.status_code == 200
    assert added.json()["supervisors"] == [brief(head)]
    twice = client.put(url, headers=auth(Role.ADMIN))
    assert twice.json()["supervisors"] == [brief(head)]

    wrong = client.put(
        f"/api/departments/HW-01/supervisors/{inspector.id}", headers=auth(Role.ADMIN)
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "user_id"
    ghost = client.put("/api/departments/HW-01/supervisors/999999", headers=auth(Role.ADMIN))
    assert ghost.status_code == 404

    assert client.delete(url, headers=auth(Role.ADMIN)).status_code == 204
    detail = client.get("/api/departments/HW-01", headers=auth(Role.ADMIN)).json()
    assert detail["supervisors"] == []
    assert client.delete(url, headers=auth(Role.ADMIN)).status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/departments"),
        ("PATCH", "/api/departments/HW-01"),
        ("PUT", "/api/departments/HW-01/supervisors/1"),
        ("POST", "/api/calendars"),
        ("PUT", "/api/calendars/default/days/2026-10-01"),
    ],
)
def test_only_admins_change_departments_and_calendars(
    client: TestClient, auth: Headers, method: str, url: str
) -> None:
    response = client.request(method, url, json={}, headers=auth(Role.MANAGER))
    assert response.status_code == 403
