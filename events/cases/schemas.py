"""Request and response bodies of the case routes: actions, detail, history, merge and split."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from components.schemas import ComponentMatchKind, MatchedComponent
from events.lifecycle import CaseAction, CaseStatus

REASON_MAX_CHARS = 4000
POSTPONEMENT_MAX_HOURS = 24 * 365


class CaseActionBody(BaseModel):
    """What an action may carry; which fields an action needs is checked by the service."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=REASON_MAX_CHARS)
    department_code: str | None = Field(default=None, max_length=32)  # dispatch
    hours: float | None = Field(default=None, gt=0, le=POSTPONEMENT_MAX_HOURS)  # postponement
    expected_version: int | None = Field(default=None, ge=1)  # stale → 409
    photo_ids: list[int] = Field(default_factory=list, max_length=20)  # attachments


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_case_id: int
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS)


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS)


class ReportSummary(BaseModel):
    id: int
    original_case_id: int
    reporter_id: int | None  # shown to staff and to the reporter themself
    channel: str
    description: str
    created_at: datetime


class MergedIntoSummary(BaseModel):
    """The surviving case: its status is the one that counts for the merged case's reporters."""

    id: int
    number: str
    status: CaseStatus


class DeadlineView(BaseModel):
    """The current assignment's time limit in working hours, and how much of it is used."""

    department_code: str
    dispatched_at: datetime
    limit_hours: float | None
    postponed_hours: float
    suspended_hours: float
    allowed_hours: float
    used_hours: float
    due_at: datetime | None
    warn_at: datetime | None
    provisional: bool  # counted over a year whose public holidays are not announced yet
    light: str  # green below 80 % of the allowed time, yellow 80–100 %, red overdue
    overdue: bool
    suspended: bool


# Why a routing decision went where it did: a rule matched, the matched component's maintainer
# (养护单位) decided, no rule of the set in force matched, or no rule set was in force.
RoutingReasonCode = Literal["rule", "component_maintainer", "no_matching_rule", "no_rule_set"]


class RoutingReasonFields(BaseModel):
    """A routing decision's reason as fields, for pages to say in the reader's language (the
    stored `reason` text is English). Read from the decision's rule, rule set, component and
    department, and from the case's category and cell."""

    model_config = ConfigDict(from_attributes=True)

    code: RoutingReasonCode
    rule_set_version: int | None
    rule_id: int | None
    rule_ordinal: int | None  # the rule's place in its set: 1 wins over every other
    rule_name: str | None
    category_code: str
    category_name_zh: str
    category_name_en: str
    category_standard: str
    area_kind: str | None  # citywide, cell, cells, polygon, community, street or district
    area_code: str | None  # the region's, or the cell's for a one-cell rule
    area_name: str | None
    area_cell_count: int | None  # a set of cells
    area_m2: float | None  # a drawn polygon
    cell_code: str
    urgency: str
    component_code: str | None
    department_code: str | None
    department_name: str | None


class RoutingView(BaseModel):
    """The last routing decision: the department the rules suggest, and why."""

    department_code: str | None
    rule_set_version: int | None
    rule_id: int | None
    auto_dispatch: bool
    reason: str  # in English, as stored; reason_fields say it in any language
    reason_fields: RoutingReasonFields | None = None


class CaseDetail(BaseModel):
    id: int
    number: str
    status: CaseStatus
    category_id: int
    urgency: str
    description: str
    address: str | None
    cell_id: int
    department_id: int | None
    reported_by: int | None
    suspended_from: CaseStatus | None
    postponement_hours_requested: float | None
    postponed_hours: float
    rework_count: int
    return_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    due_provisional: bool
    handled_at: datetime | None
    closed_at: datetime | None
    filed_at: datetime | None
    suspended_at: datetime | None
    rule_set_id: int | None  # the rule set version's id the case was dispatched by
    routing_rule_id: int | None
    deadline: DeadlineView | None  # while a department holds the case
    routing: RoutingView | None
    allowed_actions: list[CaseAction]  # for the caller
    reports: list[ReportSummary]  # including those merged in from other cases
    photo_ids: list[int]  # of this case and of the cases merged into it
    merged_case_ids: list[int]
    merged_into: MergedIntoSummary | None


class HistoryRow(BaseModel):
    id: int
    case_id: int  # the case the row belongs to: this one, or one merged into it
    merged_case: bool
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    actor_id: int | None
    actor_role: str | None
    reason: str | None
    details: dict[str, Any]
    at: datetime


class PhotosUploaded(BaseModel):
    photo_ids: list[int]


COMPONENT_CODE_PATTERN = r"^[0-9]{16,17}$"
ComponentActionName = Literal["confirm", "change", "not_in_inventory"]


class ComponentActionBody(BaseModel):
    """confirm the suggested component, change it to `component_code`, or say the thing the
    case is about is not in the inventory (a census task is opened)."""

    action: ComponentActionName
    component_code: str | None = Field(default=None, pattern=COMPONENT_CODE_PATTERN)
    note: str | None = Field(default=None, max_length=2000)


class CaseComponentRead(BaseModel):
    """The case's component after the action, and what followed from it."""

    case_id: int
    status: str
    version: int
    component: MatchedComponent | None
    component_match: ComponentMatchKind | None
    census_task_id: int | None = None
    rerouted: bool = Field(description="the case was waiting for dispatch and was routed again")
    suggested_department_code: str | None = None
    routing_reason: str | None = None
    routing_reason_fields: RoutingReasonFields | None = None
