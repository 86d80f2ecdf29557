"""Bodies and answers of the work-calendar API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from citygrid.api_types import text_matching
from citygrid.settings import get_settings

# The code and name of a dispatch reference row (a calendar, a department).
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Weekday = Annotated[int, Field(ge=1, le=7)]
ClockTime = Annotated[str, *text_matching(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "a time as HH:MM")]
Period = Annotated[list[ClockTime], Field(min_length=2, max_length=2)]  # [start, end]


def city_time_zone() -> str:
    """The city's time zone: a new calendar's unless it names another."""
    return get_settings().city_time_zone


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    time_zone: str
    periods: list[list[str]]
    weekdays: list[int]
    official_holidays: bool


class CalendarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    periods: list[Period] = Field(min_length=1, examples=[[["08:30", "12:00"]]])
    weekdays: list[Weekday] = Field(min_length=1, examples=[[1, 2, 3, 4, 5]])
    official_holidays: bool = True
    time_zone: str = Field(default_factory=city_time_zone)


class SpecialDayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    is_workday: bool
    name: str | None
    source: str  # 'official' | 'override'


class CalendarYear(CalendarRead):
    year: int
    announced: bool  # whether the official holidays of that year are known
    days: list[SpecialDayRead]


class CalendarDayChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_workday: bool
    name: Annotated[str, Field(max_length=200)] | None = None


class DeadlinePreview(BaseModel):
    due_at: datetime
    provisional: bool
