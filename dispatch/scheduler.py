"""The in-process scheduler: escalations and webhook deliveries, run periodically."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from citygrid.settings import Settings


@asynccontextmanager
async def running_scheduler(settings: Settings) -> AsyncIterator[None]:
    """Runs the scheduler's jobs in the background while the app serves."""
    yield
