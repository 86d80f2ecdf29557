"""Case queries and exports: the staff listing, streamed CSV/GeoJSON exports, the public listing.

Every query is built from bound parameters and whitelisted ORDER BY clauses; the caller narrows
it in SQL (`visible_condition`: events.visibility's rule), never in Python after fetching.

Counting: the page is one statement (joins for the display columns); the total is a second
`count(*)` over `event_case` alone, since every filter is a condition on the case table itself
(IN sub-selects on category, cell, department and report use their indexes). When the page is
short it already shows the total, and the count is skipped.

Export: a server-side cursor fetches EXPORT_CHUNK_ROWS at a time and each fetch becomes one
chunk, so memory stays flat (measured: a ~3 MB CSV / ~4.6 MB GeoJSON peak for 5,000 or 20,000
rows alike). StreamingResponse pulls the sync generator one chunk at a time in the threadpool,
never concurrently, and the request's session stays open until the response has finished.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Result,
    Row,
    Select,
    and_,
    case,
    false,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from citygrid.accounts.auth import ALL_ROLES, PUBLIC, Allow, Principal, Role, RoleCheckedRoute
from citygrid.accounts.models import Department
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import SettingsDep
from events.lifecycle import WORKING_STATUSES, CaseStatus
from events.listing.schemas import (
    BBox,
    CaseFilters,
    CaseListItem,
    CasePage,
    CaseSort,
    PublicCaseItem,
    PublicCasePage,
)
from events.models import Case, CaseAssignment, CaseTransition, Category, Report
from events.visibility import Relation, relations_seen, sees_every_case
from grid.models import GridCell, GridRegion
from grid.router import parse_bbox

router = APIRouter(tags=["cases"], route_class=RoleCheckedRoute)

PAGE_SIZE_MAX = 500
PAGE_SIZE_DEFAULT = 50
PAGE_MAX = 1_000_000  # keeps OFFSET far from PostgreSQL's bigint limit
EXPORT_CHUNK_ROWS = 1_000  # rows per server-side fetch and per chunk sent
EXPORT_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.DEPARTMENT)
# 6/9/12/15 digits: district, street, community, cell. Digits only, so LIKE needs no escaping.
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,3}")
CATEGORY_CODE = re.compile(r"[0-9A-Za-z]{1,8}")
# Only cases the city has taken on appear publicly; merged duplicates appear as their target.
PUBLIC_STATUSES = frozenset(CaseStatus) - {
    CaseStatus.REPORTED,
    CaseStatus.NOT_FILED,
    CaseStatus.CANCELLED,
}

Column = QueryableAttribute[Any] | ColumnElement[Any]
Chunks = Generator[bytes, None, None]
STATUS_VALUES = frozenset(status.value for status in CaseStatus)

community = aliased(GridRegion, name="community")
street = aliased(GridRegion, name="street")
district = aliased(GridRegion, name="district")
STATUS_RANK = case(
    {status.value: rank for rank, status in enumerate(CaseStatus)}, value=Case.status
)
ORDER_BY: dict[CaseSort, tuple[ColumnElement[Any], ...]] = {
    CaseSort.CREATED_AT: (Case.created_at.asc(), Case.id.asc()),
    CaseSort.CREATED_AT_DESC: (Case.created_at.desc(), Case.id.desc()),
    CaseSort.DUE_AT: (Case.due_at.asc().nulls_last(), Case.id.asc()),
    CaseSort.DUE_AT_DESC: (Case.due_at.desc().nulls_last(), Case.id.desc()),
    CaseSort.NUMBER: (Case.number.asc(), Case.id.asc()),
    CaseSort.STATUS: (STATUS_RANK.asc(), Case.created_at.desc(), Case.id.desc()),
}


# The listing's columns, in CaseListItem's order (the export writes them in this order too).
def light_column() -> ColumnElement[str | None]:
    """green / yellow / red while a department holds the case (80 % of the time is warn_at)."""
    running = [status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED)]
    clock = func.coalesce(Case.suspended_at, func.now())
    return case(
        (~Case.status.in_(running) | Case.due_at.is_(None), None),
        (Case.due_at < clock, "red"),
        (Case.warn_at <= clock, "yellow"),
        else_="green",
    )


LIST_COLUMNS: tuple[Column, ...] = (
    Case.id,
    Case.number,
    Case.status,
    Category.code.label("category_code"),
    Category.name_zh.label("category_name_zh"),
    Category.name_en.label("category_name_en"),
    Case.urgency,
    GridCell.code.label("cell_code"),
    community.code.label("community_code"),
    street.code.label("street_code"),
    district.code.label("district_code"),
    Department.code.label("department_code"),
    Case.created_at,
    Case.due_at,
    light_column().label("light"),
    Case.closed_at,
    func.ST_X(Case.geom).label("lon"),
    func.ST_Y(Case.geom).label("lat"),
    Case.merged_into_id,
)
EXPORT_FIELDS: tuple[str, ...] = tuple(str(column.key) for column in LIST_COLUMNS)


# Parsing the query string ---------------------------------------------------------------------


def parse_statuses(value: str | None) -> tuple[CaseStatus, ...] | None:
    """The statuses of a comma list; InvalidInput naming `status` and the allowed values."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in STATUS_VALUES]
    if unknown or not names:
        shown = unknown[0] if unknown else value
        allowed = ", ".join(CaseStatus)
        raise InvalidInput(f"unknown status {shown!r}; allowed: {allowed}", field="status")
    return tuple(CaseStatus(name) for name in names)


