"""Hotline callbacks (回访) and sync (placeholder: filled by its issue's work).

Revision ID: c1a0e5a17004
Revises: c1a0e5a17003
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c1a0e5a17004"
down_revision: str | None = "c1a0e5a17003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
