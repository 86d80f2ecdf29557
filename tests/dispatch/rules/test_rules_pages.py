"""The administrators' routing-rule pages: the versions (in force, scheduled, replaced), a
version's rules named in Chinese, the draft editor's starting point and choices, and the API
calls its script makes (simulate, activate: audited); refused to other roles."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from dispatch.models import RuleSet
from dispatch.rules import pages as rule_pages
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from tests.events.seed import add_department, add_user
from tests.grid.places import CELL_NE, COMMUNITY, STREET, seed_block
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_messages

PAGE = {PAGE_HEADER: "1", "Accept": "application/json"}
GARBAGE = "0102"
NOW = datetime.now(UTC)
CITY = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def block(session: Session) -> None:
    seed_block(session)
    for code, name in (("HW", "环卫中心"), ("JD", "东华门街道办事处"), ("CG", "城管执法队")):
        department = add_department(session, code=code)
        department.name = name
    session.flush()


@pytest.fixture
def admin(session: Session, client: TestClient, block: None) -> User:
    user = add_user(session, Role.ADMIN, username="rules.admin")
    log_in(client, user)
    return user


def rule(category: str, area: Any, department: str, **extra: Any) -> dict[str, Any]:
    kind = {} if category == "*" else {"category_kind": "event"}
    return {"category": category, "area": area, "department": department, **kind, **extra}


def spec(rules: list[dict[str, Any]], effective_from: datetime, **extra: Any) -> dict[str, Any]:
    return {"effective_from": effective_from.isoformat(), "rules": rules, **extra}


def save(session: Session, rules: list[dict[str, Any]], effective_from: datetime) -> RuleSet:
    body = RuleSetSpec.model_validate(spec(rules, effective_from))
    return rule_sets.save_rule_set(session, body, by=None, now=NOW)


@pytest.fixture
def versions(session: Session, admin: User) -> list[RuleSet]:
    """v1 replaced, v2 in force (garbage in the street → HW, the rest → JD), v3 scheduled."""
    return [
        save(session, [rule("*", "citywide", "JD")], NOW - timedelta(days=10)),
        save(
            session,
            [
                rule("*", "citywide", "JD", name="fallback"),
                rule(GARBAGE, {"street": STREET.code}, "HW"),
                rule("*", {"cell": CELL_NE.code}, "CG", urgency="urgent", priority=5),
            ],
            NOW - timedelta(days=1),
        ),
        save(session, [rule("*", "citywide", "CG")], NOW + timedelta(days=3)),
    ]


def audit_events(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def embedded(page: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page)
    assert found is not None
    return json.loads(found.group(1))


def test_the_versions_page_tells_in_force_scheduled_and_replaced_apart(
    client: TestClient, versions: list[RuleSet]
) -> None:
    page = open_page(client, "/admin/rules", ZH)
    for words in (
        "派遣规则",
        "现行",
        "待生效",
        "已被取代",
        "第 2 版",
        "新增 2 条，修改 0 条，删除 0 条",
    ):
        assert words in page, words
    rows = {number: page.index(f'data-version="{number}"') for number in (1, 2, 3)}
    assert rows[3] < rows[2] < rows[1]  # newest first
    assert 'data-version="2" data-state="in_force"' in page
    assert 'data-version="3" data-state="scheduled"' in page
    in_force_from = (NOW - timedelta(days=1)).astimezone(CITY).strftime("%Y-%m-%d %H:%M")
    assert in_force_from in page
    # Only a replaced version can be made the one in force again.
    assert page.count('class="js-reactivate"') == 1 and 'data-version="1" novalidate' in page
    assert 'href="/admin/rules/draft?from=2"' in page
    assert inline_code(page) == []
    assert script_messages(page)["problem.department"] == "规则 {rule}：请选择一个在用的部门。"


def test_a_version_lists_its_rules_by_name_in_precedence_order(
    client: TestClient, versions: list[RuleSet]
) -> None:
    page = open_page(client, "/admin/rules/2", ZH)
    ordinals = [int(value) for value in re.findall(r'data-ordinal="(\d+)"', page)]
    assert ordinals == [1, 2, 3]
    first, second, third = page.split('data-ordinal="')[1:4]
    assert "城管执法队（CG）" in first and "紧急" in first  # one cell, urgent: most specific
    assert f"{GARBAGE} 暴露垃圾" in second and f"东华门街道（{STREET.code}）" in second
    assert "环卫中心（HW）" in second
    assert "任意类别" in third and "东华门街道办事处（JD）" in third and "fallback" in third
    only_hw = open_page(client, "/admin/rules/2?department=HW", ZH)
    assert re.findall(r'data-ordinal="(\d+)"', only_hw) == ["2"]
    assert client.get("/admin/rules/9", headers=ZH).status_code == 404


def test_long_versions_are_paged(
    client: TestClient, versions: list[RuleSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rule_pages, "RULES_PER_PAGE", 2)
    first = open_page(client, "/admin/rules/2", EN)
    assert re.findall(r'data-ordinal="(\d+)"', first) == ["1", "2"]
    assert 'href="/admin/rules/2?page=2"' in first
    second = open_page(client, "/admin/rules/2?page=2", EN)
    assert re.findall(r'data-ordinal="(\d+)"', second) == ["3"]


def test_the_draft_starts_from_the_version_in_force_with_choices_by_name(
    client: TestClient, versions: list[RuleSet]
) -> None:
    page = open_page(client, "/admin/rules/draft", ZH)
    base = embedded(page, "draft-base")
    assert base["version"] == 2 and len(base["source"]["rules"]) == 3
    choices = embedded(page, "draft-choices")
    departments = {item["code"]: item["name"] for item in choices["departments"]}
    assert departments["HW"] == "环卫中心"
    labels = {f"{item['kind']}:{item['code']}": item["label"] for item in choices["categories"]}
    assert labels["event:0103"] == "0103 积存垃圾渣土（GB/T 30428.2-2013）"  # a shared name
    assert labels["event:0301"] == "0301 施工扰民"
    assert labels["component:0301"] == "0301 公共厕所"
    regions = {item["code"]: item for item in choices["regions"]}
    assert regions[COMMUNITY.code]["parent"] == STREET.code
    # The rule form's selects name departments, categories and regions.
    assert '<option value="HW">环卫中心</option>' in page
    assert f'<option value="{STREET.code}">东华门街道（{STREET.code}）</option>' in page
    assert f'<optgroup label="{STREET.name}">' in page
    assert 'data-utc-offset="+08:00"' in page
    assert inline_code(page) == []
    assert (
        embedded(open_page(client, "/admin/rules/draft?from=1", ZH), "draft-base")["version"] == 1
    )
    assert client.get("/admin/rules/draft?from=9", headers=ZH).status_code == 404


def test_the_draft_of_a_city_without_rules_starts_empty(client: TestClient, admin: User) -> None:
    page = open_page(client, "/admin/rules/draft", ZH)
    assert embedded(page, "draft-base") == {"version": None, "source": None}
    assert "尚未保存任何版本" in page
    assert "尚未保存任何规则集" in open_page(client, "/admin/rules", ZH)


def test_activating_a_draft_saves_a_version_and_audits_it(
    session: Session, client: TestClient, admin: User
) -> None:
    draft = spec(
        [rule("*", "citywide", "JD"), rule(GARBAGE, {"community": COMMUNITY.code}, "HW")],
        NOW,
        comment="垃圾归环卫",
    )
    simulated = client.post(
        "/api/dispatch/rules/simulate",
        json={
            "rule_set": draft,
            "from": (NOW - timedelta(days=30)).isoformat(),
            "to": NOW.isoformat(),
        },
        headers=PAGE,
    )
    assert simulated.status_code == 200, simulated.text
    assert audit_events(session, "rule_set_saved") == []  # a simulation saves nothing
    saved = client.post("/api/dispatch/rules", json=draft, headers=PAGE)
    assert saved.status_code == 201, saved.text
    (event,) = audit_events(session, "rule_set_saved")
    assert (event.user_id, event.username) == (admin.id, "rules.admin")
    assert event.details["version"] == saved.json()["version"]
    assert event.details["rule_count"] == 2 and event.details["comment"] == "垃圾归环卫"
    assert event.details["changes"] == {"added": 2, "removed": 0, "changed": 0}
    assert event.path == "/api/dispatch/rules"
    page = open_page(client, f"/admin/rules/{saved.json()['version']}", ZH)
    assert "垃圾归环卫" in page and "rules.admin" in page and "现行" in page


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([rule("*", "citywide", "NOPE")], "rules[0].department"),
        ([rule("*", "citywide", "JD"), rule("*", {"street": "999"}, "HW")], "rules[1].area"),
        ([rule("*", "citywide", "JD"), rule("*", "citywide", "HW")], "rules[1]"),
    ],
)
def test_a_bad_draft_is_refused_naming_the_rule_and_field(
    session: Session, client: TestClient, admin: User, rules: list[dict[str, Any]], field: str
) -> None:
    refused = client.post("/api/dispatch/rules", json=spec(rules, NOW), headers=PAGE)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == field
    assert audit_events(session, "rule_set_saved") == []


def test_a_malformed_rule_is_refused_naming_its_index_and_field(
    client: TestClient, admin: User
) -> None:
    bad = spec([rule("*", "citywide", "JD"), rule("*", "citywide", "HW", priority="high")], NOW)
    refused = client.post("/api/dispatch/rules", json=bad, headers=PAGE)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "rules", 1, "priority"]


def test_other_roles_are_refused(session: Session, client: TestClient, block: None) -> None:
    save(session, [rule("*", "citywide", "JD")], NOW - timedelta(days=1))
    log_in(client, add_user(session, Role.DISPATCHER))
    for path in ("/admin/rules", "/admin/rules/1", "/admin/rules/draft"):
        assert client.get(path, headers=ZH).status_code == 403, path
    refused = client.post(
        "/api/dispatch/rules", json=spec([rule("*", "citywide", "HW")], NOW), headers=PAGE
    )
    assert refused.status_code == 403
    assert audit_events(session, "rule_set_saved") == []
    assert audit_events(session, "permission_denied")
