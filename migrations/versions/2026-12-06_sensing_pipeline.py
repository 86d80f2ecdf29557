"""Sensing pipeline: filing apart from ingest (placeholder: filled by its issue's work).

Revision ID: c1a0e5a18003
Revises: c1a0e5a19001
Create Date: 2026-12-06 11:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c1a0e5a18003"
down_revision: str | None = "c1a0e5a19001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
