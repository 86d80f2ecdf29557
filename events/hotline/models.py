"""Tables of the 12345 hotline bridge: hotline systems, tickets, callers apart, ticket events.

The caller's name and phone are personal data: they live in `hotline_caller` only, one row per
ticket, read through `events.hotline.service.caller_of` (audited). `hotline_ticket_event` is what
goes back to the hotline system, in order per ticket, and never carries the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    REAL,
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
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

import grid.places.models  # noqa: F401  (the `place` table that place_id refers to)
from citygrid.db import Base

TICKET_TYPES = "'consultation', 'help', 'complaint', 'report', 'suggestion', 'praise'"
URGENCY_CLASSES = "'emergency', 'utilities', 'general'"
TICKET_STATUSES = (
    "'received', 'to_locate', 'recorded', 'filed', 'dispatched', 'signed', 'returned', "
    "'replied', 'rework', 'closed', 'cancelled'"
)
LOCATION_STATUSES = "'located', 'to_locate', 'not_needed'"
DATUMS = "'wgs84', 'gcj02', 'bd09'"


class HotlineSource(Base):
    """A hotline system that sends tickets: its API key is stored as SHA-256 only."""

    __tablename__ = "hotline_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_prefix: Mapped[str] = mapped_column(String(12))  # shown to admins to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The service account the source's tickets are filed as (an inactive dispatcher account:
    # the case history names it; nobody signs in with it).
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HotlineTicket(Base):
    """A ticket of the hotline: what the caller asked, where, and how far its work has gone."""

    __tablename__ = "hotline_ticket"
    __table_args__ = (
        CheckConstraint(f"ticket_type IN ({TICKET_TYPES})", name="type_known"),
        CheckConstraint(f"urgency_class IN ({URGENCY_CLASSES})", name="urgency_known"),
        CheckConstraint(f"status IN ({TICKET_STATUSES})", name="status_known"),
        CheckConstraint(f"location_status IN ({LOCATION_STATUSES})", name="location_known"),
        CheckConstraint(f"input_datum IS NULL OR input_datum IN ({DATUMS})", name="datum_known"),
        Index(
            "ix_hotline_ticket_lead_department_id_received_at", "lead_department_id", "received_at"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_number: Mapped[str] = mapped_column(Text, unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_source.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ticket_type: Mapped[str] = mapped_column(Text)
    urgency_class: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    address_text: Mapped[str | None] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)  # WGS-84, converted from input_datum
    lat: Mapped[float | None] = mapped_column(Float)
    input_datum: Mapped[str | None] = mapped_column(Text)
    category_hint: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    location_status: Mapped[str] = mapped_column(Text)
    location_confidence: Mapped[float | None] = mapped_column(REAL)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))  # grid/places gazetteer
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("event_case.id"), unique=True)
    status: Mapped[str] = mapped_column(Text, index=True)
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    dispatch_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sign_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_contact_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unreasonable: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    unreasonable_reason: Mapped[str | None] = mapped_column(Text)
    # Candidates of the address matcher while the ticket waits to be located (best first).
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HotlineCaller(Base):
    """Who called: personal data, apart from the ticket, read only through an audited view."""

    __tablename__ = "hotline_caller"

    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hotline_ticket.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)


class HotlineTicketEvent(Base):
    """One thing that happened to a ticket, to go back to the hotline system in `seq` order."""

    __tablename__ = "hotline_ticket_event"
    __table_args__ = (
        UniqueConstraint("ticket_id", "seq", name="one_seq_per_ticket"),
        Index(
            "ix_hotline_ticket_event_unpushed",
            "ticket_id",
            "seq",
            postgresql_where=text("pushed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hotline_ticket.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
