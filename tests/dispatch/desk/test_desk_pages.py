"""The department desk page: the department's own cases by deadline with the light and the
working hours left, and the actions each case allows; in both languages, refused to others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WorkCalendar, parse_periods
from dispatch.desk.service import working_hours_left
from events.lifecycle import CaseAction
from events.models import Case
from tests.dispatch.console.console_world import World, act, seed_world
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


def due_in(session: Session, case: Case, hours: float) -> None:
    due = datetime.now(UTC) + timedelta(hours=hours)
    warn = due - timedelta(hours=abs(hours) + 1) if hours < 0 else due + timedelta(hours=1)
    session.execute(update(Case).where(Case.id == case.id).values(due_at=due, warn_at=warn))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-CN", ["部门工作台", "受理", "退回派遣员", "报告已处置", "申请延期", "已超时"]),
        ("en", ["Department desk", "Accept", "Return to the dispatchers", "Report as handled"]),
    ],
)
def test_the_desk_lists_the_departments_cases_nearest_deadline_first(
    session: Session, client: TestClient, world: World, language: str, words: list[str]
) -> None:
    due_in(session, world.postponing, -30)  # overdue
    log_in(client, world.worker)
    page = desk(client, language)
    for word in words:
        assert word in page
    overdue_at = page.index(f'data-case-id="{world.postponing.id}"')
    assert overdue_at < page.index(f'data-case-id="{world.filed.id}"')
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


def test_working_hours_left_are_shown_in_the_page_language(
    session: Session, client: TestClient, world: World
) -> None:
    due_in(session, world.filed, 24 * 7)  # a week ahead: some working time whatever the hour
    calendar = calendar_for_department(
        session, world.sanitation.id, default_code=get_settings().default_calendar_code
    )
    left = working_hours_left(
        datetime.now(UTC) + timedelta(hours=24 * 7), datetime.now(UTC), calendar
    )
    assert left is not None and left > 0
    log_in(client, world.worker)
    english = desk(client, "en")
    assert f"{left} working hours left" in english
    assert f"剩余 {left} 个工作小时" in desk(client, "zh-CN")


def test_an_administrator_chooses_the_department_and_cannot_act(
    session: Session, client: TestClient, world: World
) -> None:
    log_in(client, add_user(session, Role.ADMIN, username="desk-admin"))
    page = desk(client, "en", "/desk?department=HW-01")
    assert f'data-case-id="{world.filed.id}"' in page
    assert '<option value="HW-01" selected>' in page
    assert "js-action" not in page
    other = desk(client, "en", "/desk?department=CG-01")
    assert "Your department has no open case." in other
    unknown = client.get("/desk?department=NOPE", headers=HTML)
    assert unknown.status_code == 404


def test_a_member_sees_only_their_own_department(
    session: Session, client: TestClient, world: World
) -> None:
    enforcer = add_user(session, Role.DEPARTMENT, username="enforcer", department=world.enforcement)
    log_in(client, enforcer)
    page = desk(client, "zh-CN", "/desk?department=HW-01")  # the choice is not theirs to make
    assert "本部门没有未办结的案件。" in page
    assert f'data-case-id="{world.filed.id}"' not in page


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


OFFICE_HOURS = WorkCalendar(
    periods=parse_periods([["09:00", "12:00"], ["13:00", "18:00"]]),
    weekdays=frozenset({1, 2, 3, 4, 5}),
    time_zone=ZoneInfo("UTC"),
)
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("due_at", "now", "hours_left"),
    [
        (None, MONDAY_10, None),
        (datetime(2026, 11, 23, 14, tzinfo=UTC), MONDAY_10, 3.0),  # lunch does not count
        (datetime(2026, 11, 24, 10, tzinfo=UTC), MONDAY_10, 8.0),
        (MONDAY_10, datetime(2026, 11, 23, 14, tzinfo=UTC), -3.0),
        (datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 11, 27, 18, tzinfo=UTC), 0.0),
    ],
)
def test_working_hours_left_count_only_working_time(
    due_at: datetime | None, now: datetime, hours_left: float | None
) -> None:
    assert working_hours_left(due_at, now, OFFICE_HOURS) == hours_left
