"""Request and response shapes of the hotline ticket routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from citygrid.api_types import AwareDateTime, BigRowId
from events.hotline.standard import Datum, TicketType, UrgencyClass

TICKET_NUMBER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:/-]{0,63}$"
CONTENT_MAX = 4000
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{2,30}$"

TicketNumber = Annotated[
    str,
    Field(
        pattern=TICKET_NUMBER_PATTERN,
        description="the hotline's own ticket number (letters, digits, - _ . : /; ≤ 64)",
    ),
]


class TicketCreate(BaseModel):
    """One ticket as the hotline system sends it."""

    ticket_number: TicketNumber
    received_at: AwareDateTime
    ticket_type: TicketType = Field(
        description="consultation 咨询, help 求助, complaint 投诉, report 举报, suggestion 建议, "
        "praise 表扬"
    )
    urgency_class: UrgencyClass = Field(
        default=UrgencyClass.GENERAL, description="emergency 紧急, utilities 水电气热, general 一般"
    )
    content: str = Field(min_length=1, max_length=CONTENT_MAX)
    caller_name: str | None = Field(default=None, max_length=100)
    caller_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    address_text: str | None = Field(default=None, max_length=500)
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    datum: Datum = Field(default=Datum.WGS84, description="of lon/lat: wgs84, gcj02 or bd09")
    category_hint: str | None = Field(
        default=None, max_length=100, description="a category code or name (中文 or English)"
    )


class PlaceChoice(BaseModel):
    """A candidate place of the address matcher."""

    place_id: int
    label: str
    lon: float
    lat: float
    cell_id: int | None
    confidence: float


class TicketRead(BaseModel):
    """A ticket as lists show it: the caller masked (张*, 138****5678)."""

    id: int
    ticket_number: str
    received_at: datetime
    ticket_type: TicketType
    urgency_class: UrgencyClass
    status: str
    location_status: str
    content: str
    address_text: str | None
    lon: float | None
    lat: float | None
    location_confidence: float | None
    place_id: int | None
    cell_code: str | None
    category_code: str | None
    category_name: str | None
    case_id: int | None
    case_number: str | None
    lead_department_id: int | None
    caller_name: str = Field(description="masked: the first character, then *")
    caller_phone: str = Field(description="masked: 138****5678")
    candidates: list[PlaceChoice] = []
    replayed: bool = False


class TicketPage(BaseModel):
    tickets: list[TicketRead]
    next_cursor: str | None


class CallerRead(BaseModel):
    """The caller, in full: for the roles that must call back (every view is audited)."""

    ticket_id: int
    name: str | None
    phone: str | None


class LocationPick(BaseModel):
    """The dispatcher's pick for a ticket waiting to be located: a candidate, or a point."""

    place_id: BigRowId | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    datum: Datum = Datum.WGS84


TicketStatusFilter = Literal[
    "received",
    "to_locate",
    "recorded",
    "filed",
    "dispatched",
    "signed",
    "returned",
    "replied",
    "rework",
    "closed",
    "cancelled",
]


class SourceIssued(BaseModel):
    id: int
    name: str
    key_prefix: str
    api_key: str = Field(description="shown once")
