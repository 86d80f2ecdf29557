"""Routing reasons as fields, read back from stored decisions, and said in Chinese or English
(dispatch.rules.routing.reason_fields, events.cases.routing_reasons.describe_routing)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.i18n import translations
from components.models import Component
from dispatch.rules import routing
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.cases.routing_reasons import describe_routing, routing_describer
from events.cases.schemas import RoutingReasonFields
from events.models import Case, Category
from tests.events.seed import add_case, add_department
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    COMMUNITY,
    DISTRICT,
    ORIGIN_LAT,
    ORIGIN_LON,
    STREET,
    centre_of,
    seed_block,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ZH = translations("zh-CN").gettext
EN = translations("en").gettext
GARBAGE = "0102"  # event 暴露垃圾
# The western part of the block: all of cell NW.
WEST_HALF = {
    "type": "Polygon",
    "coordinates": [
        [
            [ORIGIN_LON - 0.001, ORIGIN_LAT],
            [ORIGIN_LON, ORIGIN_LAT],
            [ORIGIN_LON, ORIGIN_LAT + 0.001],
            [ORIGIN_LON - 0.001, ORIGIN_LAT + 0.001],
            [ORIGIN_LON - 0.001, ORIGIN_LAT],
        ]
    ],
}


@pytest.fixture
def sanitation(session: Session) -> Department:
    seed_block(session)
    department = add_department(session, code="HW")
    department.name = "东城区环卫所"
    session.flush()
    return department


def event_category(session: Session, code: str) -> Category:
    found = session.scalar(select(Category).where(Category.kind == "event", Category.code == code))
    assert found is not None
    return found


def save(session: Session, area: Any, *, category: str = GARBAGE, at: datetime = NOW) -> None:
    rules = [{"category": category, "category_kind": "event", "area": area, "department": "HW",
              "name": "garbage to sanitation"}]  # fmt: skip
    spec = RuleSetSpec.model_validate({"effective_from": at, "rules": rules})
    rule_sets.save_rule_set(session, spec, by=None, now=at)


def reason_of(session: Session, case: Case) -> RoutingReasonFields:
    decision = routing.decide_routes(session, [case.id], at=NOW)[case.id]
    return routing.reason_fields(session, [decision.decision_id])[decision.decision_id]


def test_a_rule_s_reason_reads_in_chinese_and_english(
    session: Session, sanitation: Department
) -> None:
    save(session, {"community": COMMUNITY.code})
    case = add_case(session, category=event_category(session, GARBAGE))
    fields = reason_of(session, case)
    assert (fields.code, fields.rule_set_version, fields.rule_ordinal) == ("rule", 1, 1)
    assert (fields.area_kind, fields.area_code, fields.area_name) == (
        "community",
        COMMUNITY.code,
        COMMUNITY.name,
    )
    assert (fields.department_code, fields.rule_name) == ("HW", "garbage to sanitation")
    assert describe_routing(fields, ZH, language="zh-CN") == (
        f"第 1 版规则第 1 条：0102 暴露垃圾，{COMMUNITY.name}（{COMMUNITY.code}）"
        " → 东城区环卫所（HW）"
    )
    assert describe_routing(fields, EN, language="en") == (
        f"Rule 1 of version 1: 0102 Exposed garbage in community {COMMUNITY.name}"
        f" ({COMMUNITY.code}) → 东城区环卫所 (HW)"
    )


@pytest.mark.parametrize(
    ("area", "chinese", "english"),
    [
        ("citywide", "全市", "the whole city"),
        ({"district": DISTRICT.code}, f"{DISTRICT.name}（{DISTRICT.code}）", "district "),
        ({"street": STREET.code}, f"{STREET.name}（{STREET.code}）", "street "),
        ({"cell": CELL_NW.code}, f"网格 {CELL_NW.code}", f"cell {CELL_NW.code}"),
        ({"cells": [CELL_NW.code, CELL_NE.code]}, "2 个网格", "a set of 2 cells"),
        ({"polygon": WEST_HALF}, "划定区域（", "a drawn area of "),
    ],
)
def test_every_kind_of_area_is_said_in_the_reader_s_language(
    session: Session, sanitation: Department, area: Any, chinese: str, english: str
) -> None:
    save(session, area)
    fields = reason_of(session, add_case(session, category=event_category(session, GARBAGE)))
    assert chinese in describe_routing(fields, ZH, language="zh-CN")
    assert english in describe_routing(fields, EN, language="en")
    if fields.area_kind == "polygon":  # about 85 m × 111 m
        assert re.search(r"划定区域（[0-9,]+ m²）", describe_routing(fields, ZH, language="zh-CN"))


def test_no_matching_rule_says_category_cell_and_urgency(
    session: Session, sanitation: Department
) -> None:
    save(session, "citywide")
    case = add_case(session, category=event_category(session, "0103"))  # 积存垃圾渣土: no rule
    case.urgency = "urgent"
    session.flush()
    fields = reason_of(session, case)
    assert (fields.code, fields.department_code, fields.rule_id) == ("no_matching_rule", None, None)
    assert describe_routing(fields, ZH, language="zh-CN") == (
        f"第 1 版规则中没有适用于 0103 积存垃圾渣土（网格 {CELL_NW.code}，紧急）的规则"
    )
    assert describe_routing(fields, EN, language="en") == (
        "No rule of version 1 covers 0103 Accumulated garbage & muck"
        f" in cell {CELL_NW.code} (Urgent)"
    )


def test_no_rule_set_in_force_says_so(session: Session, sanitation: Department) -> None:
    save(session, "citywide", at=NOW + timedelta(days=1))  # not yet in force
    fields = reason_of(session, add_case(session, category=event_category(session, GARBAGE)))
    assert fields.code == "no_rule_set" and fields.rule_set_version is None
    assert describe_routing(fields, ZH, language="zh-CN") == "当时没有生效的派遣规则"
    assert describe_routing(fields, EN, language="en") == "No routing rules were in force"


def test_a_component_s_maintainer_is_named_with_the_component(
    session: Session, sanitation: Department
) -> None:
    save(session, "citywide")
    lamps = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == "0118")
    )
    assert lamps is not None
    lighting = add_department(session, code="LD", kind="street_lighting_office")
    lighting.name = "东城区路灯管理所"
    lon, lat = centre_of(CELL_NW)
    lamp = Component(
        code="1101010118000123",
        category_id=lamps.id,
        geom=func.ST_GeomFromText(f"POINT({lon} {lat})", 4326),
        maintainer_department_id=lighting.id,
    )
    session.add(lamp)
    session.flush()
    case = add_case(session, category=lamps)
    case.component_id = lamp.id
    session.flush()
    fields = reason_of(session, case)
    assert (fields.code, fields.component_code) == ("component_maintainer", lamp.code)
    assert describe_routing(fields, ZH, language="zh-CN") == (
        f"部件 {lamp.code} 的养护单位：东城区路灯管理所（LD）"
    )


def test_the_template_describer_says_nothing_for_a_case_never_routed(session: Session) -> None:
    assert routing_describer(ZH, language="zh-CN")(None) == ""
    assert routing.reason_fields(session, []) == {}
