"""Routing: a matched component's maintainer (养护单位) wins over the category × area rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from components.models import Component
from dispatch.models import RoutingDecision
from dispatch.rules import routing
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.models import Case, Category
from tests.events.seed import add_case, add_department
from tests.grid.places import CELL_NW, DISTRICT, centre_of, seed_block

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LAMP = "0118"
LAMP_CODE = "1101010118000123"


@pytest.fixture
def lamp_category(session: Session) -> Category:
    found = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == LAMP)
    )
    assert found is not None
    return found


@pytest.fixture
def departments(session: Session) -> dict[str, Department]:
    seed_block(session)
    return {
        "JD": add_department(session, code="JD"),
        "LD": add_department(session, code="LD", kind="street_lighting_office"),
    }


def save_rules(session: Session) -> None:
    """Lamps go to the street office JD in the whole district."""
    rules = [{"category": LAMP, "category_kind": "component",
              "area": {"district": DISTRICT.code}, "department": "JD"}]  # fmt: skip
    spec = RuleSetSpec.model_validate({"effective_from": NOW, "rules": rules})
    rule_sets.save_rule_set(session, spec, by=None, now=NOW)


def lamp_case(
    session: Session, category: Category, maintainer: Department | None
) -> tuple[Case, Component]:
    lon, lat = centre_of(CELL_NW)
    lamp = Component(
        code=LAMP_CODE,
        category_id=category.id,
        geom=func.ST_GeomFromText(f"POINT({lon} {lat})", 4326),
        name="东四北大街路灯",
        maintainer_department_id=maintainer.id if maintainer else None,
    )
    session.add(lamp)
    session.flush()
    case = add_case(session, category=category)
    case.component_id, case.component_match = lamp.id, "suggested"
    session.flush()
    return case, lamp


def stored_decision(session: Session, case: Case) -> RoutingDecision:
    decision = session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.case_id == case.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
    assert decision is not None
    return decision


def test_the_maintainer_overrides_the_rules_and_the_reason_is_stored(
    session: Session, departments: dict[str, Department], lamp_category: Category
) -> None:
    save_rules(session)
    maintainer = departments["LD"]
    maintainer.name = "东城区路灯管理所"
    case, lamp = lamp_case(session, lamp_category, maintainer)
    decision = routing.decide_routes(session, [case.id], at=NOW)[case.id]
    assert decision.department_code == "LD"
    assert (decision.rule_id, decision.component_id) == (None, lamp.id)
    assert decision.reason == (
        f"component {LAMP_CODE}'s maintainer (养护单位) 东城区路灯管理所 → LD"
    )
    stored = stored_decision(session, case)
    assert (stored.department_id, stored.component_id, stored.rule_id) == (
        maintainer.id,
        lamp.id,
        None,
    )
    assert stored.reason == decision.reason
    assert routing.latest_decisions(session, [case.id])[case.id].component_id == lamp.id


def test_bulk_routing_applies_the_maintainer_too(
    session: Session, departments: dict[str, Department], lamp_category: Category
) -> None:
    save_rules(session)
    case, _ = lamp_case(session, lamp_category, departments["LD"])
    plain = add_case(session, category=lamp_category)
    assert routing.store_routes(session, [case.id, plain.id], at=NOW) == 2
    assert stored_decision(session, case).department_id == departments["LD"].id
    assert stored_decision(session, plain).department_id == departments["JD"].id


@pytest.mark.parametrize("why", ["no maintainer", "inactive maintainer"])
def test_without_an_active_maintainer_the_rules_decide(
    session: Session, departments: dict[str, Department], lamp_category: Category, why: str
) -> None:
    save_rules(session)
    maintainer = departments["LD"] if why == "inactive maintainer" else None
    if maintainer is not None:
        maintainer.is_active = False
    case, _ = lamp_case(session, lamp_category, maintainer)
    decision = routing.decide_routes(session, [case.id], at=NOW)[case.id]
    assert decision.department_code == "JD"
    assert decision.component_id is None
    assert decision.rule_id is not None
    assert decision.reason.startswith("rule 1 (v1): category 0118 in district")


def test_without_any_rule_set_the_maintainer_still_decides(
    session: Session, departments: dict[str, Department], lamp_category: Category
) -> None:
    case, lamp = lamp_case(session, lamp_category, departments["LD"])
    plain = add_case(session, category=lamp_category)
    decisions = routing.decide_routes(session, [case.id, plain.id], at=NOW)
    assert (decisions[case.id].department_code, decisions[case.id].component_id) == ("LD", lamp.id)
    assert decisions[plain.id].department_code is None
    assert decisions[plain.id].reason.startswith("no rule set in force")
