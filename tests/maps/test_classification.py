"""How the choropleth classes its values and names the classes in its legend (pure)."""

from __future__ import annotations

import pytest

from citygrid.i18n import translations
from maps.classification import (
    ZERO_COLOUR,
    ClassBreaks,
    choropleth_legend,
    class_breaks,
    palette,
    range_label,
)

ZH = translations("zh-CN").gettext
# Most areas without a case, a long tail: the demo's choropleth of reports by cell.
MOSTLY_ZERO = [0.0] * 300 + [1, 2, 3, 5, 8, 12, 13, 20, 40, 80, 319]


@pytest.mark.parametrize(
    ("scheme", "k", "user_bounds", "expected"),
    [
        ("quantiles", 4, None, [2.0, 4.0, 6.0, 8.0]),  # 2.75, 4.5, …: whole numbers hold the same
        ("natural_breaks", 2, None, [3.0, 8.0]),
        ("user", 5, [5.0, 2.0], [2.0, 5.0, 8.0]),
        ("quantiles", 5, None, [3.0, 5.0, 6.0, 8.0]),
    ],
)
def test_class_breaks(
    scheme: str, k: int, user_bounds: list[float] | None, expected: list[float]
) -> None:
    values = (
        [1, 1, 2, 2, 3, 3, 6, 7, 8, 8, 8]
        if scheme == "natural_breaks"
        else [1, 2, 3, 4, 5, 6, 7, 8]
    )
    if scheme == "quantiles" and k == 5:
        values = [2, 2, 4, 4, 6, 6, 8, 8]  # four distinct values: at most four classes
    breaks = class_breaks(values, scheme=scheme, k=k, user_bounds=user_bounds)
    assert breaks.upper_bounds == expected


def test_class_breaks_refuse_unknown_schemes_and_empty_user_bounds() -> None:
    with pytest.raises(ValueError, match="unknown classification scheme 'jenks'"):
        class_breaks([1.0], scheme="jenks", k=3)
    with pytest.raises(ValueError, match="at least one bound"):
        class_breaks([1.0, 2.0], scheme="user", k=3, user_bounds=[])


def labels(breaks: ClassBreaks) -> list[str]:
    return [range_label(low, high) for low, high in breaks.ranges]


@pytest.mark.parametrize(
    ("values", "scheme", "k", "expected"),
    [
        # Areas without a case are their own class "0"; the others are classed over the rest.
        (MOSTLY_ZERO, "quantiles", 5, ["0", "1–4", "5–12", "13–30", "31–319"]),
        (MOSTLY_ZERO, "natural_breaks", 5, ["0", "1–20", "21–40", "41–80", "81–319"]),
        # Never "≤ 0 / 0 – 319": one value besides zero is one class beside "0".
        ([0.0] * 390 + [319.0] * 10, "quantiles", 5, ["0", "1–319"]),
        ([0.0] * 10, "quantiles", 5, ["0"]),
        ([4.0, 4.0, 4.0], "natural_breaks", 3, ["4"]),
        # Without zeros the first class starts at the smallest value.
        ([3.0, 4.0, 9.0, 10.0], "quantiles", 2, ["3–6", "7–10"]),
        # Rates (not whole numbers): each class from the smallest to the largest value it holds.
        ([0.0, 0.25, 0.5, 0.75, 1.0], "quantiles", 3, ["0", "0.25–0.5", "0.75–1"]),
    ],
)
def test_classes_never_overlap_and_zero_is_its_own_class(
    values: list[float], scheme: str, k: int, expected: list[str]
) -> None:
    breaks = class_breaks(values, scheme=scheme, k=k)
    assert labels(breaks) == expected
    assert breaks.zero_class == (min(values) == 0)


@pytest.mark.parametrize("scheme", ["quantiles", "natural_breaks"])
@pytest.mark.parametrize("k", [2, 3, 5, 7, 9])
@pytest.mark.parametrize(
    "values",
    [
        MOSTLY_ZERO,
        [0, 0, 1, 1, 1, 1, 1, 1, 2, 50],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3],
        [0.5, 0.51, 0.52, 0.9, 7.25, 7.5],
        list(range(0, 100, 7)),
    ],
)
def test_no_computed_class_is_empty_or_overlaps(values: list[float], scheme: str, k: int) -> None:
    breaks = class_breaks([float(v) for v in values], scheme=scheme, k=k)
    assert len(breaks.upper_bounds) <= k
    assert breaks.upper_bounds == sorted(set(breaks.upper_bounds))
    members = [0] * len(breaks.upper_bounds)
    for value in values:
        members[breaks.class_of(value)] += 1
    assert all(members), (breaks, members)  # every class holds a value
    previous_high = None
    for low, high in breaks.ranges:
        assert low is not None and low <= high
        assert previous_high is None or low > previous_high  # ranges never touch
        previous_high = high


def test_user_bounds_are_kept_even_when_a_class_is_empty() -> None:
    """Two maps with the same user-set bounds compare, so an empty class stays (as "≤ 100")."""
    breaks = class_breaks([200.0, 470.0], scheme="user", k=5, user_bounds=[100.0, 500.0])
    assert labels(breaks) == ["≤ 100", "101–500"]
    zeros = class_breaks([0.0, 0.0, 7.0, 30.0], scheme="user", k=5, user_bounds=[0.0, 10.0])
    assert labels(zeros) == ["0", "1–10", "11–30"]


def test_the_zero_class_is_white_beside_the_colour_ramp() -> None:
    assert palette(4, zero_class=True) == [ZERO_COLOUR, "#ffeda0", "#feb24c", "#f03b20"]
    assert ZERO_COLOUR not in palette(4)


def test_legend_in_chinese() -> None:
    breaks = class_breaks(MOSTLY_ZERO, scheme="quantiles", k=5)
    colours = palette(len(breaks.upper_bounds), zero_class=True)
    legend = choropleth_legend("上报数", breaks, colours, ZH)
    assert legend.startswith("<b>上报数（分位数）</b>")
    shown = [row.split("</i>")[1] for row in legend.split("<br>")[1:]]
    assert shown == ["0", "1–4", "5–12", "13–30", "31–319", "无数值"]
    assert "≤" not in legend
