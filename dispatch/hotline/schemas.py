"""Bodies and answers of the hotline unit workflow's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TEXT_MAX = 2000
Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX, pattern=r"\S")]
Code = Annotated[str, Field(min_length=1, max_length=32)]


class ReplyBody(BaseModel):
    """A reply's four elements (see dispatch.hotline.replies). A time without a zone is the
    city's local time."""

    model_config = ConfigDict(extra="forbid")

    received_at: datetime = Field(description="When the unit received the ticket (element 1)")
    contacted_person: Text = Field(
        description="Whom of the caller's side was contacted, e.g. 来电人本人 (element 2)"
    )
    contacted_at: datetime = Field(description="When they were contacted (element 2)")
    action_taken: Text = Field(description="What was done (element 3)")
    rest_by: datetime | Literal["done"] = Field(
        description='By when the rest will be done, or "done" (element 4)'
    )


class CoUnitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department_code: Code


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: Annotated[str, Field(max_length=TEXT_MAX)] | None = None


class DeadlineRead(BaseModel):
    name: str
    due_at: datetime | None
    met_at: datetime | None
    light: str | None
    overdue: bool


class CoUnitRead(BaseModel):
    department_code: str
    department_name: str
    added_at: datetime
    reply_due_at: datetime | None
    replied_at: datetime | None
    light: str | None
    overdue: bool


class ReplyRead(BaseModel):
    id: int
    department_code: str
    unit_role: str
    work_round: int
    received_at: datetime
    contacted_person: str
    contacted_at: datetime
    action_taken: str
    rest_due_at: datetime | None
    done: bool
    replied_at: datetime


class RequestRead(BaseModel):
    id: int
    ticket_id: int
    ticket_number: str
    case_id: int | None
    kind: str
    department_code: str
    reason: str
    requested_at: datetime
    decision: str | None
    decided_at: datetime | None


class TicketWorkflowRead(BaseModel):
    """A ticket's work as units and dispatchers see it (no caller data)."""

    ticket_id: int
    ticket_number: str
    case_id: int | None
    status: str
    urgency_class: str
    lead_department_code: str | None
    deadlines: list[DeadlineRead]
    co_units: list[CoUnitRead]
    replies: list[ReplyRead]
    requests: list[RequestRead]
    unreasonable: bool
    unreasonable_reason: str | None
