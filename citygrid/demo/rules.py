"""The demo city's routing rules: specialists by category type, street offices as the fallback.

Area comes first in precedence, so a street-level "any category → street office" rule would beat
a district-level specialist rule. The specialists are therefore written per street too (street ×
minor category → specialist): in the same area a minor category beats "any", so the specialist
wins, and the street office takes whatever no specialist covers. A citywide "any → district
street office" rule catches cases in cells outside every street (none in a generated grid).
"""

from __future__ import annotations

from collections.abc import Sequence
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
            "comment": "demo rule set: specialists by category type, street offices as fallback",
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


def specialist_rules(session: Session, streets: Sequence[Street]) -> list[dict[str, Any]]:
    """Street × minor category → the department of the category's type, where there is one."""
    specialists = {
        kind: code
        for kind, code in session.execute(
            select(Department.kind, Department.code)
            .where(Department.kind.in_(SPECIALIST_KINDS), Department.is_active)
            .order_by(Department.code.desc())  # the lowest code of a kind wins the dict
        )
    }
    categories = session.execute(
        select(Category.kind, Category.code, Category.department_type)
        .where(Category.level == "minor", Category.department_type.in_(list(specialists)))
        .where(Category.retired_at.is_(None))
        .order_by(Category.kind, Category.code)
    ).all()
    return [
        {
            "name": f"{category.department_type} {category.kind} {category.code} {street.code}",
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
            "name": f"street office {street.code}",
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
    return [{"name": "citywide fallback", "category": "*", "area": "citywide", "department": code}]
