"""Bodies and answers of the routing rule-set API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dispatch.rules.rulebook import RuleSetSpec

EXAMPLES_PER_PAIR_MAX = 20


class RuleSetSummary(BaseModel):
    id: int
    version: int
    effective_from: datetime
    in_force: bool  # the set that routes cases now
    comment: str | None
    auto_dispatch: list[str]
    rule_count: int
    changes: dict[str, Any]  # versus the previous version: rules added, removed, redirected
    created_at: datetime
    created_by: int | None
    created_by_username: str | None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ordinal: int  # precedence: 1 wins over every other matching rule
    name: str | None
    category_level: str
    category_kind: str | None
    category_code: str | None  # None: any category
    urgency: str | None
    area_kind: str
    area_code: str | None  # community, street or district
    area_cell_ids: list[int] | None
    area_m2: float | None
    priority: int
    department_code: str


class RuleSetDetail(RuleSetSummary):
    escalation: list[dict[str, Any]]
    source: dict[str, Any]  # the set as submitted
    rules: list[RuleRead]


class SimulationBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rule_set: RuleSetSpec  # the draft, as POST /api/dispatch/rules takes it
    period_from: AwareDatetime = Field(alias="from")
    period_to: AwareDatetime = Field(alias="to")
    examples_per_pair: int = Field(default=5, ge=0, le=EXAMPLES_PER_PAIR_MAX)


class DepartmentPair(BaseModel):
    from_department: str | None  # None: unrouted
    to_department: str | None
    cases: int
    examples: list[str]  # case numbers


class SimulationReport(BaseModel):
    cases: int
    unchanged: int
    changed: int  # routed by both, to different departments
    newly_unrouted: int
    newly_routed: int
    pairs: list[DepartmentPair]
