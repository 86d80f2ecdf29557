"""Tables of the hotline unit workflow: co-units (协办), replies with their four elements, and
the requests a unit makes that a dispatcher decides (a return, an unreasonable request).

The ticket's own workflow columns (lead unit, deadlines, signed/replied/closed times, status,
unreasonable) are on `hotline_ticket` (events.hotline.models); these rows hold what a ticket has
several of. None of them holds the caller's name or phone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

REPLY_ROLES = "'lead', 'co'"
REQUEST_KINDS = "'return', 'unreasonable'"
DECISIONS = "'approved', 'refused'"


class HotlineCoUnit(Base):
    """A co-unit (协办) a dispatcher added to a ticket: its own reply deadline and reply."""

    __tablename__ = "hotline_co_unit"
    __table_args__ = (UniqueConstraint("ticket_id", "department_id", name="one_co_unit_each"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_ticket.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HotlineReply(Base):
    """A unit's reply (答复) with the four elements: when it received the ticket, whom of the
    caller's side it contacted and when, what it did, by when the rest will be done (or done)."""

    __tablename__ = "hotline_reply"
    __table_args__ = (
        CheckConstraint(f"unit_role IN ({REPLY_ROLES})", name="unit_role_known"),
        CheckConstraint("done OR rest_due_at IS NOT NULL", name="done_or_rest_due"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_ticket.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    unit_role: Mapped[str] = mapped_column(Text)  # lead (主办) or co (协办)
    work_round: Mapped[int] = mapped_column(Integer, server_default="0")  # 0, then each rework
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    contacted_person: Mapped[str] = mapped_column(Text)  # e.g. "the caller", "the caller's son"
    contacted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action_taken: Mapped[str] = mapped_column(Text)
    rest_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    replied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HotlineUnitRequest(Base):
    """What a unit asks and a dispatcher decides: a return (退单) or an unreasonable-request flag
    (不合理诉求). Pending while `decision` is NULL; one pending request of a kind per ticket."""

    __tablename__ = "hotline_unit_request"
    __table_args__ = (
        CheckConstraint(f"kind IN ({REQUEST_KINDS})", name="kind_known"),
        CheckConstraint(f"decision IS NULL OR decision IN ({DECISIONS})", name="decision_known"),
        Index(
            "ix_hotline_unit_request_pending",
            "ticket_id",
            "kind",
            unique=True,
            postgresql_where=text("decision IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_ticket.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(Text)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
