"""Answers of the recurrence API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from events.recurrence.service import RankBy


class RankedRow(BaseModel):
    """A place (a grid cell, per category) or a component, and how often its closed cases
    came back."""

    rank: int
    key: str  # the cell's or the component's code
    name: str | None
    category_code: str
    category_name_zh: str
    category_name_en: str
    recurrences: int  # recurrences reported in the period
    closed_cases_recurred: int  # distinct closed cases they repeat
    last_recurrence_at: datetime
    last_case_id: int


class RankedRead(BaseModel):
    by: RankBy
    period_from: datetime
    period_to: datetime
    rows: list[RankedRow]
