"""Callbacks as the API takes and answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.hotline_rates.rates import Satisfaction, Solved


class CallbackCreate(BaseModel):
    """One click: `reached` with the caller's two answers, or `not_reached`."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "not_reached"] = "reached"
    solved: Solved | None = None
    satisfaction: Satisfaction | None = None
    note: str | None = Field(default=None, max_length=2000)


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    round: int
    attempt: int
    at: datetime
    reached: bool
    solved: Solved | None
    satisfaction: Satisfaction | None
    gave_up: bool
    note: str | None


class CallbackResult(BaseModel):
    callback: CallbackRead
    outcome: Literal["rework", "closed", "retry", "unreachable"]


class CallbackTaskRead(BaseModel):
    ticket_id: int
    ticket_number: str
    ticket_type: str
    urgency_class: str
    content: str
    address_text: str | None
    status: str
    replied_at: datetime | None
    closed_at: datetime | None
    lead_unit: str | None
    round: int
    attempts: int
    last_try_at: datetime | None
    next_try_at: datetime | None
    caller_phone_masked: str


class CallerRead(BaseModel):
    """The caller, for the operator about to call back (the view is audited)."""

    name: str | None
    phone: str | None
