"""What the component case queries answer: a component with its case counts, its cases, the
repeat ranking, and the components a map page draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from components.schemas import ComponentFacts


class CaseCounts(BaseModel):
    """Counted cases of a component: not merged into another, not cancelled or not filed."""

    total: int
    this_year: int  # calendar year in the city's time zone
    open: int


class ComponentRead(ComponentFacts):
    """One component with its category, cell, departments and case counts."""

    case_counts: CaseCounts


class ComponentCase(BaseModel):
    """A case about the component, as its history lists it."""

    id: int
    number: str
    status: str
    category_code: str
    category_name: str
    urgency: str
    department_name: str | None
    component_match: str | None
    component_distance_m: float | None
    merged_into_id: int | None
    counted: bool  # False: a merged duplicate, cancelled or not filed
    created_at: datetime
    closed_at: datetime | None


class ComponentCaseHistory(BaseModel):
    """The cases about one component, newest first, and what they add up to."""

    component_id: int
    component_code: str
    counts: CaseCounts
    summary: str  # e.g. "failed 5 times this year"
    cases: list[ComponentCase]
    cases_listed_max: int  # the newest this many are listed; counts cover every case


class RepeatComponent(BaseModel):
    """A component and its counted cases in the period (rank 1: the most)."""

    rank: int
    component_id: int
    code: str
    category_code: str
    category_name: str
    status: str
    maintainer_name: str | None
    cell_code: str | None
    cases: int
    open_cases: int
    first_case_at: datetime
    last_case_at: datetime


class ComponentRepeats(BaseModel):
    """The components with the most repeat cases in a period."""

    period_from: datetime
    period_to: datetime
    category: str | None
    area: str | None
    min_cases: int
    total: int  # components with at least min_cases counted cases (all of them, not one page)
    components: list[RepeatComponent]


@dataclass(frozen=True)
class MapComponent:
    """A component as a map page draws it: geometry, and what its popup says."""

    component_id: int
    code: str
    status: str
    category_code: str
    category_name: str
    maintainer_name: str | None
    cases_in_period: int
    geometry: dict[str, Any]
