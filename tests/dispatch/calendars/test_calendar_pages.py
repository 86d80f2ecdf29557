"""The work calendars' administration pages: the list, and one calendar with a year's holidays
and working weekend days (official ones named in Chinese), its overrides and its departments;
every change goes through the calendars (or departments) API and is audited; other roles are
refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from tests.events.seed import add_department, add_user
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_messages

SIX_DAYS = {
    "code": "six-days",
    "name": "六天工作制",
    "periods": [["08:00", "12:00"], ["14:00", "18:00"]],
    "weekdays": [1, 2, 3, 4, 5, 6],
    "official_holidays": False,
}


def page_change(client: TestClient, method: str, url: str, body: Any = None) -> Response:
    """A change as admin.js sends it: the session cookie and the page header."""
    answer: Response = client.request(method, url, json=body, headers={PAGE_HEADER: "1"})
    return answer


def audited(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def default_code() -> str:
    return get_settings().default_calendar_code


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.ADMIN, username="cal.admin")
    log_in(client, user)
    return user


def test_the_list_shows_hours_weekdays_and_departments_in_chinese(
    session: Session, client: TestClient, admin: User
) -> None:
    add_department(session, code="RD-01", kind="roads")  # works by the default calendar
    page = open_page(client, "/admin/calendars", ZH)
    row = page[page.index(f'<tr data-calendar="{default_code()}">') :]
    row = row[: row.index("</tr>")]
    assert "默认" in row and "08:30–12:00 · 13:30–17:30" in row
    assert "星期一 · 星期二 · 星期三 · 星期四 · 星期五" in row and "<td>是</td>" in row
    assert 'data-url="/api/calendars" data-next="/admin/calendars/{code}"' in page
    assert 'name="weekdays" value="6" data-type="int-list">' in page
    assert inline_code(page) == []
    assert script_messages(page)["error.field.periods"].startswith("请按 08:30-12:00")


def test_a_calendar_added_from_the_page_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    created = page_change(client, "POST", "/api/calendars", SIX_DAYS)
    assert created.status_code == 201, created.text
    [row] = audited(session, "calendar_created")
    assert row.user_id == admin.id and row.details["weekdays"] == [1, 2, 3, 4, 5, 6]
    page = open_page(client, "/admin/calendars/six-days", ZH)
    assert "六天工作制" in page and "星期六" in page and "<dd>否</dd>" in page


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"periods": [["12:00", "08:00"]]}, 422, "periods"),
        ({"periods": "08:00-12:00"}, 422, "periods"),
        ({"weekdays": []}, 422, "weekdays"),
        ({"weekdays": [8]}, 422, "weekdays"),
        ({"code": default_code()}, 409, "code"),
        ({"time_zone": "Mars/Olympus"}, 422, "time_zone"),
    ],
)
def test_a_refused_calendar_names_the_field(
    session: Session,
    client: TestClient,
    admin: User,
    changes: dict[str, Any],
    status: int,
    field: str,
) -> None:
    answer = page_change(client, "POST", "/api/calendars", {**SIX_DAYS, **changes})
    assert answer.status_code == status
    detail = answer.json()
    if "field" in detail:
        fields = [detail["field"]]
    else:
        fields = [next(p for p in e["loc"][1:] if isinstance(p, str)) for e in detail["detail"]]
    assert set(fields) == {field}
    assert audited(session, "calendar_created") == []


def test_a_years_official_days_are_named_in_chinese(client: TestClient, admin: User) -> None:
    page = open_page(client, f"/admin/calendars/{default_code()}?year=2025", ZH)
    assert "2025 年节假日和调休上班日" in page
    national_day = page[page.index('<tr data-day="2025-10-01" data-source="official">') :]
    national_day = national_day[: national_day.index("</tr>")]
    for text in ("星期三", "休息日", "国庆节", "法定"):
        assert text in national_day
    make_up = page[page.index('<tr data-day="2025-01-26"') :]
    assert "工作日" in make_up[: make_up.index("</tr>")]
    assert 'href="/admin/calendars/default?year=2024"' in page
    unpublished = open_page(client, f"/admin/calendars/{default_code()}?year=2031", ZH)
    assert "2031 年的法定节假日尚未公布" in unpublished


def test_a_day_is_overridden_and_the_override_removed_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    code = default_code()
    page = open_page(client, f"/admin/calendars/{code}?year=2025", ZH)
    assert f'data-url="/api/calendars/{code}/days/{{day}}"' in page
    body = {"is_workday": True, "name": "防汛值班"}
    set_day = page_change(client, "PUT", f"/api/calendars/{code}/days/2025-10-04", body)
    assert set_day.status_code == 200, set_day.text
    page = open_page(client, f"/admin/calendars/{code}?year=2025", ZH)
    override = page[page.index('<tr data-day="2025-10-04" data-source="override">') :]
    override = override[: override.index("</tr>")]
    assert "防汛值班" in override and "本处设置" in override and "工作日" in override
    assert f'data-url="/api/calendars/{code}/days/2025-10-04"' in override
    removed = page_change(client, "DELETE", f"/api/calendars/{code}/days/2025-10-04")
    assert removed.status_code == 204
    [set_row] = audited(session, "calendar_day_set")
    [removed_row] = audited(session, "calendar_day_removed")
    assert set_row.details["day"] == removed_row.details["day"] == "2025-10-04"
    assert set_row.details["is_workday"] is True and removed_row.details["by_user_id"] == admin.id
    again = page_change(client, "DELETE", f"/api/calendars/{code}/days/2025-10-04")
    assert again.status_code == 404


def test_a_bad_day_is_refused_naming_it(client: TestClient, admin: User) -> None:
    answer = page_change(
        client, "PUT", f"/api/calendars/{default_code()}/days/2025-13-01", {"is_workday": True}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "day"]
    missing = page_change(client, "PUT", f"/api/calendars/{default_code()}/days/2025-10-04", {})
    assert missing.json()["detail"][0]["loc"] == ["body", "is_workday"]


def test_a_department_is_assigned_a_calendar_and_returned_to_the_default(
    session: Session, client: TestClient, admin: User
) -> None:
    roads = add_department(session, code="RD-01", kind="roads")
    page_change(client, "POST", "/api/calendars", SIX_DAYS)
    page = open_page(client, "/admin/calendars/six-days", ZH)
    assert "没有部门使用此日历。" in page
    assert f'<option value="RD-01">{roads.name}</option>' in page
    assert 'data-url="/api/departments/{department}"' in page
    assigned = page_change(client, "PATCH", "/api/departments/RD-01", {"calendar_code": "six-days"})
    assert assigned.status_code == 200, assigned.text
    page = open_page(client, "/admin/calendars/six-days", ZH)
    assert '<li class="row" data-department="RD-01">' in page and "改回默认日历" in page
    default_page = open_page(client, f"/admin/calendars/{default_code()}", ZH)
    assert 'data-department="RD-01"' not in default_page
    back = page_change(client, "PATCH", "/api/departments/RD-01", {"calendar_code": None})
    assert back.json()["calendar_code"] is None
    default_page = open_page(client, f"/admin/calendars/{default_code()}", ZH)
    assert 'data-department="RD-01"' in default_page and "（默认）" in default_page
    first, second = audited(session, "department_changed")
    assert first.details["changes"] == {"calendar_code": "six-days"}
    assert second.details["changes"] == {"calendar_code": None}


@pytest.mark.parametrize("path", ["/admin/calendars", "/admin/calendars/default"])
@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.DEPARTMENT])
def test_other_roles_are_refused(
    session: Session, client: TestClient, path: str, role: Role
) -> None:
    log_in(client, add_user(session, role, username=f"no-{role}"))
    answer = client.get(path, headers=ZH)
    assert answer.status_code == 403 and "您的角色无权打开此页面。" in answer.text
    change = page_change(
        client, "PUT", "/api/calendars/default/days/2025-10-04", {"is_workday": True}
    )
    assert change.status_code == 403
    assert audited(session, "calendar_day_set") == []


def test_an_unknown_calendar_or_year_is_refused(client: TestClient, admin: User) -> None:
    assert client.get("/admin/calendars/nope", headers=EN).status_code == 404
    assert client.get("/admin/calendars/default?year=1066", headers=EN).status_code == 422
