"""Response bodies of the case listings (staff and public) and the parsed listing filters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from events.lifecycle import CaseStatus
from events.listing.search import SearchTerms
from grid.bbox import BBox


class CaseSort(enum.StrEnum):
    """The sort orders a listing accepts; each maps to a fixed ORDER BY in the listing service."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    DUE_AT = "due_at"
    DUE_AT_DESC = "-due_at"
    NUMBER = "number"
    STATUS = "status"
    URGENCY = "urgency"  # urgent first, then the newest
    TO_ACCEPT = "to_accept"  # cases still to accept first, then the nearest deadline


@dataclass(frozen=True)
class CaseFilters:
    """Validated listing filters; None means "not filtered on"."""

    statuses: tuple[CaseStatus, ...] | None = None
    category_id: int | None = None
    category_code: str | None = None
    urgency: str | None = None
    area_code: str | None = None
    department_code: str | None = None
    reporter_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None
    overdue: bool | None = None
    bbox: BBox | None = None
    search: SearchTerms | None = None
    light: str | None = None  # red, yellow, green
    channel: str | None = None  # of the case's first report
    dispatched_from: datetime | None = None
    dispatched_to: datetime | None = None
    filed_from: datetime | None = None
    filed_to: datetime | None = None


class CaseListItem(BaseModel):
    """One case in a staff listing: where, what, who handles it, when; no personal data."""

    id: int
    number: str
    status: CaseStatus
    category_code: str
    category_name_zh: str
    category_name_en: str
    urgency: str
    cell_code: str
    community_code: str
    street_code: str
    district_code: str
    department_code: str | None
    created_at: datetime
    due_at: datetime | None
    light: str | None  # green, yellow, red while a department holds the case
    closed_at: datetime | None
    lon: float
    lat: float
    merged_into_id: int | None


class CasePage(BaseModel):
    total: int = Field(description="cases matching the filters within the caller's scope")
    page: int
    page_size: int
    next_page: int | None
    next_cursor: str | None = Field(
        default=None, description="pass as `after` for the next page (keyset paging)"
    )
    items: list[CaseListItem]


class PublicCaseItem(BaseModel):
    """A case as the public sees it: located only to its cell's centroid, nobody named."""

    number: str
    status: CaseStatus
    category_code: str
    category_name_zh: str
    category_name_en: str
    cell_code: str
    cell_lon: float = Field(description="WGS-84 longitude of the cell's centroid")
    cell_lat: float = Field(description="WGS-84 latitude of the cell's centroid")


class PublicCasePage(BaseModel):
    total: int
    page: int
    page_size: int
    next_page: int | None
    items: list[PublicCaseItem]
