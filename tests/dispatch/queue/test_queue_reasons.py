"""The dispatchers' queue answers each case's routing reason as fields too, which a Chinese page
says in Chinese; the stored English text stays in `routing_reason` for API clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.cases.routing_reasons import routing_describer
from events.cases.schemas import RoutingReasonFields
from events.models import Category
from tests.conftest import token_for
from tests.events.seed import add_case, add_department, add_user
from tests.grid.places import STREET, seed_block

ZH = routing_describer(translations("zh-CN").gettext, language="zh-CN")


@pytest.fixture
def dispatcher(session: Session) -> User:
    """A dispatcher, and one rule: exposed garbage (0102) in the street goes to sanitation."""
    seed_block(session)
    sanitation = add_department(session, code="HW")
    sanitation.name = "东城区环卫所"
    rules = [{"category": "0102", "category_kind": "event", "area": {"street": STREET.code},
              "department": "HW", "name": "sanitation event 0102"}]  # fmt: skip
    since = datetime.now(UTC) - timedelta(days=1)
    spec = RuleSetSpec.model_validate({"effective_from": since, "rules": rules})
    rule_sets.save_rule_set(session, spec, by=None, now=since)
    return add_user(session, Role.DISPATCHER)


def filed_case(session: Session, client: TestClient, dispatcher: User, code: str) -> int:
    category = session.scalar(
        select(Category).where(Category.kind == "event", Category.code == code)
    )
    assert category is not None
    case = add_case(session, category=category)
    answer = client.post(
        f"/api/cases/{case.id}/actions/file", json={}, headers=headers_of(dispatcher)
    )
    assert answer.status_code == 200, answer.text
    return case.id


def headers_of(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(Role(user.role), user_id=user.id)}"}


def queue_item(client: TestClient, dispatcher: User, case_id: int) -> dict[str, Any]:
    answer = client.get("/api/dispatch/queue", headers=headers_of(dispatcher))
    assert answer.status_code == 200, answer.text
    [item] = [item for item in answer.json()["items"] if item["case_id"] == case_id]
    return dict(item)


def test_a_suggested_case_carries_its_reason_as_fields_said_in_chinese(
    session: Session, client: TestClient, dispatcher: User
) -> None:
    item = queue_item(client, dispatcher, filed_case(session, client, dispatcher, "0102"))
    assert item["routing_reason"].startswith("rule 1 'sanitation event 0102' (v1)")  # as before
    fields = RoutingReasonFields.model_validate(item["routing_reason_fields"])
    assert (fields.code, fields.area_kind, fields.area_code) == ("rule", "street", STREET.code)
    assert ZH(fields) == (
        f"第 1 版规则第 1 条：0102 暴露垃圾，{STREET.name}（{STREET.code}） → 东城区环卫所（HW）"
    )


def test_an_unrouted_case_says_why_in_chinese(
    session: Session, client: TestClient, dispatcher: User
) -> None:
    item = queue_item(client, dispatcher, filed_case(session, client, dispatcher, "0103"))
    assert item["kind"] == "unrouted" and item["routing_reason"].startswith("no rule of v1")
    fields = RoutingReasonFields.model_validate(item["routing_reason_fields"])
    assert fields.code == "no_matching_rule"
    assert ZH(fields).startswith("第 1 版规则中没有适用于 0103 积存垃圾渣土（网格 ")
