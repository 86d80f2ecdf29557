"""The recurrence links: a new case that repeats, at the same place, a problem closed before."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base
from events.recurrence.rules import LINKERS

LINKER_VALUES = ", ".join(f"'{linker}'" for linker in LINKERS)


class CaseRecurrence(Base):
    """Case `case_id` is a recurrence of the closed case `previous_case_id` (at most one link
    per new case; a closed case may come back many times). The definition the link was made
    with (distance and period) is kept beside it."""

    __tablename__ = "case_recurrence"
    __table_args__ = (
        CheckConstraint(f"linked_by IN ({LINKER_VALUES})", name="linked_by_known"),
        CheckConstraint("case_id <> previous_case_id", name="not_itself"),
    )

    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("event_case.id"), primary_key=True, autoincrement=False
    )
    previous_case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("event_case.id"), index=True
    )
    distance_m: Mapped[float] = mapped_column(Float)
    same_component: Mapped[bool] = mapped_column(Boolean)
    distance_limit_m: Mapped[float] = mapped_column(Float)
    period_days: Mapped[int] = mapped_column(Integer)
    linked_by: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
