"""Address gazetteer (places) for the hotline's address matcher (placeholder: filled by its issue's work).

Revision ID: c1a0e5a17001
Revises: 9b2c3d4e5f6a
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c1a0e5a17001"
down_revision: str | None = "9b2c3d4e5f6a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
