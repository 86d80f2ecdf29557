"""The listing tests' world: six cases in every status the listings tell apart, the people
who see them, and a second street east of the test block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from events.lifecycle import CaseStatus
from events.models import Case, Category
from grid.models import GridCell
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    DISTRICT,
    ORIGIN_LAT,
    ORIGIN_LON,
    Place,
    add_cell,
    add_region,
    rectangle_wkt,
    seed_block,
)

# A second street east of the test block, with one community and one cell.
STREET_EAST = Place("110101002", "东四街道")
COMMUNITY_EAST = Place("110101002001", "东四社区")
CELL_EAST = Place("110101002001001", "东四一号网格")
EAST_WEST_EDGE = ORIGIN_LON + 0.002
EAST_CELL_WKT = rectangle_wkt(
    EAST_WEST_EDGE, ORIGIN_LAT, EAST_WEST_EDGE + 0.001, ORIGIN_LAT + 0.001
)
EAST_POINT = (EAST_WEST_EDGE + 0.0005, ORIGIN_LAT + 0.0005)
TEST_STANDARD = "listing-test"  # beside the taxonomy the test database loads
ALL = ("c1", "c2", "c3", "c4", "c5", "c6")

NE_OF_ORIGIN = f"{ORIGIN_LON + 0.0001},{ORIGIN_LAT + 0.0001}"

Headers = dict[str, str]


@dataclass
class World:
    cases: dict[str, Case]
    users: dict[str, User]
    departments: dict[str, Department]
    categories: dict[str, Category]

    def headers(self, name: str) -> Headers:
        user = self.users[name]
        token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
        return {"Authorization": f"Bearer {token}"}

    def names(self, body: dict[str, Any]) -> list[str]:
        """The world's names of the listed cases, in the listed order."""
        by_id = {case.id: name for name, case in self.cases.items()}
        return [by_id[item["id"]] for item in body["items"]]


def at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, 8, 0, tzinfo=UTC)


def add_east_street(session: Session) -> int:
    """The second street, community and cell; the cell's id."""
    add_region(session, level="street", place=STREET_EAST, wkt=EAST_CELL_WKT, parent=DISTRICT)
    add_region(
        session, level="community", place=COMMUNITY_EAST, wkt=EAST_CELL_WKT, parent=STREET_EAST
    )
    add_cell(session, place=CELL_EAST, wkt=EAST_CELL_WKT, community=COMMUNITY_EAST)
    cell_id = session.scalar(select(GridCell.id).where(GridCell.code == CELL_EAST.code))
    assert cell_id is not None
    return cell_id


def merge(session: Session, source: Case, *, into: Case) -> None:
    """Move the source's reports to the target, as merging duplicates does."""
    session.execute(
        text("UPDATE report SET case_id = :target WHERE case_id = :source"),
        {"target": into.id, "source": source.id},
    )
    source.merged_into_id = into.id
    source.status = CaseStatus.CANCELLED.value


def seed_people(session: Session) -> tuple[dict[str, User], dict[str, Department]]:
    departments = {
        "A": add_department(session, code="HW-A"),
        "B": add_department(session, code="HW-B", kind="greening"),
    }
    users = {
        "citizen1": add_user(session, Role.CITIZEN),
        "citizen2": add_user(session, Role.CITIZEN),
        "inspector": add_user(session, Role.INSPECTOR),
        "member_a": add_user(session, Role.DEPARTMENT, department=departments["A"]),
        "member_b": add_user(session, Role.DEPARTMENT, department=departments["B"]),
        "dispatcher": add_user(session, Role.DISPATCHER),
        "manager": add_user(session, Role.MANAGER),
        "admin": add_user(session, Role.ADMIN),
    }
    return users, departments


def seed_world(session: Session) -> World:
    """Six cases: c1 reported (citizen1, NW); c2 dispatched to A, urgent and overdue (citizen2,
    NE, holding citizen1's merged report from c5); c3 handled by B after its deadline (citizen2,
    SW); c4 closed by A (citizen1, SE); c5 merged into c2; c6 filed (inspector, the east street)."""
    seed_block(session)
    east_cell_id = add_east_street(session)
    users, departments = seed_people(session)
    garbage = add_category(session, code="0102", standard=TEST_STANDARD)
    manhole = add_category(
        session, code="0201", name_zh="井盖", name_en="Manhole cover", standard=TEST_STANDARD
    )
    cases = {
        "c1": add_case(session, category=garbage, reporter=users["citizen1"], place=CELL_NW),
        "c2": add_case(
            session,
            category=garbage,
            status=CaseStatus.DISPATCHED,
            reporter=users["citizen2"],
            department=departments["A"],
            place=CELL_NE,
        ),
        "c3": add_case(
            session,
            category=manhole,
            status=CaseStatus.HANDLED,
            reporter=users["citizen2"],
            department=departments["B"],
            place=CELL_SW,
        ),
        "c4": add_case(
            session,
            category=manhole,
            status=CaseStatus.CLOSED,
            reporter=users["citizen1"],
            department=departments["A"],
            place=CELL_SE,
        ),
        "c5": add_case(session, category=garbage, reporter=users["citizen1"], place=CELL_NE),
        "c6": add_case(
            session, category=manhole, status=CaseStatus.FILED, reporter=users["inspector"]
        ),
    }
    for month, case in enumerate(cases.values(), start=1):
        case.created_at = at(month)
    cases["c2"].urgency = "urgent"
    cases["c2"].due_at = datetime.now(UTC) - timedelta(hours=1)
    cases["c3"].due_at = datetime.now(UTC) - timedelta(hours=2)
    cases["c4"].due_at = at(4, 2)
    cases["c4"].closed_at = at(4, 3)
    cases["c6"].due_at = datetime.now(UTC) + timedelta(days=1)
    cases["c6"].cell_id = east_cell_id
    cases["c6"].geom = from_shape(Point(*EAST_POINT), srid=4326)
    merge(session, cases["c5"], into=cases["c2"])
    session.flush()
    return World(cases, users, departments, {"garbage": garbage, "manhole": manhole})
