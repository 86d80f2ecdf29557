"""Request and response bodies of the inventory's imports and edits.

A component itself is read as `query_schemas.ComponentRead` (the GET routes' shape), which the
PATCH route returns too.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ComponentStatus(enum.StrEnum):
    IN_USE = "in_use"
    DAMAGED = "damaged"
    REMOVED = "removed"


class ComponentUpdate(BaseModel):
    """Fields to change; a field left out stays, a field sent as null is cleared."""

    model_config = ConfigDict(extra="forbid")

    status: ComponentStatus | None = None
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    owner_department_id: int | None = None
    supervisor_department_id: int | None = None
    maintainer_department_id: int | None = None


class ComponentChangeRead(BaseModel):
    """One entry of a component's history: `changes` maps a field to [before, after]."""

    id: int
    action: str = Field(description="imported, updated (by an import or an edit), or status")
    changes: dict[str, Any]
    changed_by: int | None
    changed_by_name: str | None
    import_id: int | None
    changed_at: datetime


class ImportResult(BaseModel):
    """What an accepted import did."""

    import_id: int
    source_name: str
    source_format: str
    source_crs: str
    rows: int = Field(description="rows in the file")
    created: int
    updated: int = Field(description="existing components changed (update mode)")
    unchanged: int = Field(description="existing components the file left as they were")
