"""How the choropleth classes its values (pure)."""

from __future__ import annotations

import pytest

from maps.classification import class_breaks


@pytest.mark.parametrize(
    ("scheme", "k", "user_bounds", "expected"),
    [
        ("quantiles", 4, None, [2.75, 4.5, 6.25, 8.0]),
        ("natural_breaks", 2, None, [3.0, 8.0]),
        ("user", 5, [5.0, 2.0], [2.0, 5.0, 8.0]),
        ("quantiles", 5, None, [3.5, 5.0, 6.5, 8.0]),
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
