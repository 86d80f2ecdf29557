"""Grid levels and the standard's code structure (pure).

A unit cell code has 15 digits: the 6-digit administrative division code (GB/T 2260), a 3-digit
street, a 3-digit community and a 3-digit cell sequence; each level's code extends its parent's.
"""

from __future__ import annotations

import enum
import re


class GridLevel(enum.StrEnum):
    DISTRICT = "district"  # 区
    STREET = "street"  # 街道
    COMMUNITY = "community"  # 社区
    CELL = "cell"  # 单元网格


CODE_LENGTH: dict[GridLevel, int] = {
    GridLevel.DISTRICT: 6,
    GridLevel.STREET: 9,
    GridLevel.COMMUNITY: 12,
    GridLevel.CELL: 15,
}
PARENT_LEVEL: dict[GridLevel, GridLevel | None] = {
    GridLevel.DISTRICT: None,
    GridLevel.STREET: GridLevel.DISTRICT,
    GridLevel.COMMUNITY: GridLevel.STREET,
    GridLevel.CELL: GridLevel.COMMUNITY,
}
_DIGITS = re.compile(r"\d+")


def code_problem(code: str, level: GridLevel) -> str | None:
    """Why `code` is not a valid code for `level`, or None when it is."""
    length = CODE_LENGTH[level]
    if not _DIGITS.fullmatch(code) or len(code) != length:
        return f"code {code!r} must be {length} digits for a {level}"
    if level is not GridLevel.DISTRICT and code[-3:] == "000":
        return f"code {code!r}: the {level} sequence (last 3 digits) must not be 000"
    return None


def parent_code(code: str, level: GridLevel) -> str | None:
    """The code of the unit containing this one, by the standard's prefix rule."""
    parent = PARENT_LEVEL[level]
    return None if parent is None else code[: CODE_LENGTH[parent]]


def level_of_code(code: str) -> GridLevel | None:
    """The level a code of this length belongs to."""
    for level, length in CODE_LENGTH.items():
        if len(code) == length and _DIGITS.fullmatch(code):
            return level
    return None
