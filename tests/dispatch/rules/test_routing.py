"""Routing in the database: saved rule sets, set-based decisions, versions, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.demo import rules as demo_rules
from citygrid.errors import Conflict
from dispatch.models import RoutingDecision, RoutingRuleKey
from dispatch.rules import routing
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetRejected, RuleSetSpec
from events.models import Case, Category
from tests.events.seed import add_case, add_department
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    COMMUNITY,
    DISTRICT,
    ORIGIN_LAT,
    ORIGIN_LON,
    STREET,
    seed_block,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GARBAGE = "0102"  # event 暴露垃圾; component 0102 is a sewage manhole cover


def garbage(session: Session) -> Category:
    category = session.scalar(
        select(Category).where(Category.kind == "event", Category.code == GARBAGE)
    )
    assert category is not None
    return category


@pytest.fixture
def block(session: Session) -> dict[str, Department]:
    seed_block(session)
    return {code: add_department(session, code=code) for code in ("HW", "JD", "CG", "YL")}


def rule(category: str, area: Any, department: str, **extra: Any) -> dict[str, Any]:
    return {"category": category, "category_kind": "event", "area": area,
            "department": department, **extra}  # fmt: skip


def save(session: Session, rules: list[dict[str, Any]], **extra: Any) -> int:
    body = {"effective_from": NOW, "rules": rules, **extra}
    saved = rule_sets.save_rule_set(session, RuleSetSpec.model_validate(body), by=None, now=NOW)
    return saved.version


def route(session: Session, case: Case, at: datetime = NOW) -> routing.RouteDecision:
    return routing.decide_routes(session, [case.id], at=at)[case.id]


def test_the_most_specific_rule_wins_and_says_why(
    session: Session, block: dict[str, Department]
) -> None:
    save(
        session,
        [
            rule(GARBAGE, "citywide", "HW", name="garbage citywide"),
            rule("*", {"street": STREET.code}, "JD", name="street fallback"),
            rule("*", {"community": COMMUNITY.code}, "YL"),
            rule("01", {"cell": CELL_NE.code}, "CG", name="cell NE"),
        ],
    )
    category = garbage(session)
    nw, ne = (
        add_case(session, category=category),
        add_case(session, category=category, place=CELL_NE),
    )
    assert route(session, ne).department_code == "CG"
    decision = route(session, nw)
    assert decision.department_code == "YL"  # the community (area first) beats minor citywide
    assert decision.rule_set_version == 1
    assert decision.reason == f"rule 2 (v1): category 0102 in community {COMMUNITY.code} → YL"
    assert (
        route(session, ne).reason
        == f"rule 1 'cell NE' (v1): category 0102 in cell {CELL_NE.code} → CG"
    )


def test_category_then_urgency_then_priority_decide_within_one_area(
    session: Session, block: dict[str, Department]
) -> None:
    district = {"district": DISTRICT.code}
    save(
        session,
        [
            rule("*", district, "JD", priority=9),
            rule("01", district, "CG", urgency="urgent"),
            rule("01", district, "YL", priority=2),
            rule("01", district, "HW", priority=1),
        ],
    )
    case = add_case(session, category=garbage(session))
    assert route(session, case).department_code == "YL"
    case.urgency = "urgent"
    session.flush()
    assert route(session, case).department_code == "CG"


def test_a_polygon_routes_only_the_cases_inside_it(
    session: Session, block: dict[str, Department]
) -> None:
    # All of NW and the western 40 % of NE: NE's centre lies outside.
    west, east = ORIGIN_LON - 0.001, ORIGIN_LON + 0.0004
    south, north = ORIGIN_LAT, ORIGIN_LAT + 0.001
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    save(
        session,
        [rule("*", {"polygon": polygon}, "YL"), rule("*", {"street": STREET.code}, "JD")],
    )
    keys = session.scalars(select(RoutingRuleKey.partial).order_by(RoutingRuleKey.area_key))
    # NW covered; NE partial; SW and SE touch its southern edge (partial); the street's key
    assert sorted(keys) == [False, False, True, True, True]
    category = garbage(session)
    inside = add_case(session, category=category, place=CELL_NW)
    outside = add_case(session, category=category, place=CELL_NE)
    assert route(session, inside).department_code == "YL"
    assert "a polygon of" in route(session, inside).reason
    assert route(session, outside).department_code == "JD"


def test_a_set_of_cells_routes_its_cells(session: Session, block: dict[str, Department]) -> None:
    save(
        session,
        [
            rule("*", {"cells": [CELL_SW.code, CELL_SE.code]}, "CG"),
            rule("*", "citywide", "JD"),
        ],
    )
    category = garbage(session)
    assert (
        route(session, add_case(session, category=category, place=CELL_SE)).department_code == "CG"
    )
    assert (
        route(session, add_case(session, category=category, place=CELL_NW)).department_code == "JD"
    )


def test_unrouted_cases_say_why(session: Session, block: dict[str, Department]) -> None:
    case = add_case(session, category=garbage(session))
    assert route(session, case).reason == f"no rule set in force at {NOW.isoformat()}"
    save(session, [rule("02", "citywide", "HW")])
    decision = route(session, case)
    assert decision.department_id is None and decision.rule_set_version == 1
    assert (
        decision.reason
        == f"no rule of v1 matches category 0102 in cell {CELL_NW.code} (urgency normal)"
    )
    assert not decision.auto_dispatch


def test_each_decision_is_stored_and_the_latest_is_found(
    session: Session, block: dict[str, Department]
) -> None:
    save(session, [rule("*", "citywide", "HW")], auto_dispatch=["01"])
    category = garbage(session)
    cases = [add_case(session, category=category) for _ in range(3)]
    decisions = routing.decide_routes(session, [c.id for c in cases], at=NOW)
    assert all(d.auto_dispatch and d.department_code == "HW" for d in decisions.values())
    stored = session.scalar(
        select(func.count()).where(RoutingDecision.case_id.in_([c.id for c in cases]))
    )
    assert stored == 3
    save(session, [rule("*", "citywide", "JD")], effective_from=NOW + timedelta(days=1))
    route(session, cases[0], NOW + timedelta(days=2))
    latest = routing.latest_decisions(session, [c.id for c in cases])
    assert latest[cases[0].id].department_code == "JD"
    assert latest[cases[0].id].rule_set_version == 2
    assert latest[cases[1].id].department_code == "HW"


def test_the_set_in_force_at_the_routing_time_decides(
    session: Session, block: dict[str, Department]
) -> None:
    save(session, [rule("*", "citywide", "HW")])
    save(session, [rule("*", "citywide", "JD")], effective_from=NOW + timedelta(hours=1))
    case = add_case(session, category=garbage(session))
    assert route(session, case, NOW + timedelta(minutes=59)).department_code == "HW"
    assert route(session, case, NOW + timedelta(hours=1)).department_code == "JD"
    with pytest.raises(Conflict, match="before the newest rule set"):
        save(session, [rule("*", "citywide", "CG")], effective_from=NOW)


def test_conflicts_are_refused_listing_every_pair(
    session: Session, block: dict[str, Department]
) -> None:
    with pytest.raises(RuleSetRejected) as raised:
        save(
            session,
            [
                rule(GARBAGE, {"street": STREET.code}, "HW", name="a"),
                rule(GARBAGE, {"street": STREET.code}, "CG", name="b"),
                rule(GARBAGE, {"street": STREET.code}, "HW", urgency="urgent"),
                rule(GARBAGE, {"street": STREET.code}, "JD", name="d"),
            ],
        )
    pairs = [problem["rules"] for problem in raised.value.problems]
    assert pairs == [[0, 1], [0, 3], [1, 3]]
    assert (
        "rules[0] 'a' and rules[1] 'b' are equally specific" in raised.value.problems[0]["detail"]
    )


def test_unknown_and_ambiguous_names_are_refused_by_rule_and_field(
    session: Session, block: dict[str, Department]
) -> None:
    with pytest.raises(RuleSetRejected) as raised:
        save(
            session,
            [
                {"category": GARBAGE, "area": "citywide", "department": "HW"},
                rule("9999", {"street": "999"}, "NOPE", name="bad"),
                rule("*", {"street": COMMUNITY.code}, "HW"),
            ],
        )
    by_field = {problem["field"]: problem["detail"] for problem in raised.value.problems}
    assert "exists as component, event: give category_kind" in by_field["rules[0].category"]
    assert by_field["rules[1].department"] == "rules[1] 'bad': no department NOPE"
    assert by_field["rules[1].category"] == "rules[1] 'bad': no category 9999 (event)"
    assert by_field["rules[1].area"] == "rules[1] 'bad': no street 999"
    assert by_field["rules[2].area"] == f"rules[2]: no street {COMMUNITY.code}"


def test_the_demo_rules_send_specialist_work_to_specialists_and_the_rest_to_the_street(
    session: Session,
) -> None:
    seed_block(session)
    sanitation = add_department(session, code="110101-HW", kind="sanitation")
    add_department(session, code="110101-JD", kind="street_office")
    rule_set = demo_rules.load_demo_rules(session, now=NOW)
    assert rule_set is not None and rule_set.version == 1
    assert demo_rules.load_demo_rules(session, now=NOW) is None  # idempotent
    office = session.scalars(
        select(Department).where(Department.code == f"110101-JD-{STREET.code}")
    ).one()
    assert office.name == "东华门街道街道办事处" and office.kind == "street_office"

    garbage_case = add_case(session, category=garbage(session))
    lamp = session.scalars(
        select(Category).where(
            Category.department_type == "traffic_police", Category.level == "minor"
        )
    ).first()
    assert lamp is not None  # a type the demo has no department for
    other_case = add_case(session, category=lamp, place=CELL_SE)
    decisions = routing.decide_routes(session, [garbage_case.id, other_case.id], at=NOW)
    assert decisions[garbage_case.id].department_id == sanitation.id
    assert decisions[garbage_case.id].auto_dispatch
    assert decisions[other_case.id].department_id == office.id
    assert not decisions[other_case.id].auto_dispatch
