"""Bodies and answers of the summons routes (吹哨报到)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

TEXT_MAX = 2000
Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX, pattern=r"\S")]
Code = Annotated[str, Field(min_length=1, max_length=32)]
MonthText = Annotated[str, Field(pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")]


class SummonedUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department_code: Code
    hours: float | None = Field(
        default=None, gt=0, le=720, description="Its limit (default: the setting)"
    )
    working_time: bool = Field(default=False, description="Counted in working time")


class SummonsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[SummonedUnit] = Field(min_length=1, max_length=20)
    note: Annotated[str, Field(max_length=TEXT_MAX)] | None = None


class SummonsByNumberBody(SummonsBody):
    """A summons naming the case by its number, as dispatchers know it."""

    case_number: Annotated[str, Field(min_length=1, max_length=20)]


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Text


class RatingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    note: Annotated[str, Field(max_length=TEXT_MAX)] | None = None


class SummonsRead(BaseModel):
    case_id: int
    case_number: str
    department_code: str
    department_name: str
    summoned_at: datetime
    note: str | None
    limit_hours: float
    working_time: bool
    due_at: datetime
    state: str
    late: bool
    reported_at: datetime | None
    photo_id: int | None
    answer: str | None
    answered_at: datetime | None
    rating: int | None
    rating_note: str | None
    rated_at: datetime | None


class UnitRatings(BaseModel):
    """One unit's ratings in one month (by the rating's time in the city's zone)."""

    department_code: str
    department_name: str
    month: str
    ratings: int
    average: float
    reported_in: int
    on_time: int
