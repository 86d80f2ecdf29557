"""The query of `GET requests`: spec filters and our extensions, parsed and checked (pure).

Spec rules kept here: an empty parameter is an absent one; `service_request_id` overrides every
other filter; start_date and end_date span at most 90 days; without dates, the latest 90 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from citygrid.errors import InvalidInput
from grid.bbox import BBox, BBoxRules, parse_bbox

SPAN_MAX = timedelta(days=90)
PAGE_SIZE_MAX = 1000
STATUSES = ("open", "closed")
CELL_CODE = re.compile(r"\d{15}")
OPEN311_BBOX = BBoxRules(
    unreadable="bbox must be west,south,east,north in degrees",
    not_finite="bbox must be west,south,east,north with west<=east",
    out_of_order="bbox must be west,south,east,north with west<=east",
)


@dataclass(frozen=True)
class RequestQuery:
    """What `GET requests` asks for; ids set means only those (every other filter ignored)."""

    ids: tuple[int, ...] | None = None
    service_codes: tuple[str, ...] = ()
    start_at: datetime | None = None
    end_at: datetime | None = None
    statuses: tuple[str, ...] = ()
    updated_after: datetime | None = None
    bbox: BBox | None = None
    cell_code: str | None = None
    page: int = 1
    page_size: int = PAGE_SIZE_MAX


def given(params: Mapping[str, str], name: str) -> str | None:
    """The parameter's value, None when absent or empty (the spec treats both alike)."""
    value = params.get(name, "").strip()
    return value or None


def comma_list(value: str | None) -> tuple[str, ...]:
    """The non-empty items of a comma list."""
    if value is None:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_datetime(value: str | None, name: str, *, zone: tzinfo) -> datetime | None:
    """An ISO 8601 / W3C datetime; one without an offset is read in `zone`; 400 if unreadable."""
    if value is None:
        return None
    text = value.replace(" ", "+") if re.search(r"T.* \d\d:?\d\d$", value) else value
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as error:
        raise InvalidInput(
            f"{name} must be a W3C datetime such as 2026-11-26T08:30:00+08:00, not {value!r}",
            field=name,
        ) from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def request_ids(value: str | None) -> tuple[int, ...] | None:
    """The ids of a `service_request_id` list; 400 naming one that is not an id."""
    items = comma_list(value)
    if not items:
        return None
    for item in items:
        if not item.isdigit():
            raise InvalidInput(
                f"service_request_id {item!r} is not a request id", field="service_request_id"
            )
    return tuple(int(item) for item in items)


def date_range(
    start_at: datetime | None, end_at: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The span asked for, 90 days at most: a missing end is start + 90 days (or now), a missing
    start is end - 90 days; 400 when the span is longer or reversed."""
    if start_at is not None and end_at is not None:
        if end_at < start_at:
            raise InvalidInput("end_date is before start_date", field="end_date")
        if end_at - start_at > SPAN_MAX:
            raise InvalidInput(
                "start_date and end_date may be at most 90 days apart", field="end_date"
            )
        return start_at, end_at
    if start_at is not None:
        return start_at, start_at + SPAN_MAX
    end = end_at if end_at is not None else now
    return end - SPAN_MAX, end


def parse_statuses(value: str | None) -> tuple[str, ...]:
    statuses = tuple(status.lower() for status in comma_list(value))
    for status in statuses:
        if status not in STATUSES:
            raise InvalidInput(f"status must be open or closed, not {status!r}", field="status")
    return statuses


def request_bbox(value: str | None) -> BBox | None:
    """west,south,east,north in WGS-84 degrees; 400 unless four ordered finite numbers (empty
    items are skipped, as in every Open311 comma list)."""
    if value is None:
        return None
    return parse_bbox(",".join(comma_list(value)), OPEN311_BBOX)


def positive_int(value: str | None, name: str, *, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InvalidInput(f"{name} must be a whole number from 1 to {maximum}", field=name)
    return int(value)


def parse_cell_code(value: str | None) -> str | None:
    if value is not None and not CELL_CODE.fullmatch(value):
        raise InvalidInput("cell_code must be a grid cell code of 15 digits", field="cell_code")
    return value


def request_query(params: Mapping[str, str], *, now: datetime, zone: tzinfo) -> RequestQuery:
    """The query of GET requests from its parameters; InvalidInput (400) naming a bad one."""
    ids = request_ids(given(params, "service_request_id"))
    if ids is not None:
        return RequestQuery(ids=ids)
    start_at, end_at = date_range(
        parse_datetime(given(params, "start_date"), "start_date", zone=zone),
        parse_datetime(given(params, "end_date"), "end_date", zone=zone),
        now=now,
    )
    return RequestQuery(
        service_codes=comma_list(given(params, "service_code")),
        start_at=start_at,
        end_at=end_at,
        statuses=parse_statuses(given(params, "status")),
        updated_after=parse_datetime(given(params, "updated_after"), "updated_after", zone=zone),
        bbox=request_bbox(given(params, "bbox")),
        cell_code=parse_cell_code(given(params, "cell_code")),
        page=positive_int(given(params, "page"), "page", default=1, maximum=1_000_000),
        page_size=positive_int(
            given(params, "page_size"), "page_size", default=PAGE_SIZE_MAX, maximum=PAGE_SIZE_MAX
        ),
    )
