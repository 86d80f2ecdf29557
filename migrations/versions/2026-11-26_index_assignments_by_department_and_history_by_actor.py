"""Index assignments by department and case, and the history by actor and case: the lookups
of object-level access (which cases a department held, which an inspector acted on).

Revision ID: 300a3dd042eb
Revises: f194ca5d4c3f
Create Date: 2026-11-26 13:24:01.843034+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "300a3dd042eb"
down_revision: str | None = "f194ca5d4c3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_case_assignment_department_case",
        "case_assignment",
        ["department_id", "case_id"],
        unique=False,
    )
    op.create_index(
        "ix_case_transition_actor_case", "case_transition", ["actor_id", "case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_case_transition_actor_case", table_name="case_transition")
    op.drop_index("ix_case_assignment_department_case", table_name="case_assignment")
