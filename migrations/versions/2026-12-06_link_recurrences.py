"""Link a case to the closed case whose problem it repeats (recurrence after closure).

case_recurrence: one row per new case that repeats a closed one (events.recurrence.rules),
with the distance, whether it was on the same component, and the definition it was linked
with. Indexed by the earlier case (its page, the evaluation's count per closed case). The
linking itself reads event_case through its existing indexes (the GiST index on geom, the
b-tree on component_id): no index on event_case is added.

Revision ID: 8a1b2c3d4e5f
Revises: 7e3f4a5b6c7d
Create Date: 2026-12-06 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a1b2c3d4e5f"
down_revision: str | None = "7e3f4a5b6c7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_recurrence",
        sa.Column("case_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("previous_case_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("same_component", sa.Boolean(), nullable=False),
        sa.Column("distance_limit_m", sa.Float(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "linked_by IN ('intake', 'batch')", name=op.f("ck_case_recurrence_linked_by_known")
        ),
        sa.CheckConstraint(
            "case_id <> previous_case_id", name=op.f("ck_case_recurrence_not_itself")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_case_recurrence_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["previous_case_id"],
            ["event_case.id"],
            name=op.f("fk_case_recurrence_previous_case_id_event_case"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_recurrence")),
    )
    op.create_index(
        op.f("ix_case_recurrence_previous_case_id"),
        "case_recurrence",
        ["previous_case_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_recurrence_previous_case_id"), table_name="case_recurrence")
    op.drop_table("case_recurrence")
