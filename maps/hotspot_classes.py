"""The class a cell's Gi* falls in, and how it moved between two periods (pure: plain enums, so
`maps.hotspots` and the schemas share them without loading Pydantic, FastAPI or SQLAlchemy)."""

from __future__ import annotations

import enum


class HotspotClass(enum.StrEnum):
    HOT99 = "hot99"
    HOT95 = "hot95"
    HOT90 = "hot90"
    COLD99 = "cold99"
    COLD95 = "cold95"
    COLD90 = "cold90"
    NS = "ns"  # not significant


class Trend(enum.StrEnum):
    NEW = "new"  # hot now, not before
    INTENSIFYING = "intensifying"  # hot both times, more confident (or a higher z) now
    PERSISTENT = "persistent"  # hot both times, about as strongly
    DIMINISHING = "diminishing"  # hot both times, less confident now
    FORMER = "former"  # hot before, not now
    NONE = "none"
