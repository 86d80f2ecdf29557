"""The departments' administration pages: the list and one department with its members and
supervisors, in Chinese; every change they make goes through the departments (or users) API
and is audited; other roles are refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, Department, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from tests.events.seed import add_department, add_user
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_messages


def page_change(client: TestClient, method: str, url: str, body: Any = None) -> Response:
    """A change as admin.js sends it: the session cookie and the page header."""
    answer: Response = client.request(method, url, json=body, headers={PAGE_HEADER: "1"})
    return answer


def audited(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.ADMIN, username="dept.admin")
    log_in(client, user)
    return user


@pytest.fixture
def roads(session: Session) -> Department:
    department = add_department(session, code="RD-01", kind="roads")
    department.name = "道路养护所"
    return department


def test_the_list_shows_each_department_with_its_calendar_members_and_supervisors(
    session: Session, client: TestClient, admin: User, roads: Department
) -> None:
    add_user(session, Role.DEPARTMENT, department=roads)
    boss = add_user(session, Role.MANAGER, username="boss")
    boss.display_name = "张主任"
    page_change(client, "PUT", f"/api/departments/RD-01/supervisors/{boss.id}")
    page = open_page(client, "/admin/departments", ZH)
    row = page[page.index('<tr data-department="RD-01">') :]
    row = row[: row.index("</tr>")]
    assert '<a href="/admin/departments/RD-01">道路养护所</a>' in row
    assert "默认日历（" in row and "<td>1</td>" in row and "张主任" in row and "在用" in row
    assert 'data-url="/api/departments" data-next="/admin/departments/{code}"' in page
    assert '<option value="" selected>' not in page  # the default calendar is the first option
    assert '<datalist id="department-kinds">' in page and '<option value="roads">' in page
    assert inline_code(page) == []
    assert script_messages(page)["error.field.code"] == "此代码已被使用。"


def test_a_department_added_from_the_page_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    body = {"code": "PK-01", "name": "园林所", "kind": "parks", "contact": None}
    created = page_change(client, "POST", "/api/departments", {**body, "calendar_code": None})
    assert created.status_code == 201, created.text
    [row] = audited(session, "department_created")
    assert row.user_id == admin.id and row.details["code"] == "PK-01"
    assert "园林所" in open_page(client, "/admin/departments/PK-01", ZH)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"code": "RD-01"}, 409, "code"),
        ({"code": "NEW-1", "calendar_code": "nope"}, 422, "calendar_code"),
        ({"code": "NEW-1", "name": ""}, 422, "name"),
        ({"code": "bad code"}, 422, "code"),
    ],
)
def test_a_refused_department_names_the_field(
    session: Session,
    client: TestClient,
    admin: User,
    roads: Department,
    body: dict[str, str],
    status: int,
    field: str,
) -> None:
    answer = page_change(
        client, "POST", "/api/departments", {"name": "新部门", "kind": "roads", **body}
    )
    assert answer.status_code == status
    detail = answer.json()
    fields = [detail["field"]] if "field" in detail else [e["loc"][-1] for e in detail["detail"]]
    assert fields == [field]
    assert audited(session, "department_created") == []


def test_editing_and_deactivating_a_department_is_audited(
    session: Session, client: TestClient, admin: User, roads: Department
) -> None:
    calendar_code = get_settings().default_calendar_code
    changes = {"name": "道路所", "kind": "roads", "contact": None, "calendar_code": calendar_code}
    edited = page_change(client, "PATCH", "/api/departments/RD-01", changes)
    assert edited.status_code == 200, edited.text
    assert page_change(client, "PATCH", "/api/departments/RD-01", {"is_active": False}).is_success
    first, second = audited(session, "department_changed")
    assert first.details["changes"] == changes and first.details["by_username"] == "dept.admin"
    assert second.details == {
        "code": "RD-01",
        "changes": {"is_active": False},
        "by_user_id": admin.id,
        "by_username": "dept.admin",
    }
    page = open_page(client, "/admin/departments/RD-01", ZH)
    assert "道路所" in page and "重新启用此部门" in page and "不能向本部门派遣案件。" in page
    assert f'<option value="{calendar_code}" selected>' in page
    null_name = page_change(client, "PATCH", "/api/departments/RD-01", {"name": None})
    assert (null_name.status_code, null_name.json()["field"]) == (422, "name")


def test_supervisors_are_added_and_removed_and_audited(
    session: Session, client: TestClient, admin: User, roads: Department
) -> None:
    boss = add_user(session, Role.MANAGER, username="boss")
    inspector = add_user(session, Role.INSPECTOR, username="insp")
    page = open_page(client, "/admin/departments/RD-01", ZH)
    assert f'<option value="{boss.id}">' in page and f'<option value="{inspector.id}">' not in page
    assert 'data-url="/api/departments/RD-01/supervisors/{user_id}"' in page
    added = page_change(client, "PUT", f"/api/departments/RD-01/supervisors/{boss.id}")
    assert added.status_code == 200, added.text
    page = open_page(client, "/admin/departments/RD-01", ZH)
    assert f'data-url="/api/departments/RD-01/supervisors/{boss.id}"' in page
    assert f'<option value="{boss.id}">' not in page  # supervises already
    wrong = page_change(client, "PUT", f"/api/departments/RD-01/supervisors/{inspector.id}")
    assert (wrong.status_code, wrong.json()["field"]) == (422, "user_id")
    removed = page_change(client, "DELETE", f"/api/departments/RD-01/supervisors/{boss.id}")
    assert removed.status_code == 204
    [add_row] = audited(session, "supervisor_added")
    [remove_row] = audited(session, "supervisor_removed")
    assert add_row.details["user_id"] == remove_row.details["user_id"] == boss.id
    assert "暂无督办人。" in open_page(client, "/admin/departments/RD-01", ZH)


def test_a_member_of_another_department_is_moved_here(
    session: Session, client: TestClient, admin: User, roads: Department
) -> None:
    parks = add_department(session, code="PK-01", kind="parks")
    gardener = add_user(session, Role.DEPARTMENT, username="gardener", department=parks)
    page = open_page(client, "/admin/departments/RD-01", ZH)
    assert f'<optgroup label="{parks.name}">' in page
    assert f'<option value="{gardener.id}">' in page
    assert 'data-url="/api/users/{user_id}"' in page
    body = {"role": "department", "department_code": "RD-01"}
    moved = page_change(client, "PATCH", f"/api/users/{gardener.id}", body)
    assert moved.status_code == 200, moved.text
    page = open_page(client, "/admin/departments/RD-01", ZH)
    assert f'<li data-user-id="{gardener.id}"><a href="/admin/users/{gardener.id}">' in page
    [row] = audited(session, "user_role_changed")
    assert row.details["previous_department_id"] == parks.id


@pytest.mark.parametrize("path", ["/admin/departments", "/admin/departments/RD-01"])
def test_other_roles_are_refused(
    session: Session, client: TestClient, roads: Department, path: str
) -> None:
    log_in(client, add_user(session, Role.DISPATCHER, username="clerk"))
    answer = client.get(path, headers=ZH)
    assert answer.status_code == 403 and "您的角色无权打开此页面。" in answer.text
    change = page_change(client, "PATCH", "/api/departments/RD-01", {"is_active": False})
    assert change.status_code == 403
    assert len(audited(session, "permission_denied")) == 2
    assert audited(session, "department_changed") == []


def test_an_unknown_department_is_a_not_found_page(client: TestClient, admin: User) -> None:
    answer = client.get("/admin/departments/NOPE", headers=EN)
    assert answer.status_code == 404 and "There is nothing here." in answer.text
