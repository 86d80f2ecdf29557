"""Tables of category suggestions: trained model versions, the suggestions given at intake and
the corrections of a case's category (which the next training learns from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base


class SuggestionModel(Base):
    """One trained model version. Intake uses the newest enabled one; a version is enabled at
    training when its held-out top-3 accuracy reaches the floor given then.

    `model` is a NumPy archive of plain arrays (events.suggestions.classifier), written only by
    the training command and read with allow_pickle=False.
    """

    __tablename__ = "suggestion_model"
    __table_args__ = (
        CheckConstraint("top1 BETWEEN 0 AND 1 AND top3 BETWEEN 0 AND 1", name="accuracy_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cases: Mapped[int] = mapped_column(Integer)  # texts trained on (closed cases + corrections)
    corrections: Mapped[int] = mapped_column(Integer)  # of which corrected cases
    held_out: Mapped[int] = mapped_column(Integer)  # texts of the latest slice, measured on
    held_out_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    categories: Mapped[int] = mapped_column(Integer)
    top1: Mapped[float] = mapped_column(Float)
    top3: Mapped[float] = mapped_column(Float)
    floor: Mapped[float] = mapped_column(Float)  # the top-3 floor it was measured against
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    seconds: Mapped[float] = mapped_column(Float)  # how long training took
    size_bytes: Mapped[int] = mapped_column(Integer)
    model: Mapped[bytes] = mapped_column(LargeBinary)


class CategorySuggestion(Base):
    """The categories suggested for a report at intake: [{category_id, probability}, …]."""

    __tablename__ = "category_suggestion"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), unique=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("suggestion_model.id"), index=True)
    suggested: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CategoryCorrection(Base):
    """A case's category changed by a person: from which, to which, whether it was one of the
    suggestions, and what was suggested. The next training labels the case's text with `to`."""

    __tablename__ = "category_correction"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("event_case.id"), index=True)
    from_category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    to_category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("category_suggestion.id"))
    suggested: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    via_suggestion: Mapped[bool] = mapped_column(Boolean, server_default="false")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
