"""Tables of events: the taxonomy, reports, cases, their photos, assignments and history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from citygrid.db import Base
from events.lifecycle import CaseStatus

STATUS_VALUES = ", ".join(f"'{status.value}'" for status in CaseStatus)


class Category(Base):
    """A component (部件) or event (事件) category, major or minor, of one coding standard."""

    __tablename__ = "category"
    __table_args__ = (
        UniqueConstraint("kind", "code", "standard", name="kind_code_standard"),
        CheckConstraint("kind IN ('component', 'event')", name="kind_known"),
        CheckConstraint("level IN ('major', 'minor')", name="level_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    standard: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(8))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[str | None] = mapped_column(Text)  # filing criteria (立案标准)
    limit_hours_normal: Mapped[float | None] = mapped_column(Float)  # working hours
    limit_hours_urgent: Mapped[float | None] = mapped_column(Float)
    department_type: Mapped[str | None] = mapped_column(String(64))
    duplicate_radius_m: Mapped[float | None] = mapped_column(Float)  # None: the setting's default
    # How far from a report a component of this category may be to match it; None: the default.
    component_radius_m: Mapped[float | None] = mapped_column(Float)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Case(Base):
    """A case (案卷): one problem at one place, moving through the closed loop."""

    __tablename__ = "event_case"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status_known"),
        CheckConstraint("urgency IN ('normal', 'urgent')", name="urgency_known"),
        Index("ix_event_case_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # e.g. 20261126-000123
    status: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    urgency: Mapped[str] = mapped_column(String(8), server_default="normal")
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("event_case.id"), index=True)
    suspended_from: Mapped[str | None] = mapped_column(String(16))
    postponement_hours_requested: Mapped[float | None] = mapped_column(Float)
    postponed_hours: Mapped[float] = mapped_column(Float, server_default="0")
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    return_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # Bumped by every transition: an UPDATE … WHERE version = :seen lets exactly one of two
    # concurrent actions win.
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # The rule set version and the rule the case was routed with ("why this department")
    rule_set_id: Mapped[int | None] = mapped_column(ForeignKey("rule_set.id"))
    routing_rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rule.id"))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # 80 % of the limit
    due_provisional: Mapped[bool] = mapped_column(Boolean, server_default="false")
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The inventoried component the case is about (部件), how far the report was from it, and
    # how the match was made: suggested at intake, confirmed, changed, or not in the inventory.
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"), index=True)
    component_distance_m: Mapped[float | None] = mapped_column(Float)
    component_match: Mapped[str | None] = mapped_column(String(16))


class Report(Base):
    """One report of a problem; several reports can end up on one case (duplicates merged)."""

    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_channel_original_case", "channel", "original_case_id"),
        # Monthly partitions by received time (migration 2026-12-06_monthly_partitions).
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # the ORM's identity: the id alone
        return {"primary_key": [cls.__table__.c.id]}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Generated by the phone: the same UUID sent again is the same report (idempotent intake).
    # Unique across partitions through ReportKey (a trigger refuses a second report of a UUID).
    report_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    original_case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), server_default="app")
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    input_crs: Mapped[str] = mapped_column(String(32), server_default="EPSG:4326")
    snapped_m: Mapped[float] = mapped_column(Float, server_default="0")
    description: Mapped[str] = mapped_column(Text)
    # The partition key: never changes (the trigger report_key_written refuses it).
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )


class ReportKey(Base):
    """The idempotency key of reports, unique across the report's monthly partitions: intake
    inserts it with ON CONFLICT DO NOTHING and files the report only when that wrote it; a
    trigger on `report` writes it for every other writer. `created_at` is the report's, so a
    look-up by UUID reads one partition."""

    __tablename__ = "report_key"

    report_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CasePhoto(Base):
    """A photo on disk: a public copy without EXIF, and the original kept for staff."""

    __tablename__ = "case_photo"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    # References to partitioned tables' ids: checked by constraint triggers of the foreign keys'
    # names (citygrid_reference_exists, migration 2026-12-06_monthly_partitions).
    report_id: Mapped[int | None] = mapped_column(BigInteger)
    transition_id: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)  # file name, never user input
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseTransition(Base):
    """The history of a case: appended, never updated or deleted (a trigger refuses both)."""

    __tablename__ = "case_transition"
    __table_args__ = (
        # The cases a user acted on (an inspector sees those), read from the index alone.
        Index("ix_case_transition_actor_case", "actor_id", "case_id"),
        # Monthly partitions by `at` (migration 2026-12-06_monthly_partitions).
        {"postgresql_partition_by": "RANGE (at)"},
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # the ORM's identity: the id alone
        return {"primary_key": [cls.__table__.c.id]}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )


class CaseAssignment(Base):
    """One dispatch of a case to a department, until it is returned, reassigned or closed.

    Evaluation counts per assignment: a department answers for the cases it was given.
    """

    __tablename__ = "case_assignment"
    __table_args__ = (
        Index("ix_case_assignment_department_dispatched", "department_id", "dispatched_at"),
        # Which cases a department holds or held (object-level access), read from the index alone.
        Index("ix_case_assignment_department_case", "department_id", "case_id"),
        Index("ix_case_assignment_dispatched_at", "dispatched_at"),
        # At most one current assignment per case.
        Index(
            "ix_case_assignment_current",
            "case_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        # Escalation looks for current assignments whose thresholds have passed.
        Index(
            "ix_case_assignment_open_warn_at",
            "warn_at",
            postgresql_where=text("ended_at IS NULL AND handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    routing_decision_id: Mapped[int | None] = mapped_column(ForeignKey("routing_decision.id"))
    dispatched_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    limit_hours: Mapped[float | None] = mapped_column(Float)  # working hours
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # 80 % used
    due_provisional: Mapped[bool] = mapped_column(Boolean, server_default="false")
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handling_hours: Mapped[float | None] = mapped_column(Float)  # working hours used
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    postponement_count: Mapped[int] = mapped_column(Integer, server_default="0")
    postponed_hours: Mapped[float] = mapped_column(Float, server_default="0")
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_hours: Mapped[float] = mapped_column(Float, server_default="0")  # working hours
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(16))  # returned, reassigned, closed, …
