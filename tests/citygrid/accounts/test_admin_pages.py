"""The administration index and the users pages: an administrator finds users by name, a page
at a time, adds them and changes their role, department, password and access, each change
through the users API and audited; every other role is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import DepartmentSupervisor, User
from citygrid.accounts.roles import Role
from tests.citygrid.accounts.sign_in_support import STRONG, audit_rows, bearer, token_of
from tests.events.seed import add_department, add_user
from tests.web.pages_support import EN, HTML, ZH, inline_code, log_in, open_page, script_messages


def page_change(client: TestClient, method: str, url: str, body: Any = None) -> Response:
    """A change as admin.js sends it: the session cookie and the page header."""
    answer: Response = client.request(method, url, json=body, headers={PAGE_HEADER: "1"})
    return answer


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    """A signed-in administrator."""
    user = add_user(session, Role.ADMIN, username="root.admin")
    log_in(client, user)
    return user


def test_the_index_links_every_administration_section_in_chinese(
    client: TestClient, admin: User
) -> None:
    page = open_page(client, "/admin", ZH)
    for path in ("users", "departments", "calendars", "rules", "categories", "open311-keys"):
        assert f'href="/admin/{path}"' in page
    assert 'href="/admin/webhooks"' in page
    for word in ("系统管理", "用户", "部门", "工作日历", "派遣规则", "案件类别"):
        assert word in page
    assert '<a href="/admin" aria-current="page">系统管理</a>' in page  # in the navigation


@pytest.mark.parametrize("path", ["/admin", "/admin/users", "/admin/users/1"])
@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.MANAGER, Role.DEPARTMENT])
def test_other_roles_get_a_forbidden_page_and_the_refusal_is_audited(
    session: Session, client: TestClient, role: Role, path: str
) -> None:
    log_in(client, add_user(session, role, username=f"not-admin-{role}"))
    answer = client.get(path, headers=ZH)
    assert answer.status_code == 403
    assert "您的角色无权打开此页面。" in answer.text
    [denied] = audit_rows(session, "permission_denied")
    assert denied.path == path and denied.details["role"] == role.value


def test_users_are_found_by_username_or_name_a_page_at_a_time(
    session: Session, client: TestClient, admin: User
) -> None:
    for number in range(55):
        add_user(session, Role.INSPECTOR, username=f"insp-{number:02d}")
    wang = add_user(session, Role.DISPATCHER, username="wang.fang")
    session.execute(update(User).where(User.id == wang.id).values(display_name="王芳"))
    first = open_page(client, "/admin/users?role=inspector", ZH)
    assert "找到用户：55 个" in first and "第 1 页，共 2 页" in first
    assert first.count('<tr data-user-id="') == 50
    assert 'href="/admin/users?q=&amp;role=inspector&amp;page=2"' in first
    second = open_page(client, "/admin/users?role=inspector&page=2", ZH)
    assert second.count('<tr data-user-id="') == 5 and "insp-54" in second
    by_name = open_page(client, "/admin/users?q=%E7%8E%8B", ZH)  # 王
    assert f'<a href="/admin/users/{wang.id}">wang.fang</a>' in by_name
    assert "找到用户：1 个" in by_name and "派遣员" in by_name
    # A LIKE wildcard is a character like any other.
    assert "没有符合条件的用户。" in open_page(client, "/admin/users?q=%25", ZH)
    assert client.get("/admin/users?role=boss", headers=HTML).status_code == 422


def test_the_add_form_chooses_the_department_by_name(
    session: Session, client: TestClient, admin: User
) -> None:
    roads = add_department(session, code="RD-01", kind="roads")
    closed = add_department(session, code="OLD-01", kind="roads")
    closed.is_active = False
    page = open_page(client, "/admin/users", ZH)
    assert 'data-url="/api/users" data-next="/admin/users/{id}"' in page
    assert f'<option value="RD-01">{roads.name}</option>' in page
    assert "OLD-01" not in page
    assert 'name="department_code" data-when="role=department"' in page
    assert "新增用户" in page and "部门人员" in page
    assert '<script src="/static/citygrid/admin.js"></script>' in page
    assert inline_code(page) == []
    messages = script_messages(page)
    assert messages["error.field.username"] == "此用户名已被使用。"
    assert messages["done.saved"] == "已保存。"


def test_an_administrator_adds_a_user_and_it_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    add_department(session, code="RD-01", kind="roads")
    body = {
        "username": "li.na",
        "display_name": "李娜",
        "role": "department",
        "department_code": "RD-01",
        "password": STRONG,
    }
    created = page_change(client, "POST", "/api/users", body)
    assert created.status_code == 201, created.text
    [audited] = audit_rows(session, "user_created")
    assert (audited.user_id, audited.username) == (created.json()["id"], "li.na")
    assert audited.details["by_username"] == "root.admin"
    assert audited.details["department_code"] == "RD-01"
    page = open_page(client, f"/admin/users/{created.json()['id']}", ZH)
    assert "李娜" in page and "roads RD-01" in page and "创建时间" in page
    assert '<tr data-kind="user_created">' in page and "root.admin" in page


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "root.admin", "role": "manager"}, 409, "username"),
        ({"username": "chen", "role": "department"}, 422, "department_code"),
        (
            {"username": "chen", "role": "manager", "department_code": "RD-01"},
            422,
            "department_code",
        ),
        ({"username": "chen", "role": "manager", "password": "chen-chen-chen"}, 422, "password"),
        ({"username": "bad name", "role": "manager"}, 422, "username"),
    ],
)
def test_a_refused_user_names_the_field(
    session: Session,
    client: TestClient,
    admin: User,
    body: dict[str, str],
    status: int,
    field: str,
) -> None:
    add_department(session, code="RD-01", kind="roads")
    answer = page_change(client, "POST", "/api/users", {"password": STRONG, **body})
    assert answer.status_code == status
    detail = answer.json()
    fields = [detail["field"]] if "field" in detail else [e["loc"][-1] for e in detail["detail"]]
    assert fields == [field]
    assert audit_rows(session, "user_created") == []


def test_changing_role_and_department_refuses_the_old_tokens_and_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    roads = add_department(session, code="RD-01", kind="roads")
    parks = add_department(session, code="PK-01", kind="parks")
    member = add_user(session, Role.DEPARTMENT, username="zhou", department=roads)
    session.add(DepartmentSupervisor(department_id=roads.id, user_id=member.id))
    old_token = token_of(member, now=datetime.now(UTC) - timedelta(seconds=2))
    moved = page_change(
        client,
        "PATCH",
        f"/api/users/{member.id}",
        {"role": "department", "department_code": "PK-01"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["department_id"] == parks.id
    assert client.get("/api/users/me", headers=bearer(old_token)).status_code == 401
    promoted = page_change(client, "PATCH", f"/api/users/{member.id}", {"role": "inspector"})
    assert promoted.json()["role"] == "inspector" and promoted.json()["department_id"] is None
    assert session.get(DepartmentSupervisor, (roads.id, member.id)) is None  # cannot supervise
    first, second = audit_rows(session, "user_role_changed")
    assert first.details["previous_department_id"] == roads.id
    assert first.details["department_code"] == "PK-01"
    assert (second.details["previous_role"], second.details["role"]) == ("department", "inspector")
    page = open_page(client, f"/admin/users/{member.id}", ZH)
    assert "角色或部门已更改" in page and "监督员" in page


def test_role_changes_that_cannot_be_are_refused_naming_the_field(
    session: Session, client: TestClient, admin: User
) -> None:
    inspector = add_user(session, Role.INSPECTOR, username="wu")
    needs = page_change(client, "PATCH", f"/api/users/{inspector.id}", {"role": "department"})
    assert (needs.status_code, needs.json()["field"]) == (422, "department_code")
    unknown = page_change(
        client, "PATCH", f"/api/users/{inspector.id}", {"department_code": "NOPE"}
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "department_code")
    own = page_change(client, "PATCH", f"/api/users/{admin.id}", {"role": "manager"})
    assert (own.status_code, own.json()["field"]) == (409, "role")
    assert audit_rows(session, "user_role_changed") == []
    page = open_page(client, f"/admin/users/{admin.id}", ZH)
    assert "不能更改自己的角色。" in page and "停用此用户" not in page


def test_resetting_the_password_disabling_and_enabling_are_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    user = add_user(session, Role.MANAGER, username="gao")
    url = f"/api/users/{user.id}"
    weak = page_change(client, "PATCH", url, {"password": "gao-gao-gao"})
    assert (weak.status_code, weak.json()["field"]) == (422, "password")
    assert page_change(client, "PATCH", url, {"password": STRONG}).status_code == 200
    assert page_change(client, "PATCH", url, {"is_active": False}).json()["is_active"] is False
    disabled = open_page(client, f"/admin/users/{user.id}", ZH)
    assert "启用此用户" in disabled and "已停用" in disabled
    assert page_change(client, "PATCH", url, {"is_active": True}).json()["is_active"] is True
    assert page_change(client, "PATCH", url, {"log_out_everywhere": True}).status_code == 200
    for kind in ("password_changed", "user_disabled", "user_enabled", "tokens_reset"):
        [row] = audit_rows(session, kind)
        assert row.user_id == user.id and row.details["by_user_id"] == admin.id
    page = open_page(client, f"/admin/users/{user.id}", ZH)
    for label in ("密码已更改", "已停用", "已启用", "已在所有设备上退出登录"):
        assert label in page


def test_a_change_without_the_page_header_is_refused(
    session: Session, client: TestClient, admin: User
) -> None:
    user = add_user(session, Role.MANAGER, username="he")
    answer = client.patch(f"/api/users/{user.id}", json={"is_active": False})
    assert answer.status_code == 403


def test_a_dispatcher_cannot_change_users_through_the_api(
    session: Session, client: TestClient
) -> None:
    dispatcher = add_user(session, Role.DISPATCHER, username="clerk")
    user = add_user(session, Role.MANAGER, username="lin")
    log_in(client, dispatcher)
    answer = page_change(client, "PATCH", f"/api/users/{user.id}", {"role": "admin"})
    assert answer.status_code == 403
    assert len(audit_rows(session, "permission_denied")) == 1


def test_times_are_in_the_city_zone_and_the_page_speaks_english_too(
    session: Session, client: TestClient, admin: User
) -> None:
    user = add_user(session, Role.MANAGER, username="tang")
    created = datetime(2026, 1, 2, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
    session.execute(update(User).where(User.id == user.id).values(created_at=created))
    assert "2026-01-02 08:30" in open_page(client, "/admin/users?q=tang", ZH)
    page = open_page(client, f"/admin/users/{user.id}", EN)
    assert "2026-01-02 08:30" in page and "Reset the password" in page
    assert client.get("/admin/users/999999", headers=EN).status_code == 404
