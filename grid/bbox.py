"""Bounding boxes given as "west,south,east,north" in WGS-84 degrees (pure).

One parser for every API that takes a `bbox`. The APIs grew up separately and their clients know
their error messages, so each keeps its own words (a `BBoxRules`); the parsing is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from citygrid.errors import InvalidInput

BBox = tuple[float, float, float, float]  # west (min lon), south (min lat), east, north


@dataclass(frozen=True)
class BBoxRules:
    """How strict a bbox parameter is, and what its refusals say."""

    unreadable: str  # not four numbers
    not_finite: str
    out_of_order: str  # west > east or south > north (or off the globe, when checked)
    within_globe: bool = False  # refuse a box past ±180° longitude or ±90° latitude


# The grid's and the case listing's words; no globe check (PostGIS finds nothing out there).
GRID_BBOX = BBoxRules(
    unreadable="bbox must be four numbers: minlon,minlat,maxlon,maxlat",
    not_finite="bbox must be finite with min <= max",
    out_of_order="bbox must be finite with min <= max",
)


def parse_bbox(value: str | None, rules: BBoxRules = GRID_BBOX) -> BBox | None:
    """The box of "west,south,east,north" (None for None); InvalidInput on field bbox unless
    it is four finite numbers in order."""
    if value is None:
        return None
    try:
        west, south, east, north = (float(part) for part in value.split(","))
    except ValueError as error:
        raise InvalidInput(rules.unreadable, field="bbox") from error
    if not all(math.isfinite(number) for number in (west, south, east, north)):
        raise InvalidInput(rules.not_finite, field="bbox")
    in_order = west <= east and south <= north
    if not in_order or (rules.within_globe and not on_globe(west, south, east, north)):
        raise InvalidInput(rules.out_of_order, field="bbox")
    return west, south, east, north


def on_globe(west: float, south: float, east: float, north: float) -> bool:
    """Whether the box lies within ±180° longitude and ±90° latitude."""
    return max(abs(west), abs(east)) <= 180 and max(abs(south), abs(north)) <= 90
