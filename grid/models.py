"""Tables of the unit grid: administrative regions, unit cells, and the grid's revision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

REGION_LEVELS = "'district', 'street', 'community'"


class GridRegion(Base):
    """A district (区), street (街道) or community (社区)."""

    __tablename__ = "grid_region"
    __table_args__ = (
        CheckConstraint(f"level IN ({REGION_LEVELS})", name="level_known"),
        CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)", name="only_districts_lack_parent"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid_region.id"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)
    )
    area_m2: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GridCell(Base):
    """A unit grid cell (单元网格), the unit every report is located into."""

    __tablename__ = "grid_cell"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[int] = mapped_column(ForeignKey("grid_region.id"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)
    )
    area_m2: Mapped[float] = mapped_column(Float)
    # Management level / area class (e.g. A core area, B general area) and who answers for it.
    area_class: Mapped[str | None] = mapped_column(String(32))
    responsible_party: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GridRevision(Base):
    """One row whose token changes with every change to the grid, so caches know to rebuild."""

    __tablename__ = "grid_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, server_default="1")
    token: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=func.gen_random_uuid())
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
