"""Inspector pages over HTTP: the report form, my reports, verification tasks, in both languages."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from citygrid.web import local_time
from events.inspector.pages import STATUS_NAMES, status_name
from events.lifecycle import CaseStatus
from events.models import CasePhoto, Category, Report
from tests.events.inspector.support import handled_case
from tests.events.seed import PASSWORD, add_case, add_category, add_user
from tests.grid.places import CELL_NE, CELL_NW, centre_of, seed_block
from tests.web.pages_support import (
    EN,
    HTML,
    ZH,
    inline_code,
    log_in,
    script_messages,
    script_sources,
)

PAGE = {PAGE_HEADER: "1"}
TEST_STANDARD = "inspector-test"


def test_logging_in_through_the_form_lands_on_the_report_page(
    session: Session, client: TestClient
) -> None:
    user = add_user(session, Role.INSPECTOR)
    form = {"username": user.username, "password": PASSWORD, "next": ""}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/m/report"


def inspector(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.INSPECTOR)
    log_in(client, user)
    return user


def category(session: Session) -> Category:
    return add_category(
        session, code="9981", standard=TEST_STANDARD, name_zh="井盖破损", name_en="Broken manhole"
    )


# --- pure helpers --------------------------------------------------------------------------


def test_every_status_has_a_name_for_users() -> None:
    assert set(STATUS_NAMES) == set(CaseStatus)
    assert status_name("handled") == "Handled, waiting for verification"


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 11, 26, 1, 30, tzinfo=UTC), "2026-11-26 09:30"),
        (datetime(2026, 11, 26, 16, 5, tzinfo=UTC), "2026-11-27 00:05"),  # Beijing's next day
        (None, ""),
    ],
)
def test_times_are_shown_as_the_city_reads_them(moment: datetime | None, shown: str) -> None:
    assert local_time(moment, get_settings().city_zone) == shown


# --- the report form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (ZH, ["新上报", "网格编码", "使用我的位置", "按名称或编码查找类别", "紧急", "提交上报"]),
        (EN, ["New report", "Cell code", "Use my location", "Find a category", "Urgent", "Send"]),
    ],
)
def test_report_form_in_both_languages(
    session: Session, client: TestClient, headers: dict[str, str], expected: list[str]
) -> None:
    seed_block(session)
    user = inspector(session, client)
    answer = client.get("/m/report", headers=headers)
    assert answer.status_code == 200, answer.text
    for text in expected:
        assert text in answer.text
    setup = re.search(r'id="inspector-setup">([^<]+)<', answer.text)
    assert setup is not None and f'"user_id": {user.id}' in setup.group(1)
    lon, lat = json.loads(html.unescape(setup.group(1)))["centre"]
    assert lon == pytest.approx(116.4) and lat == pytest.approx(39.9)


def test_report_form_labels_every_control_and_runs_no_inline_code(
    session: Session, client: TestClient
) -> None:
    inspector(session, client)
    html = client.get("/m/report", headers=EN).text
    controls = re.findall(
        r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*id="([^"]+)"', html
    )
    assert {"cell-code", "category-search", "category", "description", "photos"} <= set(controls)
    for control in controls:
        assert f'<label for="{control}">' in html, control
    assert 'accept="image/*" capture="environment" multiple' in html
    sources = script_sources(html)
    assert sources == [
        "/static/citygrid/citygrid.js",
        "/maps/assets/leaflet/leaflet.js",
        "/static/maps/worklist_map.js",  # the pages' shared base layer: the grid with names
        "/static/events/inspector_queue.js",
        "/static/events/inspector_report.js",
    ]
    assert inline_code(html) == []
    for source in sources:
        assert client.get(source).status_code == 200


def test_report_page_scripts_get_their_messages_translated(
    session: Session, client: TestClient
) -> None:
    inspector(session, client)
    html = client.get("/m/report", headers=ZH).text
    messages = script_messages(html)
    assert messages["queue.sent"] == "已发送：案件 {number}。"
    assert messages["queue.count.other"] == "有 {n} 条上报等待发送。"
    assert messages["error.field.lon/lat"].startswith("请设置网格范围内的位置")


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (Role.CITIZEN, "/m/report", 200),
        (Role.CITIZEN, "/m/reports", 200),
        (Role.CITIZEN, "/m/tasks", 403),
        (Role.DEPARTMENT, "/m/report", 403),
        (Role.MANAGER, "/m/reports", 403),
        (Role.DISPATCHER, "/m/tasks", 403),
    ],
)
def test_who_may_open_which_page(
    session: Session, client: TestClient, role: Role, path: str, status: int
) -> None:
    log_in(client, add_user(session, role))
    answer = client.get(path, headers=ZH)
    assert answer.status_code == status
    if status == 403:
        assert "您的角色无权打开此页面。" in answer.text


def test_without_a_session_the_pages_go_to_login(client: TestClient) -> None:
    answer = client.get("/m/tasks", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/m/tasks"


def multipart_report(category_id: int, report_uuid: uuid.UUID) -> dict[str, str]:
    lon, lat = centre_of(CELL_NE)
    return {
        "report_uuid": str(report_uuid),
        "category_id": str(category_id),
        "description": "井盖缺失 manhole cover missing",
        "urgency": "urgent",
        "lon": f"{lon:.7f}",
        "lat": f"{lat:.7f}",
        "address": "",
    }


def test_the_form_fields_file_a_case_once_however_often_sent(
    session: Session, client: TestClient
) -> None:
    """What the page's queue sends (multipart, with the session cookie): a replay is a 200."""
    seed_block(session)
    kind = category(session)
    inspector(session, client)
    report_uuid = uuid.uuid4()
    fields = multipart_report(kind.id, report_uuid)
    first = client.post("/api/reports", data=fields, headers=PAGE)
    again = client.post("/api/reports", data=fields, headers=PAGE)
    assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
    assert again.json()["replayed"] and again.json()["number"] == first.json()["number"]
    count = select(func.count()).where(Report.report_uuid == report_uuid)
    assert session.scalar(count) == 1


