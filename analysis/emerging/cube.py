"""Emerging hot spot analysis of a space-time cube (pure: arrays and a libpysal graph in, arrays
and categories out).

Gi* per period: esda's `G_Local(star=True, transform="B")` analytical z-score (the formulas of
`esda.getisord.G_Local.calc`), computed for every period at once from the same star-weights
matrix esda builds (binary, each location its own neighbour), one sparse product for the
whole cube instead of one `G_Local` per period (the test checks it against `G_Local`). p-values
are two-sided from the normal approximation, as on the hot spot map; `fdr` adjusts them
(Benjamini-Hochberg) within each period before the significance threshold.

Trend: the Mann-Kendall test of each location's z-scores against time, which is Kendall's tau
between the series and the period index (`scipy.stats.kendalltau`, tau-b, which equals
Mann-Kendall's tau when no two z-scores tie, and its two-sided p). It is run for the locations
with at least one significant period: every rule but "no pattern" needs one, so elsewhere the
trend could not change the category (at 100,000 locations the test is most of the time); there
tau is NaN.

Differences from sfdep's `emerging_hotspot_analysis` (defaults k = 1, nsim = 199, threshold
0.01): the neighbourhood is spatial only (k = 0: no time-lagged neighbours), the weights binary
rather than row-standardised (as the hot spot map), p-values analytical (normal approximation,
two-sided) rather than from 199 conditional permutations (at 100,000 locations × 52 periods the
permutations cost minutes), and the threshold is `alpha` = 1 − confidence for both the Gi* bins
and the trend, as sfdep uses its one threshold for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

from analysis.emerging.categories import EmergingCategory, classify

if TYPE_CHECKING:
    from libpysal.graph import Graph

FloatArray = npt.NDArray[np.float64]
CONFIDENCES = (0.90, 0.95, 0.99)
MIN_LOCATIONS = 3  # Gi* needs neighbours and a spread of values
MIN_PERIODS = 3  # a trend needs at least three points


@dataclass(frozen=True)
class EmergingResult:
    """Per location (rows, in the graph's order): the category, Mann-Kendall tau and p (NaN
    where no period is significant), the Gi* z-scores and p-values per period (locations ×
    periods) and how many periods were hot and cold."""

    categories: list[EmergingCategory]
    tau: FloatArray
    trend_p: FloatArray
    z: FloatArray
    p: FloatArray
    hot_periods: npt.NDArray[np.int64]
    cold_periods: npt.NDArray[np.int64]


def star_matrix(graph: Graph) -> sparse.csr_matrix:
    """The binary weights with each location its own neighbour, as esda's G_Local(star=True)
    builds them."""
    star = graph.assign_self_weight(1.0).transform("B")
    return sparse.csr_matrix(star.sparse, dtype=np.float64)


def gi_star_cube(star: sparse.csr_matrix, counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gi* z-scores and two-sided p-values of each period's counts (locations × periods); z = 0,
    p = 1 in a period whose counts do not vary."""
    n = counts.shape[0]
    total = counts.sum(axis=0)
    statistic = (star @ counts) / np.where(total == 0, 1.0, total)
    mean = total / n
    variance = (counts**2).sum(axis=0) / n - mean**2
    cardinality = np.asarray(star.sum(axis=1)).ravel()[:, None]
    expected = cardinality / n
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_variance = cardinality * (n - cardinality) / (n - 1) / n**2
        expected_variance = expected_variance * variance / mean**2
        z = (statistic - expected) / np.sqrt(expected_variance)
    z[:, (variance <= 1e-12 * np.maximum(mean**2, 1.0)) | (total == 0)] = 0.0
    z = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    return z, np.clip(2 * stats.norm.sf(np.abs(z)), 0.0, 1.0)


def mann_kendall(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mann-Kendall tau and two-sided p of each row (a location's z-scores, oldest first)."""
    periods = np.broadcast_to(np.arange(z.shape[1], dtype=np.float64), z.shape)
    result = stats.kendalltau(periods, z, axis=1)
    return np.asarray(result.statistic, np.float64), np.asarray(result.pvalue, np.float64)


def significant_bins(p: FloatArray, *, alpha: float, fdr: bool) -> npt.NDArray[np.bool_]:
    """Which bins pass `alpha`, after a Benjamini-Hochberg adjustment within each period."""
    adjusted = stats.false_discovery_control(p, axis=0, method="bh") if fdr else p
    return np.asarray(adjusted <= alpha + 1e-12)


def check_confidence(confidence: float) -> float:
    """alpha = 1 − confidence; ValueError unless confidence is 0.90, 0.95 or 0.99."""
    if confidence not in CONFIDENCES:
        raise ValueError("confidence is 0.90, 0.95 or 0.99")
    return round(1 - confidence, 2)


def emerging_hot_spots(
    graph: Graph, counts: FloatArray, *, confidence: float = 0.95, fdr: bool = True
) -> EmergingResult:
    """The emerging hot spot analysis of `counts` (locations in the graph's order × periods,
    oldest first)."""
    alpha = check_confidence(confidence)
    locations, periods = counts.shape
    if locations < MIN_LOCATIONS or periods < MIN_PERIODS:
        z = np.zeros(counts.shape)
        untested = np.full(locations, np.nan)
        return EmergingResult(
            [EmergingCategory.NONE] * locations, untested, untested, z, z + 1,
            np.zeros(locations, np.int64), np.zeros(locations, np.int64),
        )  # fmt: skip
    z, p = gi_star_cube(star_matrix(graph), counts.astype(np.float64))
    significant = significant_bins(p, alpha=alpha, fdr=fdr)
    tested = significant.any(axis=1)
    tau, trend_p = np.full(locations, np.nan), np.full(locations, np.nan)
    if tested.any():
        tau[tested], trend_p[tested] = mann_kendall(z[tested])
    categories = classify(z, significant, tau, trend_p, alpha=alpha)
    return EmergingResult(
        categories,
        tau,
        trend_p,
        z,
        p,
        (significant & (z > 0)).sum(axis=1),
        (significant & (z < 0)).sum(axis=1),
    )