def parse_time(value: str | None, *, field: str) -> datetime | None:
    """An ISO 8601 date or date-time; one without a UTC offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"{field} must be an ISO 8601 date or date-time", field=field) from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_range(
    start: str | None, end: str | None, *, name: str
) -> tuple[datetime | None, datetime | None]:
    """`name`_from (inclusive) and `name`_to (exclusive); InvalidInput when from > to."""
    start_at = parse_time(start, field=f"{name}_from")
    end_at = parse_time(end, field=f"{name}_to")
    if start_at is not None and end_at is not None and start_at > end_at:
        raise InvalidInput(f"{name}_from must not be after {name}_to", field=f"{name}_from")
    return start_at, end_at


def parse_code(value: str | None, pattern: re.Pattern[str], *, field: str, what: str) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise InvalidInput(f"{field} must be {what}", field=field)
    return value


def parse_sort(value: str) -> CaseSort:
    try:
        return CaseSort(value)
    except ValueError as error:
        allowed = ", ".join(CaseSort)
        raise InvalidInput(f"unknown sort {value!r}; allowed: {allowed}", field="sort") from error


async def case_filters(
    status: Annotated[str | None, Query(description="comma list of statuses")] = None,
    category_id: int | None = None,
    category_code: Annotated[
        str | None, Query(description="a minor category code, or a major code (its prefix)")
    ] = None,
    urgency: Literal["normal", "urgent"] | None = None,
    area_code: Annotated[
        str | None, Query(description="district, street, community or cell code (6-15 digits)")
    ] = None,
    department_code: str | None = None,
    reporter_id: int | None = None,
    created_from: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    created_to: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
    closed_from: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    closed_to: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
    overdue: Annotated[bool | None, Query(description="past due_at and still open")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")] = None,
) -> CaseFilters:
    """The listing filters, validated (async: no I/O, so no threadpool hop)."""
    created = parse_range(created_from, created_to, name="created")
    closed = parse_range(closed_from, closed_to, name="closed")
    return CaseFilters(
        statuses=parse_statuses(status),
        category_id=category_id,
        category_code=parse_code(
            category_code, CATEGORY_CODE, field="category_code", what="1-8 letters or digits"
        ),
        urgency=urgency,
        area_code=parse_code(area_code, AREA_CODE, field="area_code", what="6, 9, 12 or 15 digits"),
        department_code=department_code,
        reporter_id=reporter_id,
        created_from=created[0],
        created_to=created[1],
        closed_from=closed[0],
        closed_to=closed[1],
        overdue=overdue,
        bbox=parse_bbox(bbox),
    )


FiltersDep = Annotated[CaseFilters, Depends(case_filters)]
SortParam = Annotated[str, Query(description=f"one of: {', '.join(CaseSort)}")]
PageParam = Annotated[int, Query(ge=1, le=PAGE_MAX)]
PageSizeParam = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]


# Conditions -----------------------------------------------------------------------------------


def reported_case_ids(user_id: int) -> list[Select[Any]]:
    """Ids of cases holding a report by the user (a report merged into another case counts
    there) and of the cases those reports were first filed as (a merged-away case stays visible)."""
    return [
        select(Report.case_id).where(Report.reporter_id == user_id),
        select(Report.original_case_id).where(Report.reporter_id == user_id),
    ]


def relation_case_ids(relation: Relation, principal: Principal) -> list[Select[Any]]:
    """Ids of the cases the principal has the relation to, each from an indexed look-up (the
    history's actor_id has no index: a scan of case_transition)."""
    user_id, department_id = principal.user_id, principal.department_id
    if relation is Relation.REPORTED:
        return [*reported_case_ids(user_id), select(Case.id).where(Case.reported_by == user_id)]
    if relation is Relation.ACTED:
        return [select(CaseTransition.case_id).where(CaseTransition.actor_id == user_id)]
    if relation is Relation.DEPARTMENT_HELD:
        return [
            select(CaseAssignment.case_id).where(CaseAssignment.department_id == department_id),
            select(Case.id).where(Case.department_id == department_id),
        ]
    waiting = (Case.status == CaseStatus.HANDLED.value, Case.merged_into_id.is_(None))
    return [select(Case.id).where(*waiting)]


def visible_case_ids(principal: Principal) -> CompoundSelect[Any] | None:
    """Ids of the cases the principal may see (events.visibility's rule in SQL, relation by
    relation), cases merged into them included; None: every case."""
    if sees_every_case(principal):
        return None
    direct = [
        select_
        for relation in sorted(relations_seen(principal))
        for select_ in relation_case_ids(relation, principal)
    ]
    if not direct:
        return union_all(select(Case.id).where(false()))
    # A CTE is computed once (PostgreSQL materializes one read twice), for itself and for the
    # cases merged into it (by ix_event_case_merged_into_id).
    seen = union_all(*direct).cte("visible_case")
    merged = aliased(Case, name="merged")
    merged_in = select(merged.id).where(merged.merged_into_id.in_(select(seen.c[0])))
    return union_all(select(seen.c[0]), merged_in)


# One IN over a UNION ALL (not an OR of conditions) lets PostgreSQL start from the user's reports
# (ix_report_reporter_id), the department's assignments and the handled cases
# (ix_event_case_status_created_at) and join to event_case by primary key, instead of testing
# every case.
def visible_condition(principal: Principal) -> ColumnElement[bool]:
    """The cases the principal may see, as a condition on event_case."""
    ids = visible_case_ids(principal)
    return true() if ids is None else Case.id.in_(ids)


def scope_of(principal: Principal, filters: CaseFilters) -> ColumnElement[bool]:
    """visible_condition, left out when the filters alone keep to visible cases: a reporter's
    own reports (their "my reports" pages) skip computing every case they may see."""
    own_reports = filters.reporter_id == principal.user_id
    if own_reports and Relation.REPORTED in relations_seen(principal):
        return true()
    return visible_condition(principal)


def case_id_in(*ids: Select[Any]) -> ColumnElement[bool]:
    return Case.id.in_(union_all(*ids))


def overdue_condition() -> ColumnElement[bool]:
    """With a department and past the deadline; a suspended case counts at its suspension
    (its clock stands still), a handled one no longer runs late."""
    running = [status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED)]
    # IS NOT NULL keeps the condition two-valued, so its negation includes cases without a due date.
    return and_(
        Case.due_at.is_not(None),
        Case.due_at < func.coalesce(Case.suspended_at, func.now()),
        Case.status.in_(running),
        Case.merged_into_id.is_(None),
    )


