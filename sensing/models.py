"""Tables of sensing: devices, their readings (partitioned by month), rule state, alarms, the
cases they filed, and the HTTP alarm sources.

`sensing_reading` is PARTITIONED BY RANGE (at) from the start, with monthly partitions made by
the migration and a DEFAULT partition so that no reading is ever refused; the partitions
migration hands it to pg_partman. Its primary key (device_id, message_id, at) makes a
redelivered message (same id, same device time) a duplicate: the key of a partitioned table
must include the partition key.
"""

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
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

DEVICE_STATUSES = ("active", "maintenance", "retired")
ALARM_KINDS = ("alarm", "recovery", "offline", "online")
# What became of an alarm: it filed a case, folded into an open one, waits for review, was
# confirmed or rejected there, was held (damped, device in maintenance), or found no case to
# attach to (a recovery without an open case); 'pending': it owes a case that the worker's
# second transaction files (or folds it into) right after the batch is committed.
ALARM_OUTCOMES = (
    "filed",
    "folded",
    "review",
    "confirmed",
    "rejected",
    "damped",
    "maintenance",
    "attached",
    "unattached",
    "unfiled",
    "pending",
)
CASE_REASONS = ("alarm", "offline")
VERIFICATIONS = ("pending", "passed", "failed")


def _values(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


class SensingDevice(Base):
    """A device as it calls itself, where it is, what it watches and how its alarms file."""

    __tablename__ = "sensing_device"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(DEVICE_STATUSES)})", name="status_known"),
        CheckConstraint("hold_s IS NULL OR hold_s >= 0", name="hold_not_negative"),
        CheckConstraint("heartbeat_s IS NULL OR heartbeat_s > 0", name="heartbeat_positive"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_type: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    # Overrides of the type's rules: {"tilt_deg": 20.0}; hold and heartbeat in seconds.
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    hold_s: Mapped[float | None] = mapped_column(Float)
    heartbeat_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    online: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SensingReading(Base):
    """Every accepted message (telemetry, alarm, heartbeat), once; partitioned by month on `at`
    (the device's time)."""

    __tablename__ = "sensing_reading"
    __table_args__ = (
        CheckConstraint("kind IN ('telemetry', 'alarm', 'heartbeat')", name="kind_known"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    values: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class SensingRuleState(Base):
    """Per device: readings over threshold since when, alarm raised or not, recent flips (for
    damping); kept in a table so a restarted worker goes on where it stopped."""

    __tablename__ = "sensing_rule_state"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("sensing_device.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SensingSource(Base):
    """A video-analytics platform that posts alarms over HTTP, with its hashed API key."""

    __tablename__ = "sensing_source"
    __table_args__ = (
        CheckConstraint(
            "confidence_threshold >= 0 AND confidence_threshold <= 1", name="threshold_in_range"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    confidence_threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SensingAlarm(Base):
    """One alarm, recovery or offline/online event of a device, and what became of it.

    Exactly once: a device's MQTT alarm by (device_id, message_id); an HTTP alarm by (source,
    its alarm id), the message_id being the platform's alarm id.
    """

    __tablename__ = "sensing_alarm"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(ALARM_KINDS)})", name="kind_known"),
        CheckConstraint(f"outcome IN ({_values(ALARM_OUTCOMES)})", name="outcome_known"),
        CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)", name="confidence_range"
        ),
        Index(
            "ux_sensing_alarm_device_message",
            "device_id",
            "message_id",
            unique=True,
            postgresql_where=text("source_id IS NULL"),
        ),
        Index(
            "ux_sensing_alarm_source_message",
            "source_id",
            "message_id",
            unique=True,
            postgresql_where=text("source_id IS NOT NULL"),
        ),
        Index("ix_sensing_alarm_review", "id", postgresql_where=text("outcome = 'review'")),
        Index("ix_sensing_alarm_device_at", "device_id", "at"),
        Index(
            "ix_sensing_alarm_pending", "device_id", postgresql_where=text("outcome = 'pending'")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("sensing_device.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sensing_source.id"))
    message_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the device's time
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    metric: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    event_type: Mapped[str | None] = mapped_column(String(64))
    algorithm: Mapped[str | None] = mapped_column(String(64))
    algorithm_version: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    bbox: Mapped[list[float] | None] = mapped_column(JSONB)
    snapshot_key: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    snapshot_type: Mapped[str | None] = mapped_column(String(32))
    snapshot_size: Mapped[int | None] = mapped_column(Integer)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("event_case.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_reason: Mapped[str | None] = mapped_column(Text)


class SensingCase(Base):
    """A case a device filed: why (an alarm, the device offline), how many alarms it holds,
    the recovery seen, and for a camera the re-detection verification window."""

    __tablename__ = "sensing_case"
    __table_args__ = (
        CheckConstraint(f"reason IN ({_values(CASE_REASONS)})", name="reason_known"),
        CheckConstraint(
            f"verification IS NULL OR verification IN ({_values(VERIFICATIONS)})",
            name="verification_known",
        ),
        Index("ix_sensing_case_device_reason", "device_id", "reason"),
        Index("ix_sensing_case_dispatch_owed", "case_id", postgresql_where=text("dispatch_owed")),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("sensing_device.id"))
    reason: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(64))
    alarm_count: Mapped[int] = mapped_column(Integer, server_default="1")
    first_alarm_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_alarm_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redetection: Mapped[bool] = mapped_column(Boolean, server_default="false")
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verification: Mapped[str | None] = mapped_column(String(16))
    verification_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Filed by intake, still to be filed (立案) and dispatched by the sensing account.
    dispatch_owed: Mapped[bool] = mapped_column(Boolean, server_default="false")


__all__ = [
    "SensingAlarm",
    "SensingCase",
    "SensingDevice",
    "SensingReading",
    "SensingRuleState",
    "SensingSource",
]
