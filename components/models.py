"""Tables of the component inventory: components, their change history, imports, census tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

COMPONENT_STATUSES = "'in_use', 'damaged', 'removed'"
CENSUS_TASK_STATUSES = "'open', 'done', 'dismissed'"


class ComponentImport(Base):
    """One accepted import file: where the components came from, and who loaded them."""

    __tablename__ = "component_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(16))
    source_crs: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Component(Base):
    """A located asset (部件): a manhole cover, a lamp, a bin, a fence, a green belt."""

    __tablename__ = "component"
    __table_args__ = (
        CheckConstraint(f"status IN ({COMPONENT_STATUSES})", name="status_known"),
        CheckConstraint("code ~ '^[0-9]{16,17}$'", name="code_16_or_17_digits"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(17), unique=True)  # 16 or 17 digits
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    # A point for most components; a line or polygon for a fence or a green belt.
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=True))
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="in_use")
    name: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    supervisor_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    maintainer_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id"), index=True
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ComponentChange(Base):
    """One change to a component (append-only): who, when, what (field: [before, after])."""

    __tablename__ = "component_change"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # imported, updated, status
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CensusTask(Base):
    """A component reported where the inventory has none: someone must survey it (普查)."""

    __tablename__ = "census_task"
    __table_args__ = (CheckConstraint(f"status IN ({CENSUS_TASK_STATUSES})", name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("event_case.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    note: Mapped[str | None] = mapped_column(Text)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
