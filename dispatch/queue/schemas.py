"""Bodies of the dispatchers' queue and bulk assignment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from citygrid.api_types import BigRowId
from events.cases.schemas import REASON_MAX_CHARS, RoutingReasonFields

CaseId = BigRowId
# Each case once (checked by the service, which names the one listed twice).
UNIQUE: dict[str, Any] = {"uniqueItems": True}


class QueueItem(BaseModel):
    case_id: int
    number: str
    status: str
    kind: str  # new, unrouted or returned
    urgency: str
    description: str
    category_code: str
    category_name_zh: str
    category_name_en: str
    cell_code: str
    created_at: datetime
    filed_at: datetime | None
    waiting_hours: float  # clock hours since filing
    suggested_department: str | None
    suggested_department_name: str | None
    routing_reason: str | None  # why this department, or why none (English, as stored)
    # The same reason as fields, for a page to say in its language (describe_routing).
    routing_reason_fields: RoutingReasonFields | None = None
    rule_set_version: int | None
    rule_id: int | None
    return_count: int  # how many times departments have sent it back
    last_return_reason: str | None


class QueuePage(BaseModel):
    kind: str
    counts: dict[str, int]  # waiting cases of each kind
    total: int  # of the kind asked for
    items: list[QueueItem]


class BulkAssignBody(BaseModel):
    """Cases to dispatch: to `department_code`, or each to the department suggested for it."""

    model_config = ConfigDict(extra="forbid")

    case_ids: list[CaseId] = Field(min_length=1, json_schema_extra=UNIQUE)
    department_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=REASON_MAX_CHARS)


class AssignOutcome(BaseModel):
    case_id: int
    number: str
    department_id: int | None
    due_at: datetime | None


class RerouteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_ids: list[CaseId] | None = Field(default=None, json_schema_extra=UNIQUE)  # None: all


class Rerouted(BaseModel):
    routed: int
