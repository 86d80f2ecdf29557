"""The inbox page: each role's notices in the reader's language and the city's time, linked to
their cases, a page at a time; the navigation's inbox entry for every role."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from citygrid.settings import get_settings
from citygrid.web import NAVIGATION, TIME_FORMAT
from dispatch.escalation.service import run_escalations
from dispatch.inbox import service as notifications
from dispatch.inbox.wording import NoticeFacts, notice_text
from events.lifecycle import CaseAction
from events.models import Case
from tests.dispatch.console.console_world import World, act, seed_world
from tests.events.seed import add_user
from tests.web.pages_support import EN, IN_LANGUAGE, ZH, inline_code, log_in, open_page

NOW = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
BEIJING = ZoneInfo("Asia/Shanghai")
ZH_TEXT = translations("zh-CN").gettext


@pytest.fixture
def world(session: Session) -> World:
    """The console's world with `filed` dispatched to sanitation (its members are told)."""
    world = seed_world(session)
    act(session, world.filed, CaseAction.DISPATCH, world.dispatcher)
    return world


def inbox(client: TestClient, user: User, query: str = "", language: str = "zh-CN") -> str:
    log_in(client, user)
    return open_page(client, f"/inbox{query}", IN_LANGUAGE[language])


def city_time(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-CN", ["消息中心", "已派遣至本部门", "截止", "未读通知：2 条", "全部标为已读"]),
        ("en", ["Inbox", "was dispatched to your department", "Due", "Unread notices: 2"]),
    ],
)
def test_a_dispatch_reaches_the_departments_inbox_in_the_readers_language(
    client: TestClient, world: World, language: str, expected: list[str]
) -> None:
    page = inbox(client, world.worker, language=language)
    for text in expected:
        assert text in page
    assert f'<a class="inbox-open" href="/cases/{world.filed.id}">' in page
    assert world.filed.number in page and city_time(world.filed.due_at) in page
    assert "dispatched to you, due" not in page  # the stored English title is not used
    assert not inline_code(page)


def test_escalations_are_worded_nearing_or_overdue_with_the_department(
    client: TestClient, session: Session, world: World
) -> None:
    case = session.get(Case, world.filed.id)
    assert case is not None and case.due_at is not None
    run_escalations(session, case.due_at + timedelta(days=5), settings=get_settings())

    worker_page = inbox(client, world.worker)
    assert f"案件 {case.number} 即将到达处置时限" in worker_page
    dispatcher_page = inbox(client, world.dispatcher)
    assert f"案件 {case.number} 已超时" in dispatcher_page
    assert f"部门：{world.sanitation.name}" in dispatcher_page


def test_times_are_the_citys_and_an_unknown_kind_keeps_its_stored_title(
    client: TestClient, session: Session
) -> None:
    user = add_user(session, Role.INSPECTOR)
    notifications.notify(session, [user.id], kind="note", title="Stored title", now=NOW)
    page = inbox(client, user)
    assert "Stored title" in page and "2026-11-26 09:30" in page
    assert '<a class="inbox-open"' not in page  # no case, no link
    assert 'datetime="2026-11-26T01:30:00+00:00"' in page


def test_older_notices_come_a_page_at_a_time_and_the_last_page_links_no_further(
    client: TestClient, session: Session
) -> None:
    user = add_user(session, Role.MANAGER)
    for number in range(32):
        notifications.notify(session, [user.id], kind="note", title=f"notice {number:02d}", now=NOW)
    first = inbox(client, user)
    assert "notice 31" in first and "notice 02" in first and "notice 01" not in first
    older = re.search(r'<a rel="next" href="(/inbox\?before_id=\d+)">', first)
    assert older is not None
    second = open_page(client, older.group(1), ZH)
    assert "notice 01" in second and "notice 00" in second and "notice 02" not in second
    assert 'rel="next"' not in second and 'href="/inbox">最新通知' in second


def test_unread_only_hides_what_was_read_and_others_notices_never_show(
    client: TestClient, session: Session
) -> None:
    user, other = add_user(session, Role.DISPATCHER), add_user(session, Role.DISPATCHER)
    notifications.notify(session, [user.id], kind="note", title="already read", now=NOW)
    notifications.notify(session, [user.id], kind="note", title="still new", now=NOW)
    notifications.notify(session, [other.id], kind="note", title="not yours", now=NOW)
    read = inbox(client, user)
    first_id = re.findall(r'data-notification-id="(\d+)"', read)[-1]
    client.post(f"/api/inbox/{first_id}/read", headers={"X-Citygrid-Page": "1"})

    page = inbox(client, user, "?unread=true")
    assert "still new" in page and "already read" not in page and "not yours" not in page
    assert "未读通知：1 条" in page
    everything = inbox(client, user)
    assert "already read" in everything and "not yours" not in everything


def test_a_reader_with_nothing_sees_so_and_the_script_gets_its_messages(
    client: TestClient, session: Session
) -> None:
    page = inbox(client, add_user(session, Role.CITIZEN), language="en")
    assert "No notices yet." in page and "Mark all read" not in page
    assert '<script src="/static/dispatch/inbox.js"></script>' in page
    assert "The notice could not be marked read." in page
    assert client.get("/static/dispatch/inbox.js").status_code == 200


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_the_inbox_with_its_badge_in_the_navigation(
    client: TestClient, session: Session, role: Role
) -> None:
    assert NAVIGATION[role][-1][0] == "/inbox"
    user = add_user(session, role)
    page = inbox(client, user)
    assert '<a href="/inbox" aria-current="page">消息中心' in page
    assert 'id="inbox-badge" hidden' in page
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert open_page(client, "/inbox", EN).count('id="inbox-badge"') == 1


def test_the_inbox_needs_a_sign_in(client: TestClient) -> None:
    answer = client.get("/inbox", headers=ZH, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/inbox"


@pytest.mark.parametrize(
    ("threshold_hours", "title"),
    [(-2.0, "案件 N-1 即将到达处置时限"), (0.0, "案件 N-1 已超时"), (4.0, "案件 N-1 已超时")],
)
def test_escalation_wording_follows_the_threshold_against_the_deadline(
    threshold_hours: float, title: str
) -> None:
    due = NOW + timedelta(hours=8)
    body = {
        "due_at": due.isoformat(),
        "threshold_at": (due + timedelta(hours=threshold_hours)).isoformat(),
        "department_code": "HW-01",
    }
    facts = NoticeFacts("escalation", "Case N-1: overdue", body, "N-1", department_name=None)
    text = notice_text(facts, ZH_TEXT, BEIJING)
    assert text.title == title
    assert text.detail == "部门：HW-01 · 截止 2026-11-26 17:30"


def test_a_notice_whose_case_is_unknown_or_body_unreadable_falls_back_quietly() -> None:
    facts = NoticeFacts("case.dispatched", "Case X dispatched", {}, None, None)
    assert notice_text(facts, ZH_TEXT, BEIJING).title == "Case X dispatched"
    broken = NoticeFacts("case.dispatched", "t", {"due_at": "soon", "auto": True}, "N-2", None)
    text = notice_text(broken, ZH_TEXT, BEIJING)
    assert text.title == "案件 N-2 已派遣至本部门" and text.detail == "由派遣规则自动派遣"
