"""The demo city's routing rules: specialists by category type, street offices as the fallback.

Area comes first in precedence, so a street-level "any category → street office" rule would beat
a district-level specialist rule. The specialists are therefore written per street too (street ×
minor category → specialist): in the same area a minor category beats "any", so the specialist
wins, and the street office takes whatever no specialist covers. Where the city has a
district-wide street office department, a citywide "any → it" rule catches cases in cells
outside every street (none in a generated grid; the demo city has none: every department it
has receives cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from dispatch.models import RuleSet
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.models import Category
from grid.models import GridRegion

STREET_OFFICE_KIND = "street_office"
# Department types of the taxonomy that the demo has a department for (citygrid.demo.city creates
# them); categories of other types fall to the street office of their street.
SPECIALIST_KINDS = (
    "sanitation",
    "landscaping",
    "municipal_facilities",
    "urban_mgmt_enforcement",
    "water_supply_enterprise",
    "drainage_authority",
    "street_lighting_office",
)
# Clear-cut categories dispatched on filing: exposed garbage, dirty road, discarded furniture
# (both coding standards' codes).
AUTO_DISPATCH = ["event:0102", "event:0104", "event:0108", "event:06010", "event:06012"]
# The demo history reaches 90 days back: the set is in force for all of it.
EFFECTIVE_DAYS_BACK = 365


@dataclass(frozen=True)
class Street:
    code: str
    name: str


def street_office_code(street_code: str) -> str:
    return f"110101-JD-{street_code}"


def load_demo_rules(session: Session, *, now: datetime) -> RuleSet | None:
    """The demo rule set (version 1), with a street office per street; None when a rule set
    exists already or there is no street to route in."""
    if session.scalar(select(RuleSet.id).limit(1)) is not None:
        return None
    streets = [
        Street(code, name)
        for code, name in session.execute(
            select(GridRegion.code, GridRegion.name)
            .where(GridRegion.level == "street")
            .order_by(GridRegion.code)
        )
    ]
    if not streets:
        return None
    add_street_offices(session, streets)
    rules = [
        *specialist_rules(session, streets),
        *street_office_rules(streets),
        *citywide_fallback(session),
    ]
    spec = RuleSetSpec.model_validate(
        {
            "effective_from": now - timedelta(days=EFFECTIVE_DAYS_BACK),
            "comment": "演示规则：按类别的部门类型派往专业部门，其余由街道办事处兜底",
            "auto_dispatch": AUTO_DISPATCH,
            "rules": rules,
        }
    )
    return rule_sets.save_rule_set(session, spec, by=None, now=now)


def add_street_offices(session: Session, streets: Sequence[Street]) -> None:
    """A street office department for every street that lacks one."""
    known = set(session.scalars(select(Department.code)))
    for street in streets:
        code = street_office_code(street.code)
        if code not in known:
            session.add(
                Department(code=code, name=f"{street.name}街道办事处", kind="street_office")
            )
    session.flush()


def specialist_departments(session: Session) -> dict[str, str]:
    """Department type → the code of the demo's specialist of that type (the lowest code)."""
    return {
        kind: code
        for kind, code in session.execute(
            select(Department.kind, Department.code)
            .where(Department.kind.in_(SPECIALIST_KINDS), Department.is_active)
            .order_by(Department.code.desc())  # the lowest code of a kind wins the dict
        )
    }


def routed_department(
    department_type: str | None, street_code: str, specialists: Mapping[str, str]
) -> str:
    """The code of the department these rules send a category of that type in that street to:
    its specialist, else the street office (a component's maintainer goes before both)."""
    return specialists.get(department_type or "", street_office_code(street_code))


# Rule names are what the rules page shows: in the city's language, as an administrator would
# type them.
KIND_NAMES = {"event": "事件", "component": "部件"}


def specialist_rules(session: Session, streets: Sequence[Street]) -> list[dict[str, Any]]:
    """Street × minor category → the department of the category's type, where there is one."""
    specialists = specialist_departments(session)
    categories = session.execute(
        select(Category.kind, Category.code, Category.department_type)
        .where(Category.level == "minor", Category.department_type.in_(list(specialists)))
        .where(Category.retired_at.is_(None))
        .order_by(Category.kind, Category.code)
    ).all()
    return [
        {
            "name": f"{street.name}·{KIND_NAMES.get(category.kind, category.kind)} {category.code}",
            "category": category.code,
            "category_kind": category.kind,
            "area": {"street": street.code},
            "department": specialists[category.department_type],
        }
        for street in streets
        for category in categories
    ]


def street_office_rules(streets: Sequence[Street]) -> list[dict[str, Any]]:
    """Any category in a street → its street office."""
    return [
        {
            "name": f"{street.name}·属地兜底",
            "category": "*",
            "area": {"street": street.code},
            "department": street_office_code(street.code),
        }
        for street in streets
    ]


def citywide_fallback(session: Session) -> list[dict[str, Any]]:
    """Any category anywhere → the district's street office department, if there is one."""
    code = session.scalar(
        select(Department.code)
        .where(Department.kind == STREET_OFFICE_KIND, Department.code.not_like("%-JD-%"))
        .where(Department.is_active)
        .order_by(Department.code)
        .limit(1)
    )
    if code is None:
        return []
    return [{"name": "全区兜底", "category": "*", "area": "citywide", "department": code}]
