"""What the map's base layer draws at each zoom when the city has no tile server (pure).

Never bare squares: the outlines of the units in view, each with its name at a label point.

| level     | outline from zoom | name from zoom | at most in one answer |
|-----------|-------------------|----------------|-----------------------|
| district  | 0                 | never          | 50                    |
| street    | 0                 | 0              | 500                   |
| community | 13                | 14             | 1,500                 |
| cell      | 16                | 17             | 1,000                 |

A level with more units in view than its cap is left out of the answer (and named in `omitted`),
so the payload stays bounded however large the box. Outlines are simplified to about a pixel at
the zoom asked for. (With the demo's 100 m cells, 500 m communities and 2 km streets, a name
starts to show where its unit is some 60 pixels wide.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from grid.bbox import BBox


class UnitLevel(enum.StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    CELL = "cell"


@dataclass(frozen=True)
class LevelRule:
    outline_min_zoom: int
    label_min_zoom: int | None  # None: outline only
    cap: int


LEVEL_RULES: dict[UnitLevel, LevelRule] = {
    UnitLevel.DISTRICT: LevelRule(outline_min_zoom=0, label_min_zoom=None, cap=50),
    UnitLevel.STREET: LevelRule(outline_min_zoom=0, label_min_zoom=0, cap=500),
    UnitLevel.COMMUNITY: LevelRule(outline_min_zoom=13, label_min_zoom=14, cap=1_500),
    UnitLevel.CELL: LevelRule(outline_min_zoom=16, label_min_zoom=17, cap=1_000),
}
ZOOM_MIN, ZOOM_MAX = 0, 22
TILE_PX = 256


def levels_drawn(zoom: int) -> list[UnitLevel]:
    """The levels whose outlines show at `zoom`, coarsest first."""
    return [level for level, rule in LEVEL_RULES.items() if zoom >= rule.outline_min_zoom]


def label_min_zooms() -> dict[UnitLevel, int]:
    """From which zoom each labelled level shows its names (for the browser)."""
    return {
        level: rule.label_min_zoom
        for level, rule in LEVEL_RULES.items()
        if rule.label_min_zoom is not None
    }


def pixel_deg(zoom: int) -> float:
    """About one screen pixel at `zoom`, in degrees (Web Mercator, at the equator; finer
    elsewhere, which only keeps more detail than needed)."""
    return 360.0 / (TILE_PX * 2.0**zoom)


def on_globe(bbox: BBox) -> BBox:
    """The box cut to ±180° longitude and ±90° latitude: nothing of the grid lies beyond, and
    geometry operations on astronomic coordinates would only risk overflowing."""
    west, south, east, north = bbox

    def clamp(value: float, limit: float) -> float:
        return min(max(value, -limit), limit)

    return clamp(west, 180), clamp(south, 90), clamp(east, 180), clamp(north, 90)
