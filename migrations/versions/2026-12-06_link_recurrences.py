"""Link a case to the closed case whose problem it repeats (recurrence after closure).

Revision ID: 8a1b2c3d4e5f
Revises: 7e3f4a5b6c7d
Create Date: 2026-12-06 06:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "8a1b2c3d4e5f"
down_revision: str | None = "7e3f4a5b6c7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this table."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this table."""
