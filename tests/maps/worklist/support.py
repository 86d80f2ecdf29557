"""The work-list map tests' world: the 20×20 test city (tests/maps/city.py) with ten cases in
three cells, held by two departments or by none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from events.models import Case
from tests.conftest import token_for
from tests.events.seed import add_department
from tests.maps.city import add_cases, seed_city, two_minor_categories

GREEN_CELL = (0, 0)  # west street: five cases department A holds, due tomorrow
RED_CELL = (0, 15)  # east street: two cases department B holds, overdue
WAITING_CELL = (5, 5)  # west street: three reported cases, no department, no light
CREATED_AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    departments: dict[str, Department]
    category_ids: tuple[int, int]  # green and waiting cases' category, the red ones'
    category_codes: tuple[str, str]

    def headers(self, role: Role, department: str | None = None) -> dict[str, str]:
        department_id = self.departments[department].id if department else None
        return {"Authorization": f"Bearer {token_for(role, department_id=department_id)}"}


def seed_world(session: Session) -> World:
    seed_city(session)
    (first_id, first_code, _), (second_id, second_code, _) = two_minor_categories(session)
    departments = {
        "A": add_department(session, code="MAP-A"),
        "B": add_department(session, code="MAP-B", kind="greening"),
    }
    now = datetime.now(UTC)
    add_cases(
        session,
        {GREEN_CELL: 5},
        created_at=CREATED_AT,
        category_id=first_id,
        status="dispatched",
        department_id=departments["A"].id,
        due_at=now + timedelta(days=1),
    )
    add_cases(
        session,
        {RED_CELL: 2},
        created_at=CREATED_AT,
        category_id=second_id,
        status="accepted",
        urgency="urgent",
        department_id=departments["B"].id,
        due_at=now - timedelta(hours=3),
    )
    add_cases(session, {WAITING_CELL: 3}, created_at=CREATED_AT, category_id=first_id)
    session.flush()
    return World(departments, (first_id, second_id), (first_code, second_code))


def case_ids(session: Session, department: Department) -> set[int]:
    return set(session.scalars(select(Case.id).where(Case.department_id == department.id)))
