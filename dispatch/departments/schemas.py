"""Bodies and answers of the departments API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dispatch.calendars.schemas import Code, Name

Kind = Annotated[str, Field(min_length=1, max_length=64)]


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str


class DepartmentRead(BaseModel):
    code: str
    name: str
    kind: str
    contact: str | None
    calendar_code: str | None  # None: the default calendar
    is_active: bool
    member_count: int
    supervisors: list[UserBrief]


class DepartmentDetail(DepartmentRead):
    members: list[UserBrief]


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    kind: Kind
    contact: str | None = None
    calendar_code: str | None = None


class DepartmentChanges(BaseModel):
    """Only the fields sent change; calendar_code null returns to the default calendar."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: Kind | None = None
    contact: str | None = None
    calendar_code: str | None = None
    is_active: bool | None = None
