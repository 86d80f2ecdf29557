"""The department desk page: the department's own cases, the nearest deadline first (the overdue
on top), with the light and the time left said once, a page at a time with the true total,
searched and filtered from the URL, and the actions each case allows; in both languages,
refused to others."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from citygrid.web import local_time
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case
from tests.dispatch.console.console_world import World, act, add_many_cases, seed_world
from tests.dispatch.console.worklist_pages import case_ids, follow_pages, total_shown
from tests.events.seed import add_user
from tests.web.pages_support import (
    EN,
    HTML,
    IN_LANGUAGE,
    inline_code,
    log_in,
    open_page,
    script_messages,
)


@pytest.fixture
def world(session: Session) -> World:
    """The console's world, with `filed` dispatched to sanitation too (not yet accepted)."""
    world = seed_world(session)
    act(session, world.filed, CaseAction.DISPATCH, world.dispatcher)
    return world


def desk(client: TestClient, language: str, path: str = "/desk") -> str:
    return open_page(client, path, IN_LANGUAGE[language])


def due_in(session: Session, case: Case, hours: float) -> datetime:
    due = datetime.now(UTC) + timedelta(hours=hours)
    warn = due - timedelta(hours=abs(hours) + 1) if hours < 0 else due + timedelta(hours=1)
    session.execute(update(Case).where(Case.id == case.id).values(due_at=due, warn_at=warn))
    return due


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-CN", ["部门工作台", "受理", "退回派遣员", "报告已处置", "申请延期", "超时"]),
        ("en", ["Department desk", "Accept", "Return to the dispatchers", "Report as handled"]),
    ],
)
def test_the_desk_lists_cases_to_accept_first_then_the_nearest_deadline(
    session: Session, client: TestClient, world: World, language: str, words: list[str]
) -> None:
    due_in(session, world.postponing, -30)  # overdue
    log_in(client, world.worker)
    page = desk(client, language)
    for word in words:
        assert word in page
    # The case just dispatched (to accept) comes before the accepted one, though that one is
    # overdue: a new arrival is on the first page, and the overdue lead the rest.
    to_accept_at = page.index(f'data-case-id="{world.filed.id}"')
    assert to_accept_at < page.index(f'data-case-id="{world.postponing.id}"')
    # Cases of other departments and cases in the dispatchers' queue are not on the desk.
    assert f'data-case-id="{world.duplicate.id}"' not in page
    assert 'class="light light-red"' in page


def test_each_case_offers_only_the_actions_its_state_allows(
    client: TestClient, world: World
) -> None:
    log_in(client, world.worker)
    page = desk(client, "en")
    dispatched, accepted = world.filed.id, world.postponing.id
    assert f'data-url="/api/cases/{dispatched}/actions/accept"' in page
    assert f'data-url="/api/cases/{dispatched}/actions/return"' in page
    assert f'data-url="/api/cases/{dispatched}/actions/handle"' not in page
    assert f'data-url="/api/cases/{accepted}/actions/handle"' in page
    assert f'data-photos-url="/api/cases/{accepted}/photos"' in page
    assert 'type="file" accept="image/jpeg,image/png,image/webp"' in page
    # A postponement is already asked for: no second request until a dispatcher answers.
    assert f'data-url="/api/cases/{accepted}/actions/request_postponement"' not in page
    assert "Postponement of 3.0 working hours asked, waiting for a dispatcher." in page
    assert (
        f'for="handle-feedback-{accepted}"' in page and f'id="handle-feedback-{accepted}"' in page
    )


def deadline_of(page: str, case: Case) -> str:
    """The words of a card's deadline line, tags left out."""
    card = page[page.index(f'data-case-id="{case.id}"') :]
    found = re.search(r'<p class="deadline">(.*?)</p>', card, re.S)
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_time_left_is_said_once_in_days_and_hours_in_city_time(
    session: Session, client: TestClient, world: World
) -> None:
    due_in(session, world.filed, 24 * 7)  # a week ahead
    due = due_in(session, world.postponing, -30)  # overdue by a day and six hours
    log_in(client, world.worker)
    chinese = desk(client, "zh-CN")
    assert deadline_of(chinese, world.filed).startswith("正常 · 剩余 7 天 · 截止 ")
    # Overdue: the time overdue, not the light's "已超时" as well.
    overdue = deadline_of(chinese, world.postponing)
    assert overdue.startswith("超时 1 天 6 小时 · 截止 ") and "已超时" not in overdue
    assert "已超时 已超时" not in chinese and "工作小时 " not in overdue
    assert overdue.endswith(local_time(due, get_settings().city_zone))  # in city time
    english = desk(client, "en")
    assert deadline_of(english, world.postponing).startswith("overdue by 1 d 6 h · Due ")
    assert deadline_of(english, world.filed).startswith("On time · 7 d left · Due ")


