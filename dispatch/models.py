"""Tables of dispatch: work calendars, routing rule sets and decisions, escalation,
the in-app inbox and webhooks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from citygrid.db import Base

AREA_KINDS = "'cell', 'cells', 'community', 'street', 'district', 'polygon', 'citywide'"
CATEGORY_LEVELS = "'minor', 'major', 'any'"


class WorkCalendar(Base):
    """Working hours and weekdays of a department; holidays come from the library + overrides."""

    __tablename__ = "work_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), server_default="Asia/Shanghai")
    # [["08:30", "12:00"], ["13:30", "17:30"]]: the working periods of a working day
    periods: Mapped[list[list[str]]] = mapped_column(JSONB)
    # ISO weekdays that are working days unless a holiday says otherwise: [1, 2, 3, 4, 5]
    weekdays: Mapped[list[int]] = mapped_column(JSONB)
    # Whether the official Chinese holidays (and make-up workdays) apply
    official_holidays: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CalendarDay(Base):
    """An admin's holiday or make-up workday on one calendar; wins over the library."""

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("calendar_id", "day", name="one_override_per_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("work_calendar.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RuleSet(Base):
    """One version of the routing rules, in force from `effective_from` until the next one."""

    __tablename__ = "rule_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    # Category selectors (minor or major codes, or "*") whose cases are dispatched on filing
    auto_dispatch: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # The escalation chain: [{"step": "warning", "at_fraction": 0.8, "notify": ["department"]}, …]
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    source: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the set as submitted, for audit
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RoutingRule(Base):
    """Category selector × area selector × optional urgency → department."""

    __tablename__ = "routing_rule"
    __table_args__ = (
        CheckConstraint(f"area_kind IN ({AREA_KINDS})", name="area_kind_known"),
        CheckConstraint(f"category_level IN ({CATEGORY_LEVELS})", name="category_level_known"),
        CheckConstraint("urgency IS NULL OR urgency IN ('normal', 'urgent')", name="urgency_known"),
        # Precedence within the set, 1 wins: area (smaller first), category, urgency, priority.
        UniqueConstraint("rule_set_id", "ordinal", name="one_rule_per_ordinal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("rule_set.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    category_level: Mapped[str] = mapped_column(String(8))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    urgency: Mapped[str | None] = mapped_column(String(8))
    area_kind: Mapped[str] = mapped_column(String(16))
    area_region_id: Mapped[int | None] = mapped_column(ForeignKey("grid_region.id"))
    area_cell_ids: Mapped[list[int] | None] = mapped_column(JSONB)  # cell and cells
    area_geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)
    )
    area_m2: Mapped[float | None] = mapped_column(Float)  # None: citywide
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))


class RoutingRuleKey(Base):
    """A rule expanded to the keys a case is looked up by: (area key, category key).

    area_key = level << 32 | id (1 cell, 2 community, 3 street, 4 district, 5 citywide with id 0);
    category_key = the category's id, 0 for any. A polygon becomes the cells it touches, `partial`
    where it does not cover the whole cell (then the case's point is checked against it).
    """

    __tablename__ = "routing_rule_key"
    __table_args__ = (
        Index("ix_routing_rule_key_lookup", "rule_set_id", "area_key", "category_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("rule_set.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("routing_rule.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    area_key: Mapped[int] = mapped_column(BigInteger)
    category_key: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[str | None] = mapped_column(String(8))
    partial: Mapped[bool] = mapped_column(Boolean, server_default="false")


class RoutingLookup(Base):
    """The rule keys of a set folded into one row per (area, category) pair: the winning
    ordinal for normal and for urgent cases, and the polygon rules that need a point check.

    lookup_key = area_key << 20 | category_key, so routing probes one unique key per pair
    (15 per case: cell, community, street, district, citywide × minor, major, any), each a
    hash join on the primary key.
    """

    __tablename__ = "routing_lookup"

    rule_set_id: Mapped[int] = mapped_column(
        ForeignKey("rule_set.id", ondelete="CASCADE"), primary_key=True
    )
    lookup_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    normal_ordinal: Mapped[int | None] = mapped_column(Integer)
    urgent_ordinal: Mapped[int | None] = mapped_column(Integer)
    partial_ordinals: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))


class RoutingDecision(Base):
    """Why a case goes to a department: the rule that fired (or why none did), per version."""

    __tablename__ = "routing_decision"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    rule_set_id: Mapped[int | None] = mapped_column(ForeignKey("rule_set.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rule.id"))
    # Set when the matched component's maintainer decided, over the rules.
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    auto_dispatch: Mapped[bool] = mapped_column(Boolean, server_default="false")
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Escalation(Base):
    """A step of the escalation chain that fired for an assignment: once, whatever restarts."""

    __tablename__ = "escalation"
    __table_args__ = (UniqueConstraint("assignment_id", "step", name="once_per_step"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("case_assignment.id"))
    step: Mapped[str] = mapped_column(String(32))
    threshold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[list[str]] = mapped_column(JSONB)


class Notification(Base):
    """A message in a user's in-app inbox."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_created", "user_id", "created_at"),
        # Monthly partitions (migration 2026-12-06_monthly_partitions).
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # the ORM's identity: the id alone
        return {"primary_key": [cls.__table__.c.id]}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("event_case.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """A receiver of events, posted as signed JSON."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    event_kinds: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one webhook (an outbox row, written in the transaction that made the event)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="one_delivery_per_event"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="delivery_status_known"
        ),
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """The delivery log: every attempt with its answer."""

    __tablename__ = "webhook_attempt"
    # Monthly partitions by `at` (migration 2026-12-06_monthly_partitions).
    __table_args__ = ({"postgresql_partition_by": "RANGE (at)"},)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # the ORM's identity: the id alone
        return {"primary_key": [cls.__table__.c.id]}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
