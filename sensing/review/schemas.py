"""Shapes of the review queue and the precision API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sensing.alarms.schemas import AlarmRead


class ReviewPage(BaseModel):
    alarms: list[AlarmRead]
    next_after: int | None


class Rejection(BaseModel):
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class PrecisionRead(BaseModel):
    algorithm: str | None
    algorithm_version: str | None
    device_type: str
    month: str
    confirmed: int
    rejected: int
    verified: int
    pending: int
    precision: float | None = Field(description="(confirmed + verified) / judged; null if none")


class PrecisionReport(BaseModel):
    month: str | None
    rows: list[PrecisionRead]
