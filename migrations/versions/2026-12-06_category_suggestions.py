"""Category suggestion models, the suggestions made at intake and dispatchers' corrections.

Revision ID: 9b2c3d4e5f6a
Revises: 8a1b2c3d4e5f
Create Date: 2026-12-06 06:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "9b2c3d4e5f6a"
down_revision: str | None = "8a1b2c3d4e5f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this table."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this table."""
