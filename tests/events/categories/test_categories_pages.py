"""The administrators' categories page: search and paging, names shared by two categories told
apart, changes through the API the page's forms call (audited), refused to other roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from events.models import Category
from events.taxonomy import STANDARD_2013, STANDARD_2026
from tests.events.seed import add_user
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_messages

PAGE = {PAGE_HEADER: "1", "Accept": "application/json"}


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.ADMIN, username="categories.admin")
    log_in(client, user)
    return user


def category(session: Session, code: str, standard: str = STANDARD_2013) -> Category:
    return session.scalars(
        select(Category).where(
            Category.kind == "event", Category.code == code, Category.standard == standard
        )
    ).one()


def audit_events(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def test_the_page_lists_categories_in_chinese_with_their_forms(
    session: Session, client: TestClient, admin: User
) -> None:
    page = open_page(client, "/admin/categories?q=0102", ZH)
    for words in ("类别", "暴露垃圾", "工作小时", "修改", "停用", "事件", "管理", STANDARD_2013):
        assert words in page, words
    garbage = category(session, "0102")
    assert f'data-url="/api/categories/{garbage.id}"' in page
    assert 'data-method="PATCH"' in page
    assert f'data-url="/api/categories/{garbage.id}/retire"' in page
    assert inline_code(page) == []
    assert script_messages(page)["error.field.name_zh"] == "请填写名称（不超过 200 个字符）。"
    assert '<script src="/static/citygrid/admin.js"></script>' in page


def test_categories_that_share_a_name_show_code_and_standard(
    session: Session, client: TestClient, admin: User
) -> None:
    older, newer = category(session, "0103"), category(session, "06011", STANDARD_2026)
    assert older.name_zh == newer.name_zh
    page = open_page(client, "/admin/categories?q=" + older.name_zh, ZH)
    assert f"同名类别：0103 · {STANDARD_2013}" in page
    assert f"同名类别：06011 · {STANDARD_2026}" in page


def test_the_list_is_paged_and_keeps_its_filters(client: TestClient, admin: User) -> None:
    first = open_page(client, "/admin/categories?kind=event", EN)
    assert "Page 1 of" in first
    assert 'href="/admin/categories?kind=event&amp;page=2"' in first
    second = open_page(client, "/admin/categories?kind=event&page=2", EN)
    assert "Previous page" in second
    assert "Component" not in second.split("<tbody>")[1]


def test_a_change_from_the_page_is_saved_and_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    garbage = category(session, "0102")
    changes = {
        "name_zh": "暴露垃圾（街面）",
        "name_en": garbage.name_en,
        "limit_hours_normal": 6,
        "limit_hours_urgent": None,
        "duplicate_radius_m": None,
        "department_type": "sanitation",
        "criteria": None,
    }
    answer = client.patch(f"/api/categories/{garbage.id}", json=changes, headers=PAGE)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["name_zh"], answer.json()["limit_hours_urgent"]) == (
        "暴露垃圾（街面）",
        None,
    )
    (event,) = audit_events(session, "category_changed")
    assert (event.user_id, event.username) == (admin.id, admin.username)
    assert event.details["code"] == "0102" and event.details["standard"] == STANDARD_2013
    assert event.details["changes"]["name_zh"] == ["暴露垃圾", "暴露垃圾（街面）"]
    assert event.details["changes"]["limit_hours_normal"] == [4.0, 6.0]
    assert event.path == f"/api/categories/{garbage.id}"
    page = open_page(client, "/admin/categories?q=0102", ZH)
    assert "暴露垃圾（街面）" in page and "6 / – 工作小时" in page


def test_retiring_and_restoring_are_audited_and_shown(
    session: Session, client: TestClient, admin: User
) -> None:
    garbage = category(session, "0102")
    retired = client.post(f"/api/categories/{garbage.id}/retire", json={}, headers=PAGE)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    assert "暴露垃圾" not in open_page(client, "/admin/categories?q=0102", ZH).split("<tbody>")[1]
    page = open_page(client, "/admin/categories?q=0102&retired=true", ZH)
    assert "已停用" in page and f'data-url="/api/categories/{garbage.id}/unretire"' in page
    restored = client.post(f"/api/categories/{garbage.id}/unretire", json={}, headers=PAGE)
    assert restored.json()["retired_at"] is None
    assert len(audit_events(session, "category_retired")) == 1
    assert len(audit_events(session, "category_restored")) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_zh": ""}, "name_zh"),
        ({"limit_hours_normal": 0}, "limit_hours_normal"),
        ({"limit_hours_urgent": "soon"}, "limit_hours_urgent"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    session: Session, client: TestClient, admin: User, changes: dict[str, object], field: str
) -> None:
    garbage = category(session, "0102")
    answer = client.patch(f"/api/categories/{garbage.id}", json=changes, headers=PAGE)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == field
    assert audit_events(session, "category_changed") == []


def test_other_roles_are_refused(session: Session, client: TestClient) -> None:
    log_in(client, add_user(session, Role.DISPATCHER))
    assert client.get("/admin/categories", headers=ZH).status_code == 403
    garbage = category(session, "0102")
    refused = client.post(f"/api/categories/{garbage.id}/retire", json={}, headers=PAGE)
    assert refused.status_code == 403
    assert session.get(Category, garbage.id) is not None
    assert audit_events(session, "category_retired") == []
    assert audit_events(session, "permission_denied")
