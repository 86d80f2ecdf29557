"""What the inspector pages show: the grid's centre, the user's reports, verification tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import LateralFromClause

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from events.lifecycle import CaseAction, CaseStatus
from events.listing import service as listing
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort
from events.models import Case, CasePhoto, CaseTransition, Category
from grid.models import GridCell, GridRegion

MY_REPORTS_SHOWN = 100
TASKS_SHOWN = 50  # a phone's page: the longest-waiting ones; verified ones make room


def grid_centre(session: Session) -> tuple[float, float] | None:
    """(lon, lat) of the middle of the managed area, from its districts; None without a grid."""
    box = (
        select(func.ST_Extent(GridRegion.geom).label("box"))
        .where(GridRegion.level == "district")
        .subquery()
    )
    corners = select(
        func.ST_XMin(box.c.box),
        func.ST_YMin(box.c.box),
        func.ST_XMax(box.c.box),
        func.ST_YMax(box.c.box),
    )
    west, south, east, north = session.execute(corners).one()
    if west is None:
        return None
    return (west + east) / 2, (south + north) / 2


def my_reports(session: Session, principal: Principal) -> list[CaseListItem]:
    """The cases the user reported (merged ones as their own), newest first."""
    filters = CaseFilters(reporter_id=principal.user_id)
    page = listing.list_cases(
        session,
        principal,
        filters,
        sort=CaseSort.CREATED_AT_DESC,
        page=1,
        page_size=MY_REPORTS_SHOWN,
    )
    return page.items


@dataclass(frozen=True)
class VerificationTask:
    """A handled case waiting for an inspector, with what the department said it did."""

    case_id: int
    number: str
    version: int
    category_name_zh: str
    category_name_en: str
    cell_code: str
    address: str | None
    description: str
    department_name: str | None
    handled_at: datetime | None
    feedback: str | None
    photo_ids: list[int]


WAITING_FOR_VERIFICATION = (Case.status == CaseStatus.HANDLED.value, Case.merged_into_id.is_(None))


def tasks_waiting(session: Session) -> int:
    """How many cases wait for verification in all."""
    count = session.scalar(select(func.count()).where(*WAITING_FOR_VERIFICATION))
    return int(count or 0)


def last_handling() -> LateralFromClause:
    """Per case (correlated, LATERAL): the id and note of the department's last handling."""
    handling = aliased(CaseTransition)
    return (
        select(handling.id, handling.reason)
        .where(handling.case_id == Case.id, handling.action == CaseAction.HANDLE.value)
        .order_by(handling.at.desc(), handling.id.desc())
        .limit(1)
        .lateral("last_handling")
    )


def verification_tasks(session: Session) -> list[VerificationTask]:
    """Cases handled and waiting for on-site verification (any inspector may verify any one, as
    events.lifecycle says), oldest handling first, with the department's last handling note
    and the photos it attached: one statement."""
    handling = last_handling()
    photo_ids = (
        select(func.array_agg(aggregate_order_by(CasePhoto.id, CasePhoto.id)))
        .where(CasePhoto.transition_id == handling.c.id)
        .scalar_subquery()
    )
    query = (
        select(
            Case.id.label("case_id"),
            Case.number,
            Case.version,
            Category.name_zh.label("category_name_zh"),
            Category.name_en.label("category_name_en"),
            GridCell.code.label("cell_code"),
            Case.address,
            Case.description,
            Department.name.label("department_name"),
            Case.handled_at,
            handling.c.reason.label("feedback"),
            photo_ids.label("photo_ids"),
        )
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(handling, true())
        .where(*WAITING_FOR_VERIFICATION)
        .order_by(Case.handled_at.asc().nulls_last(), Case.id)
        .limit(TASKS_SHOWN)
    )
    rows = session.execute(query).all()
    return [VerificationTask(**{**row._asdict(), "photo_ids": row.photo_ids or []}) for row in rows]


def waiting_count(session: Session, shown: list[VerificationTask]) -> int:
    """How many cases wait for verification in all: those shown, unless the list is full."""
    return tasks_waiting(session) if len(shown) == TASKS_SHOWN else len(shown)
