"""The emerging hot spot categories (pure): given every location's Gi* z-scores per period, which
periods are significant and its Mann-Kendall trend, the category each location falls in.

The rules are those of R's sfdep (`R/emerging-hostpot-classifications.R` and `classify_hotspot`
in `R/emerging-hostpot-analysis.R`, github.com/JosiahParry/sfdep at 008a59b), which implement
ESRI's published definitions ("How Emerging Hot Spot Analysis works", ArcGIS Pro). As in sfdep
the rules are tried in this order and the first that holds wins; `n` is the number of periods,
"hot" a period whose Gi* is significant with z > 0, "cold" one significant with z < 0, and the
trend significant when its p ≤ alpha (intensifying hot: p < alpha, as sfdep writes it):

- new hot / cold: exactly one significant period, the last, hot / cold;
- consecutive hot / cold: the last period hot / cold, every significant period in one final
  uninterrupted run, fewer than 90 % of periods hot / cold;
- intensifying hot: ≥ 90 % hot, the last significant, trend up (see below); intensifying cold:
  ≥ 90 % cold, the last significant, trend down;
- persistent hot / cold: ≥ 90 % hot / cold, no significant trend;
- diminishing hot: ≥ 90 % hot, the last significant, trend down; diminishing cold: ≥ 90 %
  cold, the last significant, trend up;
- oscillating hot: ≤ 90 % hot, the last hot, some period cold; oscillating cold: < 90 % cold,
  the last cold, some period hot;
- historical hot: ≥ 90 % hot, the last z < 0; historical cold: ≥ 90 % cold, the last z > 0;
- sporadic hot / cold: < 90 % hot / cold, at least one hot / cold period, none cold / hot;
- otherwise none ("no pattern detected").

Where ESRI's text and sfdep's code differ, the code is followed (the cross-check in
tests/analysis/test_emerging_categories.py runs a line-by-line transcription of it): sporadic
does not require the last period to be hot; historical requires the last z-score below zero, and
as persistent is tried first, a location hot for ≥ 90 % of periods whose trend is not
significant is persistent, not historical.

One exception: sfdep's `intensifying_hotspot` counts the significant periods of either sign
(`sum(sigs) / n >= .9`), so a location cold in ≥ 90 % of periods whose z-scores rise (ESRI's
diminishing cold spot) comes out as an intensifying hot spot, and diminishing cold is never
reached. Here intensifying hot needs ≥ 90 % hot periods, as ESRI defines it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
MOST_PERIODS = 0.9  # ESRI's "90 percent of the time-step intervals"


class EmergingCategory(enum.StrEnum):
    NEW_HOT = "new_hot"
    CONSECUTIVE_HOT = "consecutive_hot"
    INTENSIFYING_HOT = "intensifying_hot"
    PERSISTENT_HOT = "persistent_hot"
    DIMINISHING_HOT = "diminishing_hot"
    SPORADIC_HOT = "sporadic_hot"
    OSCILLATING_HOT = "oscillating_hot"
    HISTORICAL_HOT = "historical_hot"
    NEW_COLD = "new_cold"
    CONSECUTIVE_COLD = "consecutive_cold"
    INTENSIFYING_COLD = "intensifying_cold"
    PERSISTENT_COLD = "persistent_cold"
    DIMINISHING_COLD = "diminishing_cold"
    SPORADIC_COLD = "sporadic_cold"
    OSCILLATING_COLD = "oscillating_cold"
    HISTORICAL_COLD = "historical_cold"
    NONE = "none"  # no pattern detected


HOT_CATEGORIES = frozenset(c for c in EmergingCategory if c.value.endswith("_hot"))
COLD_CATEGORIES = frozenset(c for c in EmergingCategory if c.value.endswith("_cold"))


@dataclass(frozen=True)
class Series:
    """What the rules read of each location's series (arrays over locations)."""

    periods: int
    hot: npt.NDArray[np.int64]  # periods hot
    cold: npt.NDArray[np.int64]  # periods cold
    significant: npt.NDArray[np.int64]  # periods significant (hot or cold)
    final_run: npt.NDArray[np.int64]  # significant periods in the run ending at the last one
    last_significant: BoolArray
    last_z: FloatArray

    def share_at_least(self, counts: npt.NDArray[np.int64]) -> BoolArray:
        """counts / n ≥ 90 % (in integers, so 0.9 is not rounded)."""
        return np.asarray(10 * counts >= 9 * self.periods)

    def share_below(self, counts: npt.NDArray[np.int64]) -> BoolArray:
        """counts / n < 90 %."""
        return ~self.share_at_least(counts)


