"""Hotline callbacks (回访): one row per try to reach a caller after a reply, with the answer.

hotline_callback: ticket, round (1 after the first reply, +1 after each rework), attempt within
the round (UNIQUE with ticket and round: a double click records one try), when, the operator,
reached (with solved 'solved'|'partly'|'not_solved' and satisfaction
'satisfied'|'fair'|'unsatisfied', both present exactly when reached), gave_up (the last try that
did not reach the caller: counted as unreachable), a note. A partial index on (ticket_id, at)
over the conclusive tries (reached or gave_up) serves the rates' "latest answer per ticket".
The rates read hotline_ticket through its received_at index (hotline_tickets migration); the
sync reads hotline_ticket_event through its partial index on rows not yet pushed.

Revision ID: c1a0e5a17004
Revises: c1a0e5a17003
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0e5a17004"
down_revision: str | None = "c1a0e5a17003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOLVED_ANSWERS = "'solved', 'partly', 'not_solved'"
SATISFACTION_ANSWERS = "'satisfied', 'fair', 'unsatisfied'"


def upgrade() -> None:
    op.create_table(
        "hotline_callback",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("solved", sa.Text(), nullable=True),
        sa.Column("satisfaction", sa.Text(), nullable=True),
        sa.Column("gave_up", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            f"solved IS NULL OR solved IN ({SOLVED_ANSWERS})",
            name=op.f("ck_hotline_callback_solved_known"),
        ),
        sa.CheckConstraint(
            f"satisfaction IS NULL OR satisfaction IN ({SATISFACTION_ANSWERS})",
            name=op.f("ck_hotline_callback_satisfaction_known"),
        ),
        sa.CheckConstraint(
            "reached = (solved IS NOT NULL AND satisfaction IS NOT NULL)",
            name=op.f("ck_hotline_callback_answers_if_reached"),
        ),
        sa.CheckConstraint(
            "NOT (reached AND gave_up)", name=op.f("ck_hotline_callback_gave_up_only_unreached")
        ),
        sa.CheckConstraint(
            "round >= 1 AND attempt >= 1", name=op.f("ck_hotline_callback_counts_from_one")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hotline_ticket.id"],
            name=op.f("fk_hotline_callback_ticket_id_hotline_ticket"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["app_user.id"], name=op.f("fk_hotline_callback_operator_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_callback")),
        sa.UniqueConstraint("ticket_id", "round", "attempt", name="one_try_per_attempt"),
    )
    op.create_index(
        "ix_hotline_callback_conclusive",
        "hotline_callback",
        ["ticket_id", "at"],
        postgresql_where=sa.text("reached OR gave_up"),
    )


def downgrade() -> None:
    op.drop_index("ix_hotline_callback_conclusive", table_name="hotline_callback")
    op.drop_table("hotline_callback")