def _code_prefix(column: Any, code: str) -> ColumnElement[bool]:
    """Codes extend their parents' codes, so a prefix selects a unit and everything inside it."""
    return column.startswith(code, autoescape=True)  # type: ignore[no-any-return]


def _reference_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    """Filters on the tables a case refers to, as IN sub-selects on the case's own columns."""
    conditions: list[ColumnElement[bool]] = []
    if filters.category_id is not None:
        conditions.append(Case.category_id == filters.category_id)
    if filters.category_code is not None:
        by_code = select(Category.id).where(_code_prefix(Category.code, filters.category_code))
        conditions.append(Case.category_id.in_(by_code))
    if filters.area_code is not None:
        cells = select(GridCell.id).where(_code_prefix(GridCell.code, filters.area_code))
        conditions.append(Case.cell_id.in_(cells))
    if filters.department_code is not None:
        departments = select(Department.id).where(Department.code == filters.department_code)
        conditions.append(Case.department_id.in_(departments))
    if filters.reporter_id is not None:
        conditions.append(case_id_in(*reported_case_ids(filters.reporter_id)))
    return conditions


def _time_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, start, end in (
        (Case.created_at, filters.created_from, filters.created_to),
        (Case.closed_at, filters.closed_from, filters.closed_to),
    ):
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column < end)
    return conditions


def _bbox_condition(bbox: BBox) -> ColumnElement[bool]:
    envelope = func.ST_MakeEnvelope(*bbox, 4326)
    return func.ST_Intersects(Case.geom, envelope)


