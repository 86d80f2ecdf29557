"""The work-list map's pure policies: how areas are numbered, lights ranked, levels drawn."""

from __future__ import annotations

import pytest

from maps.worklist.aggregation import (
    LEVELS,
    AreaLevel,
    grouping_value,
    level_of_grouping,
    light_of_rank,
)
from maps.worklist.base_layer import UnitLevel, label_min_zooms, levels_drawn, on_globe, pixel_deg


@pytest.mark.parametrize(
    ("level", "value"),
    [
        (AreaLevel.CELL, 0b0111),
        (AreaLevel.COMMUNITY, 0b1011),
        (AreaLevel.STREET, 0b1101),
        (AreaLevel.DISTRICT, 0b1110),
    ],
)
def test_grouping_values_are_postgresql_s_bits(level: AreaLevel, value: int) -> None:
    assert grouping_value(level) == value
    assert level_of_grouping(value) is level


def test_a_finer_level_has_a_smaller_grouping_value() -> None:
    values = [grouping_value(level) for level in LEVELS]
    assert values == sorted(values)


def test_an_unknown_grouping_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="no level has GROUPING"):
        level_of_grouping(0)


@pytest.mark.parametrize(
    ("rank", "light"), [(0, None), (None, None), (1, "green"), (2, "yellow"), (3, "red")]
)
def test_light_of_rank(rank: int | None, light: str | None) -> None:
    assert light_of_rank(rank) == light


@pytest.mark.parametrize(
    ("zoom", "levels"),
    [
        (0, ["district", "street"]),
        (12, ["district", "street"]),
        (13, ["district", "street", "community"]),
        (15, ["district", "street", "community"]),
        (16, ["district", "street", "community", "cell"]),
        (22, ["district", "street", "community", "cell"]),
    ],
)
def test_levels_drawn_by_zoom(zoom: int, levels: list[str]) -> None:
    assert levels_drawn(zoom) == [UnitLevel(level) for level in levels]


def test_every_outline_drawn_is_named_from_some_zoom_but_the_districts() -> None:
    assert set(label_min_zooms()) == {UnitLevel.STREET, UnitLevel.COMMUNITY, UnitLevel.CELL}


@pytest.mark.parametrize(("zoom", "degrees"), [(0, 360 / 256), (16, 360 / 256 / 65536)])
def test_a_pixel_in_degrees(zoom: int, degrees: float) -> None:
    assert pixel_deg(zoom) == pytest.approx(degrees)


@pytest.mark.parametrize(
    ("box", "cut"),
    [
        ((116.0, 39.0, 116.1, 39.1), (116.0, 39.0, 116.1, 39.1)),
        ((-1e300, -1e300, 1e300, 1e300), (-180, -90, 180, 90)),
        ((200.0, 0.0, 300.0, 10.0), (180, 0.0, 180, 10.0)),
    ],
)
def test_boxes_are_cut_to_the_globe(
    box: tuple[float, float, float, float], cut: tuple[float, float, float, float]
) -> None:
    assert on_globe(box) == cut
