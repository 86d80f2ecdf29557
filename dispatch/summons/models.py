"""Summons (吹哨报到): the departments a dispatcher calls to one case, each with its own limit,
its report-in (报到) with an on-site photo, its answer, and the street office's rating of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base


class CaseSummons(Base):
    """One department summoned to one case. Done once it has reported in (with a photo) and
    answered; the case closes only when every summoned department is done."""

    __tablename__ = "case_summons"
    __table_args__ = (
        UniqueConstraint("case_id", "department_id", name="one_summons_per_department"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_in_range"),
        CheckConstraint("answered_at IS NULL OR reported_at IS NOT NULL", name="reported_first"),
        Index("ix_case_summons_department_rated", "department_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("event_case.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    summoned_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    summoned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    limit_hours: Mapped[float] = mapped_column(Float)
    working_time: Mapped[bool] = mapped_column(Boolean)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("case_photo.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_note: Mapped[str | None] = mapped_column(Text)
    rated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