def test_an_administrator_chooses_the_department_and_cannot_act(
    session: Session, client: TestClient, world: World
) -> None:
    log_in(client, add_user(session, Role.ADMIN, username="desk-admin"))
    page = desk(client, "en", "/desk?department_code=HW-01")
    assert f'data-case-id="{world.filed.id}"' in page
    assert '<option value="HW-01" selected>' in page
    assert "js-action" not in page
    other = desk(client, "en", "/desk?department_code=CG-01")
    assert "No open case matches." in other
    every = desk(client, "en")  # no department chosen: every department's open cases
    assert "Department desk: every department" in every
    assert f'data-case-id="{world.filed.id}"' in every
    unknown = client.get("/desk?department_code=NOPE", headers=HTML)
    assert unknown.status_code == 404


def test_a_member_sees_only_their_own_department(
    session: Session, client: TestClient, world: World
) -> None:
    enforcer = add_user(session, Role.DEPARTMENT, username="enforcer", department=world.enforcement)
    log_in(client, enforcer)
    page = desk(client, "zh-CN", "/desk?department_code=HW-01")  # not theirs to choose
    assert "没有符合条件的未办结案件。" in page
    assert f'data-case-id="{world.filed.id}"' not in page
    assert 'id="worklist-department"' not in page  # no department filter to pick
    assert "本部门没有未办结的案件。" in desk(client, "zh-CN")


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.MANAGER, Role.INSPECTOR, Role.CITIZEN])
def test_roles_outside_departments_are_refused(
    session: Session, client: TestClient, role: Role
) -> None:
    log_in(client, add_user(session, role, username=f"no-desk-{role}"))
    answer = client.get("/desk", headers=EN)
    assert answer.status_code == 403
    assert "Your role may not open this page." in answer.text


def test_the_desk_script_gets_its_messages_translated_and_no_inline_code(
    client: TestClient, world: World
) -> None:
    log_in(client, world.worker)
    page = desk(client, "zh-CN")
    messages = script_messages(page)
    assert messages["error.field.hours"] == "请填写工作小时数。"
    assert messages["error.field.reason.handle"] == "请说明处置情况。"
    assert messages["error.field.reason"] != "Give a reason."  # the common ones, translated too
    assert inline_code(page) == []


def test_a_busy_desk_pages_by_deadline_with_the_overdue_on_top(
    session: Session, client: TestClient, world: World
) -> None:
    ids = add_many_cases(
        session,
        count=120,
        status=CaseStatus.DISPATCHED,
        category=world.garbage,
        department=world.sanitation,
        due_in_hours=-5.75,  # the first five are overdue
    )
    log_in(client, world.worker)
    first = desk(client, "zh-CN")
    shown = case_ids(first)
    assert shown[:5] == ids[:5] and len(shown) == 50
    assert f'data-case-id="{ids[0]}"' in first and "超时 5 小时" in deadline_of(
        first, session.get_one(Case, ids[0])
    )
    assert total_shown(first) == 122 and "共 122 件" in first
    seen, pages = follow_pages(client, "/desk", None)
    to_accept_first = case((Case.status == CaseStatus.DISPATCHED.value, 0), else_=1)
    nearest_first = session.scalars(
        select(Case.id)
        .where(Case.department_id == world.sanitation.id)
        .order_by(to_accept_first, Case.due_at.asc().nulls_last(), Case.id)
    ).all()
    assert seen == list(nearest_first) and pages == 3
    # Search and filters from the URL: a case by its number; the overdue ones by their light.
    number = session.get_one(Case, ids[70]).number
    assert case_ids(desk(client, "zh-CN", f"/desk?q={number}")) == [ids[70]]
    assert case_ids(desk(client, "zh-CN", "/desk?light=red")) == ids[:5]
    newest = case_ids(desk(client, "zh-CN", "/desk?sort=-created_at"))
    assert newest[0] in {world.filed.id, world.postponing.id}