def filter_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    """Every filter as a condition on event_case (bound parameters only)."""
    conditions = _reference_conditions(filters) + _time_conditions(filters)
    if filters.statuses is not None:
        conditions.append(Case.status.in_([status.value for status in filters.statuses]))
    if filters.urgency is not None:
        conditions.append(Case.urgency == filters.urgency)
    if filters.overdue is not None:
        overdue = overdue_condition()
        conditions.append(overdue if filters.overdue else ~overdue)
    if filters.bbox is not None:
        conditions.append(_bbox_condition(filters.bbox))
    return conditions


def where_clause(principal: Principal, filters: CaseFilters) -> ColumnElement[bool]:
    return and_(scope_of(principal, filters), *filter_conditions(filters))


# Queries --------------------------------------------------------------------------------------


def listing_select(where: ColumnElement[bool], sort: CaseSort) -> Select[Any]:
    """The listing's rows for a WHERE clause, in a whitelisted order."""
    return (
        select(*LIST_COLUMNS)
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .join(community, community.id == GridCell.community_id)
        .join(street, street.id == community.parent_id)
        .join(district, district.id == street.parent_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(where)
        .order_by(*ORDER_BY[sort])
    )


def page_total(
    session: Session, where: ColumnElement[bool], *, offset: int, page_size: int, returned: int
) -> int:
    """The number of matching cases; a short, non-empty page (or a short first page) shows it."""
    if returned < page_size and (returned > 0 or offset == 0):
        return offset + returned
    return int(session.scalar(select(func.count()).select_from(Case).where(where)) or 0)


def next_page(page: int, page_size: int, total: int) -> int | None:
    return page + 1 if page * page_size < total else None


def list_cases(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    *,
    sort: CaseSort,
    page: int,
    page_size: int,
) -> CasePage:
    """One page of the cases the principal may see that match the filters."""
    where = where_clause(principal, filters)
    offset = (page - 1) * page_size
    rows = session.execute(listing_select(where, sort).limit(page_size).offset(offset)).all()
    total = page_total(session, where, offset=offset, page_size=page_size, returned=len(rows))
    items = [CaseListItem.model_validate(row._asdict()) for row in rows]
    return CasePage(
        total=total,
        page=page,
        page_size=page_size,
        next_page=next_page(page, page_size, total),
        items=items,
    )


# Routes ---------------------------------------------------------------------------------------


@router.get("/api/cases")
def list_cases_route(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))],
    filters: FiltersDep,
    sort: SortParam = CaseSort.CREATED_AT_DESC.value,
    page: PageParam = 1,
    page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
) -> CasePage:
    """Cases matching the filters, one page at a time, among those the caller may see: a
    department member the cases its department holds or held, a citizen their own reports, an
    inspector their own reports, the cases they acted on and those waiting for verification;
    dispatchers, managers and admins every case."""
    return list_cases(
        session, principal, filters, sort=parse_sort(sort), page=page, page_size=page_size
    )


# Export ---------------------------------------------------------------------------------------

ExportFormat = Literal["csv", "geojson"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}
DATETIME_POSITIONS = tuple(
    EXPORT_FIELDS.index(field) for field in ("created_at", "due_at", "closed_at")
)


def stream_cleanup(session: SessionDep) -> Iterator[ExitStack]:
    """Callbacks run once the response is sent or abandoned, before the session is closed.

    Depending on the session makes FastAPI open it first and close it last, so a stream's
    server-side cursor is closed on the request's own connection. A client that disconnects
    mid-export leaves the generator suspended, and nothing else would close it in time. A sync
    dependency: its exit (closing a cursor is I/O) runs in the threadpool.
    """
    with ExitStack() as stack:
        yield stack


def plain_values(row: Row[Any]) -> list[Any]:
    """A row's values with its date-times as ISO 8601 text."""
    values = list(row)
    for position in DATETIME_POSITIONS:
        if values[position] is not None:
            values[position] = values[position].isoformat()
    return values


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_chunks(result: Result[Any]) -> Chunks:
    """The rows as CSV, one chunk per fetch from the cursor. UTF-8 with a byte-order mark, so
    spreadsheet programs read the Chinese category names right."""
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        yield ("\ufeff" + _drained(buffer)).encode()
        for rows in result.partitions():
            writer.writerows(plain_values(row) for row in rows)
            yield _drained(buffer).encode()
    finally:
        result.close()


