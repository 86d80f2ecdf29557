"""The listing's query string: filters, sort and paging, parsed and checked.

Each parser raises InvalidInput naming the parameter and what it accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_type_hints

from fastapi import Depends, Query
from pydantic import TypeAdapter, ValidationError

from citygrid.api_types import AreaCode, BBoxText, CategoryCode, IsoDateTime, RowId, text_matching
from citygrid.api_types import comma_list_of as comma_list_pattern
from citygrid.errors import InvalidInput
from events.lifecycle import CaseStatus
from events.listing.schemas import CaseFilters, CaseSort
from events.listing.search import SEARCH_MAX_CHARS, parse_search
from grid.bbox import parse_bbox

PAGE_SIZE_MAX = 500
PAGE_SIZE_DEFAULT = 50
PAGE_MAX = 1_000_000  # keeps OFFSET far from PostgreSQL's bigint limit
# A comma list of statuses ("filed,dispatched"), as its declaration says.
StatusList = Annotated[
    str,
    *text_matching(
        comma_list_pattern([status.value for status in CaseStatus]),
        f"statuses separated by commas; allowed: {', '.join(CaseStatus)}",
    ),
]


def parse_statuses(value: str | None) -> tuple[CaseStatus, ...] | None:
    """The statuses of a comma list its declaration (StatusList) has checked."""
    if value is None:
        return None
    return tuple(CaseStatus(name.strip()) for name in value.split(","))


def parse_time(value: str | None, *, field: str) -> datetime | None:
    """An ISO 8601 date or date-time; one without a UTC offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"{field} must be an ISO 8601 date or date-time", field=field) from error
    return as_utc(parsed)


def as_utc(moment: datetime | None) -> datetime | None:
    """`moment` with UTC as its zone when it has none."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def parse_range(
    start: datetime | None, end: datetime | None, *, name: str
) -> tuple[datetime | None, datetime | None]:
    """`name`_from (inclusive) and `name`_to (exclusive), in UTC when they name no zone;
    InvalidInput when from > to (which no schema can say)."""
    start_at, end_at = as_utc(start), as_utc(end)
    if start_at is not None and end_at is not None and start_at > end_at:
        raise InvalidInput(f"{name}_from must not be after {name}_to", field=f"{name}_from")
    return start_at, end_at


def parse_sort(value: str) -> CaseSort:
    """A sort order from a page's form (the API declares its parameter as a CaseSort)."""
    try:
        return CaseSort(value)
    except ValueError as error:
        allowed = ", ".join(CaseSort)
        raise InvalidInput(f"unknown sort {value!r}; allowed: {allowed}", field="sort") from error


async def case_filters(
    status: Annotated[StatusList | None, Query(description="comma list of statuses")] = None,
    category_id: RowId | None = None,
    category_code: Annotated[
        CategoryCode | None,
        Query(description="a minor category code, or a major code (its prefix)"),
    ] = None,
    urgency: Literal["normal", "urgent"] | None = None,
    area_code: Annotated[
        AreaCode | None,
        Query(description="district, street, community or cell code (6, 9, 12 or 15 digits)"),
    ] = None,
    department_code: Annotated[str | None, Query(max_length=32)] = None,
    reporter_id: RowId | None = None,
    created_from: Annotated[IsoDateTime | None, Query(description="ISO 8601, inclusive")] = None,
    created_to: Annotated[IsoDateTime | None, Query(description="ISO 8601, exclusive")] = None,
    closed_from: Annotated[IsoDateTime | None, Query(description="ISO 8601, inclusive")] = None,
    closed_to: Annotated[IsoDateTime | None, Query(description="ISO 8601, exclusive")] = None,
    overdue: Annotated[bool | None, Query(description="past due_at and still open")] = None,
    bbox: Annotated[
        BBoxText | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=SEARCH_MAX_CHARS,
            description="search: case number, report UUID, cell/area code, category code or "
            "name, or words of the address or description",
        ),
    ] = None,
    light: Literal["red", "yellow", "green"] | None = None,
    channel: Annotated[
        str | None, Query(max_length=16, description="channel of the case's first report")
    ] = None,
    dispatched_from: Annotated[IsoDateTime | None, Query(description="ISO 8601, inclusive")] = None,
    dispatched_to: Annotated[IsoDateTime | None, Query(description="ISO 8601, exclusive")] = None,
    filed_from: Annotated[IsoDateTime | None, Query(description="ISO 8601, inclusive")] = None,
    filed_to: Annotated[IsoDateTime | None, Query(description="ISO 8601, exclusive")] = None,
) -> CaseFilters:
    """The listing filters, validated (async: no I/O, so no threadpool hop)."""
    created = parse_range(created_from, created_to, name="created")
    closed = parse_range(closed_from, closed_to, name="closed")
    dispatched = parse_range(dispatched_from, dispatched_to, name="dispatched")
    filed = parse_range(filed_from, filed_to, name="filed")
    return CaseFilters(
        statuses=parse_statuses(status),
        category_id=category_id,
        category_code=category_code,
        urgency=urgency,
        area_code=area_code,
        department_code=department_code,
        reporter_id=reporter_id,
        created_from=created[0],
        created_to=created[1],
        closed_from=closed[0],
        closed_to=closed[1],
        overdue=overdue,
        bbox=parse_bbox(bbox),
        search=parse_search(q) if q is not None else None,
        light=light,
        channel=channel or None,
        dispatched_from=dispatched[0],
        dispatched_to=dispatched[1],
        filed_from=filed[0],
        filed_to=filed[1],
    )


def checked_text(declared: Any, value: str, field: str) -> Any:
    """`value` validated by the declaration `declared` (its Query constraints included), as a
    query string's text would be; InvalidInput naming `field` otherwise."""
    try:
        return TypeAdapter(declared).validate_python(value)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        raise InvalidInput(f"{field}: {reason}", field=field) from error


async def case_filters_from_texts(**texts: str | bool | None) -> CaseFilters:
    """case_filters over a page's form values: each text is checked against the declaration of
    its parameter in case_filters, the one the API's query string is checked against."""
    declared = get_type_hints(case_filters, include_extras=True)
    values: dict[str, Any] = {
        name: checked_text(declared[name], value, name) if isinstance(value, str) else value
        for name, value in texts.items()
    }
    return await case_filters(**values)


FiltersDep = Annotated[CaseFilters, Depends(case_filters)]
SortParam = Annotated[CaseSort, Query(description=f"one of: {', '.join(CaseSort)}")]
PageParam = Annotated[int, Query(ge=1, le=PAGE_MAX)]
PageSizeParam = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]
AfterParam = Annotated[
    str | None,
    Query(max_length=400, description="next_cursor of the previous page (keyset paging)"),
]
