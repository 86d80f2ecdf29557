"""Seeding helpers for event tests: a category, a department, users, cases on the test block."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Principal, Role
from events.lifecycle import CaseStatus
from events.models import Case, CaseTransition, Category, Report
from grid.models import GridCell
from tests.grid.places import CELL_NW, Place, centre_of, seed_block

# argon2 of "password-1", computed once: hashing per seeded user would slow every test down.
PASSWORD = "password-1"
PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$"
    "d/XWvhJ8IZL0E7p0d7i1bw$YKTYiGVj3VMPZ+01Im8h9+GL/HREhVshqUjKrLI/grU"
)


def add_category(
    session: Session,
    *,
    code: str = "0102",
    kind: str = "event",
    name_zh: str = "暴露垃圾",
    name_en: str = "Exposed garbage",
    limit_hours_normal: float = 4.0,
    limit_hours_urgent: float = 2.0,
    standard: str = "GB/T 30428.2-2013",
) -> Category:
    major = session.scalar(
        select(Category).where(
            Category.kind == kind, Category.code == code[:2], Category.standard == standard
        )
    )
    if major is None:
        major = Category(
            kind=kind,
            standard=standard,
            code=code[:2],
            level="major",
            name_zh=f"大类{code[:2]}",
            name_en=f"Major {code[:2]}",
        )
        session.add(major)
        session.flush()
    existing = session.scalar(
        select(Category).where(
            Category.kind == kind, Category.code == code, Category.standard == standard
        )
    )
    if existing is not None:  # the test database holds the shipped taxonomy
        return existing
    category = Category(
        kind=kind,
        standard=standard,
        code=code,
        level="minor",
        parent_id=major.id,
        name_zh=name_zh,
        name_en=name_en,
        limit_hours_normal=limit_hours_normal,
        limit_hours_urgent=limit_hours_urgent,
        department_type="sanitation",
    )
    session.add(category)
    session.flush()
    return category


def add_department(
    session: Session, *, code: str = "HW-01", kind: str = "sanitation"
) -> Department:
    department = Department(code=code, name=f"{kind} {code}", kind=kind)
    session.add(department)
    session.flush()
    return department


def add_user(
    session: Session,
    role: Role,
    *,
    username: str | None = None,
    department: Department | None = None,
) -> User:
    """A user whose password is PASSWORD; a department member gets a department if none given."""
    if role is Role.DEPARTMENT and department is None:
        department = add_department(session, code=f"D-{uuid.uuid4().hex[:6]}")
    user = User(
        username=username or f"{role}-{uuid.uuid4().hex[:6]}",
        display_name=str(role),
        password_hash=PASSWORD_HASH,
        role=role.value,
        department_id=department.id if department else None,
    )
    session.add(user)
    session.flush()
    return user


def principal_of(user: User) -> Principal:
    return user.principal()


def add_case(
    session: Session,
    *,
    category: Category,
    status: CaseStatus = CaseStatus.REPORTED,
    place: Place = CELL_NW,
    reporter: User | None = None,
    department: Department | None = None,
    description: str = "垃圾堆在路边 garbage by the road",
) -> Case:
    """A case on the test block (seeded if needed) with its first report and history row."""
    if session.scalar(select(func.count()).select_from(GridCell)) == 0:
        seed_block(session)
    lon, lat = centre_of(place)
    cell_id = session.scalar(select(GridCell.id).where(GridCell.code == place.code))
    assert cell_id is not None
    number = session.scalar(text("SELECT count(*) + 1 FROM event_case"))
    geom = from_shape(Point(lon, lat), srid=4326)
    case = Case(
        number=f"{datetime.now(UTC):%Y%m%d}-{900000 + int(number or 0):06d}",
        status=status.value,
        category_id=category.id,
        description=description,
        geom=geom,
        cell_id=cell_id,
        department_id=department.id if department else None,
        reported_by=reporter.id if reporter else None,
    )
    session.add(case)
    session.flush()
    session.add(
        Report(
            report_uuid=uuid.uuid4(),
            case_id=case.id,
            original_case_id=case.id,
            reporter_id=case.reported_by,
            geom=geom,
            description=description,
        )
    )
    session.add(
        CaseTransition(
            case_id=case.id,
            action="report",
            from_status=None,
            to_status=status.value,
            actor_id=case.reported_by,
            actor_role=reporter.role if reporter else None,
        )
    )
    session.flush()
    return case
