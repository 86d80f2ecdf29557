"""How the choropleth classes its values (mapclassify), colours the classes and writes its legend
(pure: plain values in, breaks and HTML out)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import mapclassify
import numpy as np

SCHEMES = ("quantiles", "natural_breaks", "user")
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


@dataclass(frozen=True)
class ClassBreaks:
    """Upper bounds of each class (the last is the maximum) and the scheme that chose them."""

    scheme: str
    upper_bounds: list[float]

    def class_of(self, value: float) -> int:
        """The index of the class a value falls in."""
        for index, bound in enumerate(self.upper_bounds):
            if value <= bound:
                return index
        return len(self.upper_bounds) - 1


def class_breaks(
    values: Sequence[float], *, scheme: str, k: int, user_bounds: Sequence[float] | None = None
) -> ClassBreaks:
    """Class breaks from mapclassify: quantiles, natural breaks (Jenks) or user-set bounds."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown classification scheme {scheme!r}")
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return ClassBreaks(scheme, [0.0])
    distinct = np.unique(array).size
    k = max(1, min(k, distinct))
    if scheme == "user":
        bounds = sorted(user_bounds or [])
        if not bounds:
            raise ValueError("user-set classes need at least one bound")
        classifier = mapclassify.UserDefined(array, bins=bounds)
    elif k == 1:
        return ClassBreaks(scheme, [float(array.max())])
    elif scheme == "quantiles":
        classifier = mapclassify.Quantiles(array, k=k)
    else:
        classifier = mapclassify.NaturalBreaks(array, k=k, initial=5)
    return ClassBreaks(scheme, sorted({float(bound) for bound in classifier.bins}))


def palette(class_count: int) -> list[str]:
    """A sequential palette with one colour per class."""
    if class_count <= 3:
        return YL_OR_RD[3][-class_count:] if class_count else []
    return YL_OR_RD[min(class_count, 9)][:class_count] + [YL_OR_RD[9][-1]] * (class_count - 9)


def choropleth_legend(metric_label: str, breaks: ClassBreaks, colours: Sequence[str]) -> str:
    """Legend HTML: one swatch per class with its range, and the no-data swatch."""
    rows = [f"<b>{html.escape(metric_label)}</b> ({html.escape(breaks.scheme)})"]
    lower: str | None = None
    for bound, colour in zip(breaks.upper_bounds, colours, strict=True):
        span = f"≤ {format_value(bound)}" if lower is None else f"{lower} – {format_value(bound)}"
        rows.append(f'<i style="background:{colour}"></i>{span}')
        lower = format_value(bound)
    rows.append(f'<i style="background:{NO_DATA_COLOUR}"></i>no value')
    return "<br>".join(rows)


def format_value(value: float | None) -> str:
    """A value as the legend, tooltip and table show it (integers without decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
