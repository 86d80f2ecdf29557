"""The listing's query string: filters, sort and paging, parsed and checked.

Each parser raises InvalidInput naming the parameter and what it accepts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query

from citygrid.errors import InvalidInput
from events.lifecycle import CaseStatus
from events.listing.schemas import CaseFilters, CaseSort
from events.listing.search import SEARCH_MAX_CHARS, parse_search
from grid.bbox import parse_bbox

PAGE_SIZE_MAX = 500
PAGE_SIZE_DEFAULT = 50
PAGE_MAX = 1_000_000  # keeps OFFSET far from PostgreSQL's bigint limit
# 6/9/12/15 digits: district, street, community, cell. Digits only, so LIKE needs no escaping.
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,3}")
CATEGORY_CODE = re.compile(r"[0-9A-Za-z]{1,8}")
STATUS_VALUES = frozenset(status.value for status in CaseStatus)


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
    dispatched_from: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    dispatched_to: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
    filed_from: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    filed_to: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
) -> CaseFilters:
    """The listing filters, validated (async: no I/O, so no threadpool hop)."""
    created = parse_range(created_from, created_to, name="created")
    closed = parse_range(closed_from, closed_to, name="closed")
    dispatched = parse_range(dispatched_from, dispatched_to, name="dispatched")
    filed = parse_range(filed_from, filed_to, name="filed")
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
        search=parse_search(q) if q is not None else None,
        light=light,
        channel=channel or None,
        dispatched_from=dispatched[0],
        dispatched_to=dispatched[1],
        filed_from=filed[0],
        filed_to=filed[1],
    )


FiltersDep = Annotated[CaseFilters, Depends(case_filters)]
SortParam = Annotated[str, Query(description=f"one of: {', '.join(CaseSort)}")]
PageParam = Annotated[int, Query(ge=1, le=PAGE_MAX)]
PageSizeParam = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]
AfterParam = Annotated[
    str | None,
    Query(max_length=400, description="next_cursor of the previous page (keyset paging)"),
]
