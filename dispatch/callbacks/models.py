"""The table of callbacks (回访): every try to reach a caller after a reply, and the answer."""

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
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

SOLVED_ANSWERS = "'solved', 'partly', 'not_solved'"
SATISFACTION_ANSWERS = "'satisfied', 'fair', 'unsatisfied'"


class HotlineCallback(Base):
    """One callback try: reached (with the caller's two answers) or not (the last try that did
    not reach the caller is marked `gave_up`: the caller is counted as unreachable).

    `round` is 1 after the first reply and one more after each rework; `attempt` counts the tries
    within a round (UNIQUE with the ticket and round, so a double click records one try)."""

    __tablename__ = "hotline_callback"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "attempt", name="one_try_per_attempt"),
        CheckConstraint(f"solved IS NULL OR solved IN ({SOLVED_ANSWERS})", name="solved_known"),
        CheckConstraint(
            f"satisfaction IS NULL OR satisfaction IN ({SATISFACTION_ANSWERS})",
            name="satisfaction_known",
        ),
        CheckConstraint(
            "reached = (solved IS NOT NULL AND satisfaction IS NOT NULL)", name="answers_if_reached"
        ),
        CheckConstraint("NOT (reached AND gave_up)", name="gave_up_only_unreached"),
        CheckConstraint("round >= 1 AND attempt >= 1", name="counts_from_one"),
        # The ticket's conclusive callback (its latest reached or given-up try), for the rates.
        Index(
            "ix_hotline_callback_conclusive",
            "ticket_id",
            "at",
            postgresql_where=text("reached OR gave_up"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hotline_ticket.id", ondelete="CASCADE")
    )
    round: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reached: Mapped[bool] = mapped_column(Boolean)
    solved: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(Text)
    gave_up: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
