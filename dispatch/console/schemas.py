"""What the console's script is answered when it asks for new arrivals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ArrivedRows(BaseModel):
    """New rows of one list: their case ids, and their HTML as the page renders them."""

    ids: list[int]
    html: str


class ConsoleUpdates(BaseModel):
    since: datetime = Field(description="ask again with this `since` (the database's clock)")
    totals: dict[str, int] = Field(description="the true totals of the lists now, by tab")
    queue: ArrivedRows
    filing: ArrivedRows


class ConsoleCounts(BaseModel):
    duplicates: int = Field(description="waiting cases that look like duplicates of older ones")