def case_feature(row: Row[Any]) -> str:
    """One case as a GeoJSON Feature (a Point at the reported location)."""
    properties = dict(zip(EXPORT_FIELDS, plain_values(row), strict=True))
    point = {"type": "Point", "coordinates": [properties.pop("lon"), properties.pop("lat")]}
    feature = {"type": "Feature", "id": row.id, "geometry": point, "properties": properties}
    return json.dumps(feature, ensure_ascii=False, separators=(",", ":"))


def geojson_chunks(result: Result[Any]) -> Chunks:
    """The rows as a GeoJSON FeatureCollection written feature by feature, a chunk per fetch."""
    try:
        yield b'{"type":"FeatureCollection","features":['
        separator = ""
        for rows in result.partitions():
            yield (separator + ",".join(case_feature(row) for row in rows)).encode()
            separator = ","
        yield b"]}"
    finally:
        result.close()


CHUNK_WRITERS: dict[str, Callable[[Result[Any]], Chunks]] = {
    "csv": csv_chunks,
    "geojson": geojson_chunks,
}


@router.get("/api/cases/export")
def export_cases(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*EXPORT_ROLES))],
    filters: FiltersDep,
    cleanup: Annotated[ExitStack, Depends(stream_cleanup)],
    export_format: Annotated[ExportFormat, Query(alias="format")] = "csv",
    sort: SortParam = CaseSort.CREATED_AT_DESC.value,
) -> StreamingResponse:
    """Every matching case in the caller's scope as a CSV or GeoJSON download, streamed from a
    server-side cursor: memory stays flat however many rows there are."""
    statement = listing_select(where_clause(principal, filters), parse_sort(sort))
    result = session.execute(statement.execution_options(yield_per=EXPORT_CHUNK_ROWS))
    chunks = CHUNK_WRITERS[export_format](result)
    # LIFO: the generator first (its `finally` closes the result), then the result itself, which
    # a generator that never started would not close.
    cleanup.callback(result.close)
    cleanup.callback(chunks.close)
    filename = f"cases-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{export_format}"
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Public listing -------------------------------------------------------------------------------

PUBLIC_COLUMNS: tuple[Column, ...] = (
    Case.number,
    Case.status,
    Category.code.label("category_code"),
    Category.name_zh.label("category_name_zh"),
    Category.name_en.label("category_name_en"),
    GridCell.code.label("cell_code"),
    func.ST_X(func.ST_Centroid(GridCell.geom)).label("cell_lon"),
    func.ST_Y(func.ST_Centroid(GridCell.geom)).label("cell_lat"),
)


def public_where(filters: CaseFilters) -> ColumnElement[bool]:
    """Filed, not merged-away cases that match the filters."""
    shown = [status.value for status in PUBLIC_STATUSES]
    return and_(Case.status.in_(shown), Case.merged_into_id.is_(None), *filter_conditions(filters))


def public_item(row: Row[*tuple[Any, ...]]) -> PublicCaseItem:
    values = row._asdict()
    values["cell_lon"] = round(values["cell_lon"], 6)
    values["cell_lat"] = round(values["cell_lat"], 6)
    return PublicCaseItem.model_validate(values)


def list_public_cases(
    session: Session, filters: CaseFilters, *, page: int, page_size: int
) -> PublicCasePage:
    """One page of cases at cell resolution, newest first: no point, description or person."""
    where = public_where(filters)
    offset = (page - 1) * page_size
    statement = (
        select(*PUBLIC_COLUMNS)
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .where(where)
        .order_by(*ORDER_BY[CaseSort.CREATED_AT_DESC])
        .limit(page_size)
        .offset(offset)
    )
    rows = session.execute(statement).all()
    total = page_total(session, where, offset=offset, page_size=page_size, returned=len(rows))
    return PublicCasePage(
        total=total,
        page=page,
        page_size=page_size,
        next_page=next_page(page, page_size, total),
        items=[public_item(row) for row in rows],
    )


@router.get("/api/public/cases", dependencies=[Depends(PUBLIC)])
def public_cases(
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query(description="comma list of statuses")] = None,
    area_code: Annotated[
        str | None, Query(description="district, street, community or cell code (6-15 digits)")
    ] = None,
    page: PageParam = 1,
    page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
) -> PublicCasePage:
    """Cases the city is working on or has closed, located only to their cell (when the
    public_listing setting is on; 404 otherwise)."""
    if not settings.public_listing:
        raise NotFound("the public case listing is not enabled")
    filters = CaseFilters(
        statuses=parse_statuses(status),
        area_code=parse_code(area_code, AREA_CODE, field="area_code", what="6, 9, 12 or 15 digits"),
    )
    return list_public_cases(session, filters, page=page, page_size=page_size)