def summarise(z: FloatArray, significant: BoolArray) -> Series:
    """The counts the rules read, from z and significance (locations × periods)."""
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    # Length of the final run of significant periods: position of the last non-significant one.
    reversed_significant = significant[:, ::-1]
    none_missing = reversed_significant.all(axis=1)
    first_gap = np.argmin(reversed_significant, axis=1)
    final_run = np.where(none_missing, significant.shape[1], first_gap)
    return Series(
        periods=z.shape[1],
        hot=hot.sum(axis=1),
        cold=cold.sum(axis=1),
        significant=significant.sum(axis=1),
        final_run=final_run.astype(np.int64),
        last_significant=significant[:, -1],
        last_z=z[:, -1],
    )


def rules(
    s: Series, tau: FloatArray, trend_p: FloatArray, alpha: float
) -> list[tuple[EmergingCategory, BoolArray]]:
    """sfdep's predicates in sfdep's order (`fxs`), each over all locations."""
    last_hot = s.last_significant & (s.last_z > 0)
    last_cold = s.last_significant & (s.last_z < 0)
    trend = trend_p <= alpha
    only_final_run = s.significant == s.final_run
    mostly_hot, mostly_cold = s.share_at_least(s.hot), s.share_at_least(s.cold)
    return [
        (EmergingCategory.NEW_HOT, (s.significant == 1) & last_hot),
        (EmergingCategory.NEW_COLD, (s.significant == 1) & last_cold),
        (EmergingCategory.CONSECUTIVE_HOT, last_hot & only_final_run & s.share_below(s.hot)),
        (EmergingCategory.CONSECUTIVE_COLD, last_cold & only_final_run & s.share_below(s.cold)),
        (
            EmergingCategory.INTENSIFYING_HOT,
            mostly_hot & s.last_significant & (tau > 0) & (trend_p < alpha),
        ),
        (EmergingCategory.INTENSIFYING_COLD, mostly_cold & s.last_significant & (tau < 0) & trend),
        (EmergingCategory.PERSISTENT_HOT, mostly_hot & ~trend),
        (EmergingCategory.PERSISTENT_COLD, mostly_cold & ~trend),
        (EmergingCategory.DIMINISHING_HOT, mostly_hot & s.last_significant & (tau < 0) & trend),
        (EmergingCategory.DIMINISHING_COLD, mostly_cold & s.last_significant & (tau > 0) & trend),
        (
            EmergingCategory.OSCILLATING_HOT,
            (10 * s.hot <= 9 * s.periods) & last_hot & (s.cold > 0),
        ),
        (EmergingCategory.OSCILLATING_COLD, s.share_below(s.cold) & last_cold & (s.hot > 0)),
        (EmergingCategory.HISTORICAL_HOT, mostly_hot & (s.last_z < 0)),
        (EmergingCategory.HISTORICAL_COLD, (s.last_z > 0) & mostly_cold),
        (EmergingCategory.SPORADIC_HOT, s.share_below(s.hot) & (s.cold == 0) & (s.hot > 0)),
        (EmergingCategory.SPORADIC_COLD, s.share_below(s.cold) & (s.hot == 0) & (s.cold > 0)),
    ]


def classify(
    z: FloatArray,
    significant: BoolArray,
    tau: FloatArray,
    trend_p: FloatArray,
    *,
    alpha: float,
) -> list[EmergingCategory]:
    """The category of each location (rows of `z` and `significant`, locations × periods, oldest
    period first), from its Mann-Kendall `tau` and `trend_p`; NaN tau (a constant series) counts
    as no trend."""
    if z.shape != significant.shape or z.ndim != 2:
        raise ValueError("z and significant are locations × periods arrays of the same shape")
    if z.shape[1] == 0:
        return [EmergingCategory.NONE] * z.shape[0]
    tau = np.nan_to_num(tau, nan=0.0)
    trend_p = np.nan_to_num(trend_p, nan=1.0)
    table = rules(summarise(z, significant), tau, trend_p, alpha)
    codes = np.select([held for _, held in table], list(range(len(table))), default=len(table))
    names = [category for category, _ in table] + [EmergingCategory.NONE]
    return [names[code] for code in codes.tolist()]
