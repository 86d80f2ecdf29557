"""The grid's revision token: it changes with every change to the grid, so caches built for one
grid (the cell index, map weights) know when to rebuild."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grid.models import GridRevision


def record_grid_change(session: Session) -> None:
    """Give the grid a new revision token, so cached indexes and weights are rebuilt."""
    session.execute(
        update(GridRevision)
        .where(GridRevision.id == 1)
        .values(token=func.gen_random_uuid(), changed_at=func.now())
    )


def grid_revision(session: Session) -> str:
    """The grid's current revision token."""
    token = session.scalar(select(GridRevision.token).where(GridRevision.id == 1))
    return str(token)
