"""The dispatcher console page: queues with the suggested department and why, reports to file,
duplicate candidates side by side, requests to approve, deadlines with their lights; in both
languages, and refused to roles that do not dispatch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.lifecycle import CaseAction
from events.models import Case
from tests.dispatch.console.console_world import World, act, seed_world
from tests.events.seed import PASSWORD, add_user
from tests.web.pages_support import (
    HTML,
    IN_LANGUAGE,
    ZH,
    inline_code,
    log_in,
    open_page,
    script_messages,
)


@pytest.fixture
def world(session: Session) -> World:
    return seed_world(session)


def console(client: TestClient, language: str, path: str = "/console") -> str:
    return open_page(client, path, IN_LANGUAGE[language])


@pytest.mark.parametrize(
    ("language", "words", "reason"),
    [
        (
            "zh-CN",
            ["派遣台", "待派遣队列", "建议部门及原因", "派遣", "待立案", "疑似重复", "待审批"],
            "第 1 版规则第 1 条：9901 暴露垃圾，东城区（110101） → sanitation HW-01（HW-01）",
        ),
        (
            "en",
            ["Dispatch console", "Queue", "Suggested department and why", "Dispatch"],
            "Rule 1 of version 1: 9901 Test garbage in district",
        ),
    ],
)
def test_the_queue_shows_each_case_with_its_suggested_department_and_why(
    client: TestClient, world: World, language: str, words: list[str], reason: str
) -> None:
    log_in(client, world.dispatcher)
    page = console(client, language)
    for word in words:
        assert word in page
    assert f'href="/cases/{world.filed.id}">{world.filed.number}</a>' in page
    # The routing decision's reason in the page's language, not the stored English text.
    assert reason in page
    assert "garbage to sanitation" not in page and 'muted" lang="en"' not in page
    assert f'action="/api/cases/{world.filed.id}/actions/dispatch"' not in page  # scripts act
    assert f'data-url="/api/cases/{world.filed.id}/actions/dispatch"' in page
    # The suggested department is preselected in the case's select of departments by name.
    assert re.search(
        rf'<select id="dispatch-department-{world.filed.id}" name="department_code">\s*'
        r'<option value="">[^<]+</option>\s*<option value="CG-01">[^<]+</option>\s*'
        r'<option value="HW-01" selected>sanitation HW-01',
        page,
    )
    assert f'name="case_ids" value="{world.filed.id}"' in page


def test_category_names_follow_the_page_language(client: TestClient, world: World) -> None:
    log_in(client, world.dispatcher)
    assert "Test garbage" in console(client, "en")
    chinese = console(client, "zh-CN")
    assert world.garbage.name_zh in chinese and "Test garbage" not in chinese


def test_reports_waiting_to_be_filed_can_be_filed_or_refused(
    client: TestClient, world: World
) -> None:
    log_in(client, world.dispatcher)
    first = console(client, "en")  # the queue: the other lists are counted, loaded by their tab
    assert f'data-url="/api/cases/{world.reported.id}/actions/file"' not in first
    assert 'href="/console?tab=filing#filing"' in first
    page = console(client, "en", "/console?tab=filing")
    assert f'data-url="/api/cases/{world.reported.id}/actions/file"' in page
    assert f'data-url="/api/cases/{world.reported.id}/actions/not_file"' in page
    assert "a sofa left on the pavement" in page


def test_duplicates_are_shown_side_by_side_with_merge_both_ways(
    client: TestClient, world: World
) -> None:
    log_in(client, world.dispatcher)
    first = console(client, "en")  # the duplicates take a look-up per waiting case: on demand
    assert 'data-count="duplicates" data-pending="true">(…)</span>' in first
    assert 'data-load-url="/console?tab=duplicates#duplicates"' in first
    counts = client.get("/console/counts", headers={"Accept": "application/json"})
    assert counts.json() == {"duplicates": 1}
    page = console(client, "en", "/console?tab=duplicates")
    assert 'data-count="duplicates">(1)</span>' in page
    newer, older = world.duplicate, world.filed
    assert f'data-pair="{newer.id}-{older.id}"' in page
    assert f"Merge {newer.number} into {older.number}" in page
    assert f'data-url="/api/cases/{newer.id}/merge" data-into-case-id="{older.id}"' in page
    assert f'data-url="/api/cases/{older.id}/merge" data-into-case-id="{newer.id}"' in page
    assert "rubbish bags by the gate again" in page and "bags of rubbish at the gate" in page
    # Cases in different places of the block are no candidates.
    assert f'data-pair="{world.reported.id}-' not in page


def test_a_postponement_request_waits_for_approval_with_its_reason(
    client: TestClient, world: World
) -> None:
    log_in(client, world.dispatcher)
    page = console(client, "zh-CN", "/console?tab=approvals")
    case_id = world.postponing.id
    assert "延期 3.0 个工作小时" in page and "no lorry" in page
    assert f'data-url="/api/cases/{case_id}/actions/approve_postponement"' in page
    assert f'data-url="/api/cases/{case_id}/actions/refuse_postponement"' in page


def test_a_suspension_request_waits_for_approval(
    session: Session, client: TestClient, world: World
) -> None:
    act(session, world.postponing, CaseAction.REQUEST_SUSPENSION, world.worker, reason="roadworks")
    log_in(client, world.dispatcher)
    page = console(client, "en", "/console?tab=approvals")
    assert "roadworks" in page
    assert f'data-url="/api/cases/{world.postponing.id}/actions/approve_suspension"' in page


def overdue(session: Session, case: Case) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    session.execute(
        update(Case).where(Case.id == case.id).values(due_at=past, warn_at=past - timedelta(1))
    )


def test_deadlines_show_the_light_and_only_overdue_cases_when_asked(
    session: Session, client: TestClient, world: World
) -> None:
    act(session, world.filed, CaseAction.DISPATCH, world.dispatcher)  # green, fresh
    overdue(session, world.postponing)
    log_in(client, world.dispatcher)
    every = console(client, "en", "/console?tab=deadlines")
    assert f'data-case-id="{world.postponing.id}" data-light="red"' in every
    assert f'data-case-id="{world.filed.id}" data-light="green"' in every
    assert "Overdue" in every and "On time" in every
    # A dispatched, not accepted case can be reassigned (a reason is asked for).
    assert f'id="reassign-reason-{world.filed.id}"' in every
    only_overdue = console(client, "zh-CN", "/console?overdue=true&tab=deadlines")
    assert f'data-case-id="{world.postponing.id}" data-light="red"' in only_overdue
    assert f'data-case-id="{world.filed.id}" data-light' not in only_overdue
    assert "超时" in only_overdue


def test_a_manager_reads_the_console_without_actions(
    session: Session, client: TestClient, world: World
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="console-manager"))
    page = console(client, "en")
    assert world.filed.number in page
    assert "only dispatchers act on cases" in page
    assert "js-action" not in page and 'name="case_ids"' not in page


@pytest.mark.parametrize("role", [Role.DEPARTMENT, Role.INSPECTOR, Role.CITIZEN])
def test_roles_that_do_not_dispatch_are_refused(
    session: Session, client: TestClient, role: Role
) -> None:
    log_in(client, add_user(session, role, username=f"no-console-{role}"))
    answer = client.get("/console", headers=ZH)
    assert answer.status_code == 403
    assert "您的角色无权打开此页面。" in answer.text


def test_without_a_session_the_console_asks_to_log_in_and_comes_back(
    client: TestClient, world: World
) -> None:
    answer = client.get("/console", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/console"
    form = {"username": world.dispatcher.username, "password": PASSWORD, "next": "/console"}
    signed_in = client.post("/login", data=form, headers={"Accept-Language": "en"})
    assert signed_in.status_code == 200 and "Dispatch console" in signed_in.text


def test_the_scripts_get_their_messages_translated_and_no_inline_code(
    client: TestClient, world: World
) -> None:
    log_in(client, world.dispatcher)
    page = console(client, "zh-CN")
    messages = script_messages(page)
    assert messages["error.field.department_code"] == "请选择一个在用的部门。"
    assert messages["error.field.hours"] == "批准的小时数不能超过申请数。"
    assert messages["selected"] == "已选 {count} 件"
    assert (
        script_messages(console(client, "en"))["error.none_selected"] == "Select at least one case."
    )
    # Content Security Policy: scripts come from files, no inline handlers or styles.
    assert inline_code(page) == []