def test_the_api_names_the_field_the_form_shows_an_error_beside(
    session: Session, client: TestClient
) -> None:
    seed_block(session)
    inspector(session, client)
    fields = multipart_report(category(session).id, uuid.uuid4())
    fields["description"] = "x" * 5000
    answer = client.post("/api/reports", data=fields, headers=PAGE)
    assert answer.status_code == 422
    assert answer.json()["field"] == "description"


# --- my reports ----------------------------------------------------------------------------


def test_my_reports_newest_first_with_status_and_light(
    session: Session, client: TestClient
) -> None:
    user = inspector(session, client)
    kind = category(session)
    older = add_case(session, category=kind, reporter=user, status=CaseStatus.DISPATCHED)
    older.created_at = datetime.now(UTC) - timedelta(days=2)
    older.due_at = datetime.now(UTC) - timedelta(hours=1)
    older.warn_at = datetime.now(UTC) - timedelta(hours=3)
    newer = add_case(session, category=kind, reporter=user, place=CELL_NE)
    someone_elses = add_case(session, category=kind, reporter=add_user(session, Role.CITIZEN))
    session.flush()
    zh = client.get("/m/reports", headers=ZH).text
    assert zh.index(newer.number) < zh.index(older.number)
    assert someone_elses.number not in zh
    assert f'href="/cases/{older.id}"' in zh
    assert "已上报，等待立案" in zh and "已派遣" in zh
    assert 'class="light light-red"' in zh and "已超时" in zh
    assert "井盖破损" in zh
    en = client.get("/m/reports", headers=EN).text
    assert "Reported, waiting to be filed" in en and "Overdue" in en and "Broken manhole" in en
    assert 'id="offline-queue"' in en and "/static/events/inspector_queue.js" in en
    assert 'data-reload-after-send="true"' in en  # the list shows what the queue then sends


def test_my_reports_says_when_there_are_none(session: Session, client: TestClient) -> None:
    inspector(session, client)
    assert "You have not sent any report yet." in client.get("/m/reports", headers=EN).text


# --- verification tasks --------------------------------------------------------------------


def test_tasks_list_handled_cases_with_the_departments_feedback(
    session: Session, client: TestClient
) -> None:
    inspector(session, client)
    kind = category(session)
    waiting = handled_case(session, kind, feedback="已清理 cleaned up", photos=2)
    photo_ids = session.scalars(
        select(CasePhoto.id).where(CasePhoto.case_id == waiting.id).order_by(CasePhoto.id)
    ).all()
    not_yet = add_case(session, category=kind, status=CaseStatus.ACCEPTED, place=CELL_NW)
    zh = client.get("/m/tasks", headers=ZH)
    assert zh.status_code == 200
    assert waiting.number in zh.text and not_yet.number not in zh.text
    assert "处置反馈：已清理 cleaned up" in zh.text
    assert f'data-case-id="{waiting.id}"' in zh.text
    assert f'data-version="{waiting.version}"' in zh.text
    for photo_id in photo_ids:
        assert f'<img src="/api/photos/{photo_id}" alt="处置照片' in zh.text
    assert '<label for="note-' in zh.text and 'value="verify_fail"' in zh.text
    assert "不通过：退回返工" in zh.text
    en = client.get("/m/tasks", headers=EN).text
    assert "Pass: the problem is solved" in en and "Broken manhole" in en
    assert inline_code(en) == []


def test_a_verified_task_leaves_the_list(session: Session, client: TestClient) -> None:
    """The calls the task form makes: a fail needs a note (shown beside it), a pass closes."""
    inspector(session, client)
    case = handled_case(session, category(session), feedback="done")
    url = f"/api/cases/{case.id}/actions/"
    body: dict[str, object] = {"reason": None, "photo_ids": [], "expected_version": case.version}
    refused = client.post(url + "verify_fail", json=body, headers=PAGE)
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    passed = client.post(url + "verify_pass", json=body, headers=PAGE)
    assert passed.status_code == 200, passed.text
    assert passed.json()["status"] == "closed"
    page = client.get("/m/tasks", headers=EN).text
    assert case.number not in page
    assert "No case is waiting for your verification." in page


def test_a_long_task_list_pages_newest_first_or_longest_waiting_first(
    session: Session, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.inspector.service.TASKS_SHOWN", 1)
    inspector(session, client)
    kind = category(session)
    older = handled_case(session, kind, feedback="earlier")
    newer = handled_case(session, kind, feedback="later")
    older.created_at -= timedelta(hours=5)
    session.flush()
    page = client.get("/m/tasks", headers=EN).text
    assert newer.number in page and older.number not in page
    assert "2 cases in all" in page
    following = re.search(r'href="(/m/tasks\?[^"]*after=[^"]+)" rel="next"', page)
    assert following is not None
    second = client.get(following.group(1).replace("&amp;", "&"), headers=EN).text
    assert older.number in second and newer.number not in second
    oldest_first = client.get("/m/tasks?sort=created_at", headers=EN).text
    assert older.number in oldest_first and newer.number not in oldest_first
    searched = client.get(f"/m/tasks?q={older.number}", headers=EN).text
    assert older.number in searched and newer.number not in searched
    assert "1 cases in all" in searched
