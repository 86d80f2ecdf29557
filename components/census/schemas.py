"""Request and response bodies of census tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

CODE_PATTERN = r"^[0-9]{16,17}$"
TaskStatus = Literal["open", "done", "dismissed"]
TaskOutcome = Literal["done", "dismissed"]


class CensusTaskRead(BaseModel):
    """A place where a component was reported that the inventory does not have."""

    id: int
    case_id: int | None
    case_number: str | None
    category_code: str
    category_name: str
    lon: float
    lat: float
    status: TaskStatus
    note: str | None
    component_code: str | None
    created_at: datetime
    resolved_at: datetime | None


class CensusTaskResolve(BaseModel):
    """done: the surveyed component is in the inventory now (its code); or dismissed."""

    outcome: TaskOutcome
    component_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    note: str | None = Field(default=None, max_length=2000)
