"""Hotspot statistics (pure): Getis-Ord Gi*, false-discovery-rate classes and trends.

Gi* uses the analytical normal approximation (no permutations: at 100,000 cells a permutation
test costs minutes, and the z-scores of counts on a contiguity graph are what ArcGIS-style hotspot
maps show). p-values are two-sided; with `fdr` they are Benjamini-Hochberg adjusted before the
90 / 95 / 99 % classes are drawn, so a map of pure noise shows no hotspot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import stats

from citygrid.errors import InvalidInput
from maps.hotspot_classes import HotspotClass, Trend

if TYPE_CHECKING:
    # Only for the annotations: importing libpysal loads SQLAlchemy (for its database reader),
    # which this pure module must not; warm_up() and the callers bring the graphs.
    from libpysal.graph import Graph

CONFIDENCES = (0.90, 0.95, 0.99)
MIN_CELLS = 3  # Gi* needs neighbours and a spread of values
# Same class both times: a z-score this many times higher (lower) still counts as intensifying
# (diminishing): at 99 % the class cannot rise any further.
TREND_Z_RATIO = 1.5
HOT_BY_LEVEL = {0.99: HotspotClass.HOT99, 0.95: HotspotClass.HOT95, 0.90: HotspotClass.HOT90}
COLD_BY_LEVEL = {0.99: HotspotClass.COLD99, 0.95: HotspotClass.COLD95, 0.90: HotspotClass.COLD90}
HOT_RANK = {HotspotClass.HOT90: 1, HotspotClass.HOT95: 2, HotspotClass.HOT99: 3}
# Why there is no analysis (the API says it in English; the map pages translate it).
TOO_FEW_CELLS = f"fewer than {MIN_CELLS} cells in the area: no hotspot analysis"
NO_REPORTS = "no reports in the period"
ALL_EQUAL = "every cell has the same count: no hotspot can stand out"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Analysis:
    """Per cell (in the graph's order): z, two-sided p, class and trend."""

    z: FloatArray
    p: FloatArray
    classes: list[HotspotClass]
    trends: list[Trend]
    message: str | None


def check_confidence(confidence: float) -> None:
    """Raise InvalidInput unless `confidence` is 0.90, 0.95 or 0.99."""
    if confidence not in CONFIDENCES:
        raise InvalidInput("confidence is 0.90, 0.95 or 0.99", field="confidence")


def gi_star(graph: Graph, counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gi* z-scores and two-sided p-values of `counts` (in the graph's order) on binary weights;
    z = 0, p = 1 where the statistic is undefined (no variation, too few cells)."""
    n = len(counts)
    if n < MIN_CELLS or np.ptp(counts) == 0:
        return np.zeros(n), np.ones(n)
    from esda.getisord import G_Local  # heavy import: loaded on first use or by warm_up()

    local = G_Local(counts, graph, transform="B", star=True, permutations=0, n_jobs=1)
    z = np.nan_to_num(np.asarray(local.Zs, dtype=np.float64), nan=0.0)
    p = np.clip(2 * stats.norm.sf(np.abs(z)), 0.0, 1.0)
    return z, p


def classify(
    z: FloatArray, p: FloatArray, *, confidence: float = 0.90, fdr: bool = True
) -> list[HotspotClass]:
    """hot99 … cold99 or ns per cell: the highest level whose (FDR-adjusted) p passes, if it is
    at least `confidence`."""
    adjusted = stats.false_discovery_control(p, method="bh") if fdr and len(p) else p
    classes = []
    for z_value, p_value in zip(z.tolist(), np.asarray(adjusted).tolist(), strict=True):
        level = next((c for c in reversed(CONFIDENCES) if p_value <= 1 - c + 1e-12), None)
        if level is None or level < confidence or z_value == 0:
            classes.append(HotspotClass.NS)
        else:
            classes.append((HOT_BY_LEVEL if z_value > 0 else COLD_BY_LEVEL)[level])
    return classes


def trend(now: HotspotClass, before: HotspotClass, *, z_now: float, z_before: float) -> Trend:
    """How a cell's hotspot status moved from the previous period to this one."""
    rank_now, rank_before = HOT_RANK.get(now, 0), HOT_RANK.get(before, 0)
    if rank_now and not rank_before:
        return Trend.NEW
    if rank_before and not rank_now:
        return Trend.FORMER
    if not rank_now:
        return Trend.NONE
    if rank_now > rank_before or z_now >= z_before * TREND_Z_RATIO:
        return Trend.INTENSIFYING
    if rank_now < rank_before or z_now * TREND_Z_RATIO <= z_before:
        return Trend.DIMINISHING
    return Trend.PERSISTENT


def analyse(
    graph: Graph,
    current: FloatArray,
    previous: FloatArray,
    *,
    confidence: float = 0.95,
    fdr: bool = True,
) -> Analysis:
    """Gi*, classes and trends for this period's and the previous period's counts."""
    check_confidence(confidence)
    z, p = gi_star(graph, current)
    z_before, p_before = gi_star(graph, previous)
    classes = classify(z, p, confidence=confidence, fdr=fdr)
    before = classify(z_before, p_before, confidence=confidence, fdr=fdr)
    trends = [
        trend(now, was, z_now=float(z_now), z_before=float(z_was))
        for now, was, z_now, z_was in zip(classes, before, z, z_before, strict=True)
    ]
    return Analysis(z, p, classes, trends, message=_message(current))


def _message(current: FloatArray) -> str | None:
    if len(current) < MIN_CELLS:
        return TOO_FEW_CELLS
    if current.sum() == 0:
        return NO_REPORTS
    if np.ptp(current) == 0:
        return ALL_EQUAL
    return None


def warm_up() -> None:
    """Import esda and run Gi* once on a 3×3 grid, so the first request does not pay for it."""
    from libpysal.graph import Graph

    side = 3
    pairs = [
        (row * side + column, (row + dr) * side + column + dc)
        for row in range(side)
        for column in range(side)
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
        if 0 <= row + dr < side and 0 <= column + dc < side
    ]
    focal, neighbor = np.array(pairs).T
    graph = Graph.from_arrays(focal, neighbor, np.ones(len(pairs)))
    gi_star(graph, np.arange(side * side, dtype=np.float64))
