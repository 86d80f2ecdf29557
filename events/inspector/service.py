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
from events.listing.schemas import CaseFilters, CasePage, CaseSort
from events.listing.search import SearchTerms
from events.models import Case, CasePhoto, CaseTransition, Category
from grid.models import GridCell, GridRegion

MY_REPORTS_SHOWN = 30  # a phone's page; the next page is a tap away
TASKS_SHOWN = 20


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


def my_reports(
    session: Session, principal: Principal, search: SearchTerms | None, after: str | None
) -> CasePage:
    """A page of the cases the user reported (merged ones as their own), newest first."""
    filters = CaseFilters(reporter_id=principal.user_id, search=search)
    return listing.list_cases(
        session,
        principal,
        filters,
        sort=CaseSort.CREATED_AT_DESC,
        page_size=MY_REPORTS_SHOWN,
        after=after,
    )


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


def verification_tasks(
    session: Session,
    principal: Principal,
    search: SearchTerms | None,
    *,
    sort: CaseSort,
    after: str | None,
) -> tuple[CasePage, list[VerificationTask]]:
    """A page of the cases handled and waiting for on-site verification (any inspector may
    verify any one, as events.lifecycle says), newest or oldest first, searchable like every
    list; with the department's last handling note and the photos it attached."""
    filters = CaseFilters(statuses=(CaseStatus.HANDLED,), search=search)
    page = listing.list_cases(
        session, principal, filters, sort=sort, page_size=TASKS_SHOWN, after=after
    )
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
        .where(*WAITING_FOR_VERIFICATION, Case.id.in_([item.id for item in page.items]))
    )
    by_id = {row.case_id: row for row in session.execute(query)}
    tasks = [
        VerificationTask(**{**row._asdict(), "photo_ids": row.photo_ids or []})
        for item in page.items
        if (row := by_id.get(item.id)) is not None
    ]
    return page, tasks
