"""How the choropleth classes its values (mapclassify), colours the classes and writes its legend
(pure: plain values in, breaks and HTML out).

The classes never overlap and none is empty: units whose value is 0 (no case) are a class of
their own, "0"; the other classes are drawn over the positive values only, and a computed class
that holds no value is dropped. Counts are labelled with whole numbers ("1–12", "13–40"), other
values with the smallest and largest value each class holds. User-set bounds are kept as given
(so two maps with the same bounds compare), even when a class is empty.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mapclassify
import numpy as np
import numpy.typing as npt

from citygrid.web import N_

SCHEMES = ("quantiles", "natural_breaks", "user")
SCHEME_LABELS = {
    "quantiles": N_("quantiles"),
    "natural_breaks": N_("natural breaks"),
    "user": N_("user-set classes"),
}
# ColorBrewer YlOrRd, 3 to 9 classes.
YL_OR_RD: dict[int, list[str]] = {
    3: ["#ffeda0", "#feb24c", "#f03b20"],
    4: ["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"],
    5: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    6: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"],
    7: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    8: ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    9: [
        "#ffffcc",
        "#ffeda0",
        "#fed976",
        "#feb24c",
        "#fd8d3c",
        "#fc4e2a",
        "#e31a1c",
        "#bd0026",
        "#800026",
    ],
}
NO_DATA_COLOUR = "#d9d9d9"
ZERO_COLOUR = "#ffffff"  # the "0" class: no case, plainly apart from the coloured classes

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClassBreaks:
    """Each class's upper bound (the last is the maximum), the scheme that chose them, and the
    range each class shows in the legend: (lowest, highest), lowest None for an empty class."""

    scheme: str
    upper_bounds: list[float]
    ranges: list[tuple[float | None, float]]
    zero_class: bool = False  # the first class holds exactly the zeros

    def class_of(self, value: float) -> int:
        """The index of the class a value falls in."""
        for index, bound in enumerate(self.upper_bounds):
            if value <= bound:
                return index
        return len(self.upper_bounds) - 1


def class_breaks(
    values: Sequence[float], *, scheme: str, k: int, user_bounds: Sequence[float] | None = None
) -> ClassBreaks:
    """At most `k` classes: "0" when some values are 0 (and none negative), the rest from
    mapclassify over the other values: quantiles, natural breaks (Jenks) or user-set bounds."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown classification scheme {scheme!r}")
    if scheme == "user" and not user_bounds:
        raise ValueError("user-set classes need at least one bound")
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return ClassBreaks(scheme, [0.0], [(0.0, 0.0)])
    integers = bool(np.all(array == np.floor(array)))
    zero_class = float(array.min()) == 0.0
    rest = array[array > 0] if zero_class else array
    bounds = [0.0] if zero_class else []
    if rest.size:
        wanted = max(1, k - len(bounds))
        bounds += _bounds(rest, scheme, wanted, user_bounds or [], lowest=bounds[-1:])
    if integers:  # v <= 2.75 is v <= 2 for whole numbers: the classes keep their members
        bounds = sorted({float(math.floor(bound)) for bound in bounds})
    if scheme != "user":
        bounds = _without_empty_classes(array, bounds)
    return ClassBreaks(scheme, bounds, _ranges(array, bounds, integers), zero_class)


def _bounds(
    values: FloatArray, scheme: str, k: int, user_bounds: Sequence[float], *, lowest: list[float]
) -> list[float]:
    """Upper bounds over `values` (all above `lowest`, when given), the maximum last."""
    if scheme == "user":
        above = [float(b) for b in user_bounds if not lowest or b > lowest[0]]
        classifier = mapclassify.UserDefined(values, bins=sorted(above) or [float(values.max())])
    elif min(k, np.unique(values).size) <= 1:
        return [float(values.max())]
    elif scheme == "quantiles":
        classifier = mapclassify.Quantiles(values, k=min(k, np.unique(values).size))
    else:
        classifier = mapclassify.NaturalBreaks(values, k=min(k, np.unique(values).size), initial=5)
    return sorted({float(bound) for bound in classifier.bins})


def _members(values: FloatArray, previous: float | None, bound: float) -> FloatArray:
    """The values of the class (previous, bound] (the first class: everything up to bound)."""
    inside = values <= bound
    if previous is not None:
        inside &= values > previous
    return values[inside]


def _without_empty_classes(values: FloatArray, bounds: list[float]) -> list[float]:
    """The bounds less those whose class holds no value (it merges into the next one)."""
    kept: list[float] = []
    for bound in bounds:
        if _members(values, kept[-1] if kept else None, bound).size:
            kept.append(bound)
    return kept or [float(values.max())]


def _ranges(
    values: FloatArray, bounds: list[float], integers: bool
) -> list[tuple[float | None, float]]:
    """(lowest, highest) each class shows: whole numbers from the previous bound + 1 to its
    bound; other values from the smallest to the largest it holds."""
    ranges: list[tuple[float | None, float]] = []
    previous: float | None = None
    for bound in bounds:
        members = _members(values, previous, bound)
        if integers:
            low = previous + 1 if previous is not None else _smallest(members)
            ranges.append((low, bound))
        else:
            high = float(members.max()) if members.size else bound
            ranges.append((_smallest(members), high))
        previous = bound
    return ranges


def _smallest(members: FloatArray) -> float | None:
    return float(members.min()) if members.size else None


def palette(class_count: int, *, zero_class: bool = False) -> list[str]:
    """A sequential palette with one colour per class (white for the "0" class)."""
    if zero_class:
        return [ZERO_COLOUR, *palette(class_count - 1)]
    if class_count <= 3:
        return YL_OR_RD[3][-class_count:] if class_count else []
    return YL_OR_RD[min(class_count, 9)][:class_count] + [YL_OR_RD[9][-1]] * (class_count - 9)


def range_label(low: float | None, high: float) -> str:
    """A class as the legend names it: "0", "13–40", or "≤ 100" for an empty first class."""
    if low is None:
        return f"≤ {format_value(high)}"
    if format_value(low) == format_value(high):
        return format_value(high)
    return f"{format_value(low)}–{format_value(high)}"


def choropleth_legend(
    metric_label: str,
    breaks: ClassBreaks,
    colours: Sequence[str],
    gettext: Callable[[str], str] = str,
) -> str:
    """Legend HTML: one swatch per class with its range, and the no-data swatch."""
    title = gettext(N_("%(metric)s (%(scheme)s)")) % {
        "metric": metric_label,
        "scheme": gettext(SCHEME_LABELS[breaks.scheme]),
    }
    rows = [f"<b>{html.escape(title)}</b>"]
    for (low, high), colour in zip(breaks.ranges, colours, strict=True):
        rows.append(f'<i style="background:{colour}"></i>{html.escape(range_label(low, high))}')
    no_value = html.escape(gettext(N_("no value")))
    rows.append(f'<i style="background:{NO_DATA_COLOUR}"></i>{no_value}')
    return "<br>".join(rows)


def format_value(value: float | None) -> str:
    """A value as the legend, tooltip and table show it (integers without decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
