"""The case page in Chinese: the routing reason said in Chinese, times in the city's zone,
the time left or overdue in days and hours, a category's standard when its name is shared, a
cell named by its code said once, and no English words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from citygrid.web import local_time
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.models import Case, CaseAssignment, Category
from grid.models import GridCell
from tests.conftest import token_for
from tests.events.seed import add_case, add_department, add_user
from tests.grid.places import CELL_NW, seed_block
from tests.web.pages_support import ZH, log_in, open_page

# Words a Chinese page may hold: a standard's and a department's code.
ALLOWED_LATIN = {"GB", "T", "HW", "English"}  # "English" names the language switch


@pytest.fixture
def dispatcher(session: Session) -> User:
    """积存垃圾渣土 of the old standard (0103) goes to sanitation anywhere in the city."""
    seed_block(session)
    sanitation = add_department(session, code="HW")
    sanitation.name = "东城区环卫所"
    rules = [{"category": "0103", "category_kind": "event", "area": "citywide",
              "department": "HW", "name": "sanitation event 0103"}]  # fmt: skip
    since = datetime.now(UTC) - timedelta(days=1)
    spec = RuleSetSpec.model_validate({"effective_from": since, "rules": rules})
    rule_sets.save_rule_set(session, spec, by=None, now=since)
    user = add_user(session, Role.DISPATCHER, username="10086")  # no Latin letters in the bar
    user.display_name = "调度员小王"
    return user


def old_garbage(session: Session) -> Category:
    found = session.scalar(
        select(Category).where(
            Category.kind == "event",
            Category.code == "0103",
            Category.standard == "GB/T 30428.2-2013",
        )
    )
    assert found is not None
    return found


def act(client: TestClient, case: Case, action: str, user: User) -> None:
    headers = {"Authorization": f"Bearer {token_for(Role(user.role), user_id=user.id)}"}
    answer = client.post(f"/api/cases/{case.id}/actions/{action}", json={}, headers=headers)
    assert answer.status_code == 200, answer.text


def visible_text(page: str) -> str:
    """What a reader sees: the page without its scripts, data blocks and tags."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.DOTALL)
    page = re.sub(r"<head>.*?</head>", " ", page, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", page)


def english_words(page: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+", visible_text(page))) - ALLOWED_LATIN


def test_a_filed_case_says_its_routing_reason_in_chinese(
    session: Session, client: TestClient, dispatcher: User
) -> None:
    session.execute(update(GridCell).where(GridCell.code == CELL_NW.code).values(name=CELL_NW.code))
    case = add_case(session, category=old_garbage(session), description="路边堆了建筑垃圾")
    act(client, case, "file", dispatcher)
    log_in(client, dispatcher)
    page = open_page(client, f"/cases/{case.id}", ZH)
    routing = re.search(r'<td id="case-routing">(.*?)</td>', page, flags=re.DOTALL)
    assert routing is not None
    assert "第 1 版规则第 1 条：0103 积存垃圾渣土，全市 → 东城区环卫所（HW）" in routing.group(1)
    category = re.search(r'<td id="case-category">(.*?)</td>', page)
    assert category is not None
    assert category.group(1) == "0103 积存垃圾渣土（GB/T 30428.2-2013）"  # 06011 shares the name
    cell = re.search(r'<td id="case-cell">(.*?)<br>', page)
    assert cell is not None and cell.group(1).strip() == CELL_NW.code  # named by its code: once
    assert local_time(case.created_at, get_settings().city_zone) in page
    assert english_words(page) == set(), visible_text(page)


def test_a_dispatched_case_says_the_time_left_then_how_long_overdue(
    session: Session, client: TestClient, dispatcher: User
) -> None:
    case = add_case(session, category=old_garbage(session), description="路边堆了建筑垃圾")
    act(client, case, "file", dispatcher)
    act(client, case, "dispatch", dispatcher)  # to the suggested department
    log_in(client, dispatcher)
    page = open_page(client, f"/cases/{case.id}", ZH)
    left = re.search(r'<span class="light-text" id="case-time-left">(.*?)</span>', page)
    assert left is not None
    assert re.fullmatch(r"\S+ · 剩余 .+", left.group(1)), left.group(1)  # "正常 · 剩余 …"
    assert english_words(page) == set()

    due_at = datetime.now(UTC) - timedelta(days=3, hours=4, minutes=10)
    session.execute(
        update(CaseAssignment).where(CaseAssignment.case_id == case.id).values(due_at=due_at)
    )
    page = open_page(client, f"/cases/{case.id}", ZH)
    overdue = re.search(r'<span class="light-text" id="case-time-left">(.*?)</span>', page)
    assert overdue is not None and overdue.group(1) == "超时 3 天 4 小时"  # said once
    assert local_time(due_at, get_settings().city_zone) in page
    assert english_words(page) == set()
