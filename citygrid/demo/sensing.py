"""Demo: the demo district's sensing devices and cameras."""

from __future__ import annotations

from sqlalchemy.orm import Session


def load_demo_devices(session: Session) -> int:
    """Adds them; returns how many rows it added (0 when already there)."""
    return 0
