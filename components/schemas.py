"""Request and response bodies of the component inventory: search results as GeoJSON, one
component, edits and their history, imports, and the component a case is matched to.

A component is answered with its case counts (`events.component_cases.schemas.ComponentRead`,
built on `ComponentFacts` here), so the routes that answer with one live at the events level.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from citygrid.api_types import RowId


class ComponentStatus(enum.StrEnum):
    IN_USE = "in_use"
    DAMAGED = "damaged"
    REMOVED = "removed"


# ---------------------------------------------------------------------------------------------
# Search


class ComponentFeatureProperties(BaseModel):
    id: int
    code: str
    category_code: str
    category_name: str
    status: str
    maintainer_department_id: int | None
    maintainer_name: str | None


class ComponentFeature(BaseModel):
    """One component as a GeoJSON Feature (its id is the component code)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: ComponentFeatureProperties


class ComponentFeatureCollection(BaseModel):
    """One page of matching components, with how many match in all (counted up to a cap)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ComponentFeature]
    total: int  # matching components; at least this many when total_capped
    total_capped: bool
    limit: int
    next_after: int | None  # pass as `after=` for the next page; None on the last page


# ---------------------------------------------------------------------------------------------
# One component


class DepartmentRef(BaseModel):
    id: int
    code: str
    name: str


class CategoryRef(BaseModel):
    id: int
    code: str
    name_zh: str
    name_en: str
    standard: str


class ComponentFacts(BaseModel):
    """One component with its category, cell and departments, as the inventory knows it."""

    id: int
    code: str
    category: CategoryRef
    status: str
    name: str | None
    address: str | None
    geometry: dict[str, Any]
    cell_code: str | None
    owner: DepartmentRef | None
    supervisor: DepartmentRef | None
    maintainer: DepartmentRef | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------------------------------------
# Edits and history


class ComponentUpdate(BaseModel):
    """Fields to change; a field left out stays, a field sent as null is cleared."""

    model_config = ConfigDict(extra="forbid")

    status: ComponentStatus | None = None
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    owner_department_id: RowId | None = None
    supervisor_department_id: RowId | None = None
    maintainer_department_id: RowId | None = None


class ComponentChangeRead(BaseModel):
    """One entry of a component's history: `changes` maps a field to [before, after]."""

    id: int
    action: str = Field(description="imported, updated (by an import or an edit), or status")
    changes: dict[str, Any]
    changed_by: int | None
    changed_by_name: str | None
    import_id: int | None
    changed_at: datetime


# ---------------------------------------------------------------------------------------------
# Imports


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


# ---------------------------------------------------------------------------------------------
# The component a case is about (intake suggests it, the case's reporter or a dispatcher settles
# it); here so that intake and the case routes above share one shape.

ComponentMatchKind = Literal["suggested", "confirmed", "changed", "not_in_inventory"]


class MatchedComponent(BaseModel):
    """The inventoried component the case is about and how far the report was from it."""

    code: str
    name: str | None
    distance_m: float
    match: ComponentMatchKind = Field(
        description="suggested (nearest within the category's radius), confirmed (named by "
        "the reporter or confirmed later) or changed"
    )
