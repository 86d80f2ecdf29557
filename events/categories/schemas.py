"""Request and response bodies of the category routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from citygrid.api_types import text_matching
from events.taxonomy import Kind, Level


def without_default(schema: dict[str, Any]) -> None:
    """The field's schema without its `default` (null, which is not a value it takes)."""
    schema.pop("default", None)


Name = Annotated[str, Field(min_length=1, max_length=200)]
# In a change: left out (unchanged) or a new name, never null (a name is renamed, not removed).
NewName = Annotated[
    str,
    Field(default=None, min_length=1, max_length=200, json_schema_extra=without_default),
]
Hours = Annotated[float, Field(gt=0)]


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Kind
    standard: str
    code: str
    level: Level
    parent_id: int | None
    name_zh: str
    name_en: str
    criteria: str | None
    limit_hours_normal: float | None  # working hours
    limit_hours_urgent: float | None
    department_type: str | None
    duplicate_radius_m: float | None
    provenance: dict[str, Any]
    retired_at: datetime | None
    created_at: datetime


class CategoryPage(BaseModel):
    items: list[CategoryRead]
    total: int
    page: int
    page_size: int
    next_page: int | None


class CategoryChanges(BaseModel):
    """Fields an administrator may set on create and change afterwards."""

    criteria: str | None = None
    limit_hours_normal: Hours | None = None
    limit_hours_urgent: Hours | None = None
    department_type: Annotated[str, Field(max_length=64)] | None = None
    duplicate_radius_m: Annotated[float, Field(ge=0)] | None = None


class CategoryCreate(CategoryChanges):
    kind: Kind
    standard: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[
        str,
        *text_matching(
            r"^[0-9]{2}([0-9]{2,3})?$", "a code: it must be 2 digits (major) or 4 or 5 (minor)"
        ),
    ]
    name_zh: Name
    name_en: Name


class CategoryUpdate(CategoryChanges):
    """Only the fields sent are changed; names cannot be emptied."""

    name_zh: NewName
    name_en: NewName
