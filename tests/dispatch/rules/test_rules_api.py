"""Rule sets over HTTP and the CLI: versions, validation, simulation of a draft."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from dispatch.models import RoutingRule, RuleSet
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.models import Case, Category
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import CELL_NE, CELL_NW, CELL_SE, CELL_SW, DISTRICT, STREET, seed_block

Headers = Callable[[Role], dict[str, str]]
GARBAGE = "0102"


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    """Headers of a real admin user (the rule set records who saved it)."""
    user = add_user(session, Role.ADMIN, username="rules.admin")
    return {"Authorization": f"Bearer {token_for(Role.ADMIN, user_id=user.id)}"}


@pytest.fixture
def block(session: Session) -> None:
    seed_block(session)
    for code in ("HW", "JD", "CG", "YL"):
        add_department(session, code=code)


def rule(category: str, area: Any, department: str, **extra: Any) -> dict[str, Any]:
    return {
        "category": category,
        "category_kind": "event",
        "area": area,
        "department": department,
        **extra,
    }


def body(rules: list[dict[str, Any]], effective_from: datetime, **extra: Any) -> dict[str, Any]:
    return {"effective_from": effective_from.isoformat(), "rules": rules, **extra}


def test_an_admin_saves_versions_that_staff_can_read(
    client: TestClient, admin: dict[str, str], auth: Headers, block: None
) -> None:
    now = datetime.now(UTC)
    first = body(
        [rule("*", "citywide", "JD"), rule(GARBAGE, {"street": STREET.code}, "HW", name="hw")],
        now - timedelta(days=1),
        comment="first",
        auto_dispatch=[GARBAGE],
    )
    created = client.post("/api/dispatch/rules", json=first, headers=admin)
    assert created.status_code == 201, created.text
    saved = created.json()
    assert (saved["version"], saved["rule_count"], saved["in_force"]) == (1, 2, True)
    assert saved["created_by_username"] == "rules.admin"
    assert [(r["ordinal"], r["department_code"]) for r in saved["rules"]] == [(1, "HW"), (2, "JD")]
    assert saved["rules"][0]["area_code"] == STREET.code

    second = body([rule("*", "citywide", "CG")], now + timedelta(days=1), comment="later")
    assert client.post("/api/dispatch/rules", json=second, headers=admin).status_code == 201
    listed = client.get("/api/dispatch/rules", headers=auth(Role.DISPATCHER)).json()
    assert [(v["version"], v["in_force"]) for v in listed] == [(2, False), (1, True)]
    assert listed[0]["changes"]["counts"] == {"added": 0, "removed": 1, "changed": 1}
    shown = client.get("/api/dispatch/rules/1", headers=auth(Role.MANAGER)).json()
    assert shown["source"]["comment"] == "first" and shown["auto_dispatch"] == [GARBAGE]
    assert client.get("/api/dispatch/rules/9", headers=auth(Role.MANAGER)).status_code == 404
    denied = client.post("/api/dispatch/rules", json=second, headers=auth(Role.DISPATCHER))
    assert denied.status_code == 403


def test_bad_sets_are_refused_naming_rules_and_fields(
    client: TestClient, admin: dict[str, str], block: None
) -> None:
    now = datetime.now(UTC)
    conflicting = body(
        [rule("*", "citywide", "JD", name="a"), rule("*", "citywide", "HW", name="b")], now
    )
    refused = client.post("/api/dispatch/rules", json=conflicting, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["rules"] == [0, 1]
    assert "rules[0] 'a' and rules[1] 'b'" in refused.json()["problems"][0]["detail"]

    malformed = body([rule("*", {"county": "1"}, "JD")], now)
    refused = client.post("/api/dispatch/rules", json=malformed, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:4] == ["body", "rules", 0, "area"]

    client.post("/api/dispatch/rules", json=body([rule("*", "citywide", "JD")], now), headers=admin)
    earlier = body([rule("*", "citywide", "HW")], now - timedelta(hours=1))
    assert client.post("/api/dispatch/rules", json=earlier, headers=admin).status_code == 409


def save(session: Session, rules: list[dict[str, Any]], effective_from: datetime) -> RuleSet:
    spec = RuleSetSpec.model_validate(body(rules, effective_from))
    return rule_sets.save_rule_set(session, spec, by=None, now=effective_from)


def cases_for_simulation(session: Session) -> dict[str, Case]:
    """Garbage cases routed with v1 (HW), one routed by v2 in force at its creation (YL), and
    one case of another category nothing routes."""
    now = datetime.now(UTC)
    v1 = save(session, [rule(GARBAGE, {"district": DISTRICT.code}, "HW")], now - timedelta(days=2))
    save(session, [rule(GARBAGE, {"district": DISTRICT.code}, "YL")], now - timedelta(hours=1))
    garbage = session.scalars(
        select(Category).where(Category.kind == "event", Category.code == GARBAGE)
    ).one()
    places = {"nw": CELL_NW, "ne1": CELL_NE, "ne2": CELL_NE, "sw": CELL_SW}
    cases = {
        name: add_case(session, category=garbage, place=place) for name, place in places.items()
    }
    for case in cases.values():
        case.rule_set_id = v1.id
    cases["v2"] = add_case(session, category=garbage, place=CELL_NW)
    cases["other"] = add_case(session, category=add_category(session, code="0301"), place=CELL_SE)
    session.flush()
    return cases


def test_a_simulation_compares_a_draft_with_the_versions_cases_were_routed_with(
    client: TestClient, session: Session, auth: Headers, block: None
) -> None:
    cases = cases_for_simulation(session)
    now = datetime.now(UTC)
    draft = body(
        [
            rule(GARBAGE, {"cell": CELL_NE.code}, "CG"),
            rule(GARBAGE, {"cell": CELL_SW.code}, "HW"),
            rule("03", {"district": DISTRICT.code}, "JD"),
        ],
        now,
    )
    period = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    sets_before = session.scalar(select(func.count()).select_from(RuleSet))
    response = client.post(
        "/api/dispatch/rules/simulate",
        json={"rule_set": draft, **period, "examples_per_pair": 1},
        headers=auth(Role.DISPATCHER),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    totals = {key: report[key] for key in ("cases", "unchanged", "changed")}
    assert totals == {"cases": 6, "unchanged": 1, "changed": 2}
    assert (report["newly_unrouted"], report["newly_routed"]) == (2, 1)
    pairs = {(p["from_department"], p["to_department"]): p for p in report["pairs"]}
    assert set(pairs) == {("HW", "CG"), ("HW", None), ("YL", None), (None, "JD")}
    assert pairs[("HW", "CG")]["cases"] == 2
    assert pairs[("HW", "CG")]["examples"] == [cases["ne1"].number]
    assert pairs[(None, "JD")]["examples"] == [cases["other"].number]
    # The draft was rolled back: nothing of it persists.
    assert session.scalar(select(func.count()).select_from(RuleSet)) == sets_before
    assert session.scalar(select(func.max(RoutingRule.rule_set_id))) is not None
    assert session.scalar(select(func.count()).select_from(RoutingRule)) == 2


def test_a_simulation_needs_a_period(client: TestClient, auth: Headers, block: None) -> None:
    now = datetime.now(UTC)
    draft = body([rule("*", "citywide", "JD")], now)
    response = client.post(
        "/api/dispatch/rules/simulate",
        json={"rule_set": draft, "from": now.isoformat(), "to": now.isoformat()},
        headers=auth(Role.ADMIN),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "to"


RULE_FILE = f"""
comment: from a file
auto_dispatch: ["{GARBAGE}"]
rules:
  - name: street office
    category: "*"
    area: {{street: "{STREET.code}"}}
    department: JD
  - name: garbage in NE
    category: "{GARBAGE}"
    category_kind: event
    area: {{cell: "{CELL_NE.code}"}}
    department: HW
"""


def test_the_cli_loads_and_shows_rule_files(
    run_cli: Callable[..., Any], tmp_path: Path, block: None
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE_FILE, encoding="utf-8")
    loaded = run_cli("dispatch", "rules", "load", str(path), "--effective-from", "2026-11-01T08:00")
    assert loaded.exit_code == 0, loaded.output
    assert "rule set v1: 2 rules, effective from 2026-11-01T08:00:00+00:00" in loaded.output
    shown = run_cli("dispatch", "rules", "show")
    assert shown.exit_code == 0, shown.output
    assert "1  garbage in NE  category 0102 (event)  cell × 1  any urgency" in shown.output
    assert f"street {STREET.code}" in shown.output

    path.write_text(RULE_FILE.replace("department: HW", "department: NOPE"), encoding="utf-8")
    refused = run_cli("dispatch", "rules", "load", str(path))
    assert refused.exit_code == 1
    assert "rules[1] 'garbage in NE': no department NOPE" in refused.output
    path.write_text("rules:\n  - category: '*'\n    area: moon\n    department: JD\n")
    refused = run_cli("dispatch", "rules", "load", str(path))
    assert refused.exit_code == 1
    assert "rules[0].area" in refused.output
