"""How a work list's map stays small whatever the list holds (pure).

The matching cases are sent as points while there are at most `points_max` of them. Beyond that
they are counted per area, at the finest level whose areas number at most `points_max` (the
coarsest level when none does):

    cell → community → street → district

Each area carries its number of cases and its worst light (red > yellow > green > none), so a
million matches draw at most `points_max` markers and a late case still shows red.

The SQL groups by every level at once (GROUPING SETS, one scan). `GROUPING()` over the four key
columns, finest first, numbers each level (`grouping_value`) so that a finer level has a smaller
number: "the finest level with few enough areas" is the smallest such number.
"""

from __future__ import annotations

import enum


class AreaLevel(enum.StrEnum):
    """The areas cases are counted in, finest first (the order of the GROUPING() columns)."""

    CELL = "cell"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


LEVELS = tuple(AreaLevel)
# The listing's light (events.listing.service.light_column) as a rank, so SQL can take the worst.
LIGHT_RANKS: dict[str, int] = {"green": 1, "yellow": 2, "red": 3}
NO_LIGHT_RANK = 0


def grouping_value(level: AreaLevel) -> int:
    """GROUPING(cell, community, street, district) of the rows counted per `level`: a bit set
    for every key column the row is not grouped by (the first column is the highest bit)."""
    every_column = (1 << len(LEVELS)) - 1
    return every_column ^ (1 << (len(LEVELS) - 1 - LEVELS.index(level)))


def level_of_grouping(value: int) -> AreaLevel:
    """The level of a GROUPING() value; ValueError for a value no level has."""
    for level in LEVELS:
        if grouping_value(level) == value:
            return level
    raise ValueError(f"no level has GROUPING() value {value}")


def light_of_rank(rank: int | None) -> str | None:
    """The light a rank stands for; None for no light (no deadline running)."""
    for light, light_rank in LIGHT_RANKS.items():
        if light_rank == rank:
            return light
    return None
