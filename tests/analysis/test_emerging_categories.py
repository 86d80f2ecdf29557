"""Emerging hot spot categories and the space-time Gi* / Mann-Kendall behind them (pure).

Three checks:
- a fixture cube with planted patterns (a new, an intensifying, a diminishing, an oscillating,
  a historical and a consecutive hot spot, and a uniform control) run through the whole analysis
  gives every planted location its category and the control none;
- each category from a hand-made series of z-scores, hot and cold, table-driven;
- a cross-check against sfdep's published definitions: `sfdep_classification` below transcribes
  `R/emerging-hostpot-classifications.R` (github.com/JosiahParry/sfdep, commit 008a59b) line by
  line, and on the planted cube and on 3,000 random series it agrees with
  `analysis.emerging.categories.classify` location by location, except where sfdep's
  `intensifying_hotspot` counts cold periods as hot (`sum(sigs)`, not `sum(sigs & gs > 0)`):
  there sfdep says "intensifying hot" of a location cold in ≥ 90 % of periods whose z-scores
  rise, which ESRI's definitions (and this project) call a diminishing cold spot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest
from esda.getisord import G_Local
from libpysal.graph import Graph
from scipy import stats

from analysis.emerging import cube
from analysis.emerging.categories import EmergingCategory as C
from analysis.emerging.categories import classify
from analysis.emerging.periods import PeriodUnit, period_bounds

SIDE = 30
PERIODS = 52
ALPHA = 0.05
TIME = np.arange(PERIODS, dtype=np.float64)
BACKGROUND = 4.0  # cases per cell and week, Poisson
# Each pattern: the centre of a 3 × 3 block of cells whose every cell has this series of counts.
PLANTED: dict[str, tuple[tuple[int, int], npt.NDArray[np.float64], C]] = {
    "new": ((4, 4), np.r_[np.full(PERIODS - 1, BACKGROUND), 20.0], C.NEW_HOT),
    "intensifying": ((4, 14), 10 + 0.4 * TIME, C.INTENSIFYING_HOT),
    "diminishing": ((4, 24), 30 - 0.35 * TIME, C.DIMINISHING_HOT),
    "oscillating": (
        (14, 4),
        np.where(np.isin(TIME, [10, 30, 51]), 20.0, np.where(np.isin(TIME, [5, 20, 40]), 0, 4)),
        C.OSCILLATING_HOT,
    ),
    # Hot for 47 of 52 weeks (≥ 90 %), fading; the last five weeks a little below the city.
    "historical": ((14, 14), np.r_[30 - 0.4 * TIME[:47], np.full(5, 3.0)], C.HISTORICAL_HOT),
    "consecutive": ((24, 4), np.r_[np.full(PERIODS - 4, BACKGROUND), np.full(4, 20.0)],
                    C.CONSECUTIVE_HOT),
    "control": ((24, 24), np.full(PERIODS, BACKGROUND), C.NONE),
}  # fmt: skip


def grid_graph(side: int) -> Graph:
    """Queen contiguity over a side × side grid, cells numbered row by row."""
    index = np.arange(side * side).reshape(side, side)
    pairs = [
        (index[row, column], index[row + dr, column + dc])
        for row in range(side)
        for column in range(side)
        for dr in (-1, 0, 1)
        for dc in (-1, 0, 1)
        if (dr, dc) != (0, 0) and 0 <= row + dr < side and 0 <= column + dc < side
    ]
    focal, neighbor = np.array(pairs).T
    return Graph.from_arrays(focal, neighbor, np.ones(len(pairs)))


def planted_cube() -> npt.NDArray[np.float64]:
    """Poisson(4) counts per cell and week, the planted blocks overwritten."""
    counts = np.random.default_rng(20).poisson(BACKGROUND, (SIDE * SIDE, PERIODS)).astype(float)
    for (row, column), series, _ in PLANTED.values():
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                counts[(row + dr) * SIDE + column + dc] = series
    return counts


@pytest.fixture(scope="module")
def planted() -> cube.EmergingResult:
    return cube.emerging_hot_spots(grid_graph(SIDE), planted_cube(), confidence=0.95)


@pytest.mark.parametrize("name", list(PLANTED))
def test_every_planted_location_gets_its_category(planted: cube.EmergingResult, name: str) -> None:
    (row, column), _, expected = PLANTED[name]
    assert planted.categories[row * SIDE + column] is expected


def test_the_uniform_control_has_no_significant_period_and_no_trend(
    planted: cube.EmergingResult,
) -> None:
    (row, column), _, _ = PLANTED["control"]
    control = row * SIDE + column
    assert planted.hot_periods[control] == planted.cold_periods[control] == 0
    assert np.isnan(planted.tau[control])  # untested: no category could need the trend


def test_the_trends_have_the_planted_direction(planted: cube.EmergingResult) -> None:
    def at(name: str) -> int:
        (row, column), _, _ = PLANTED[name]
        return row * SIDE + column

    assert planted.tau[at("intensifying")] > 0.9 and planted.trend_p[at("intensifying")] < 1e-6
    assert planted.tau[at("diminishing")] < -0.9 and planted.trend_p[at("diminishing")] < 1e-6


def test_gi_star_per_period_is_esdas_g_local() -> None:
    """The vectorised Gi* equals esda's G_Local(star=True, binary) period by period."""
    graph = grid_graph(12)
    counts = np.random.default_rng(3).poisson(2, (144, 6)).astype(float)
    counts[:, 4] = 5.0  # a period without variation: z = 0
    z, p = cube.gi_star_cube(cube.star_matrix(graph), counts)
    for period in (0, 1, 2, 3, 5):
        local = G_Local(counts[:, period], graph, transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[:, period], local.Zs, atol=1e-10)
        np.testing.assert_allclose(p[:, period], 2 * local.p_norm, atol=1e-10)
    assert not z[:, 4].any() and (p[:, 4] == 1).all()


def test_mann_kendall_is_kendalls_tau_against_time() -> None:
    z = np.random.default_rng(5).normal(size=(4, 20))
    tau, p = cube.mann_kendall(z)
    for row in range(4):
        expected = stats.kendalltau(np.arange(20), z[row])
        assert tau[row] == pytest.approx(expected.statistic)
        assert p[row] == pytest.approx(expected.pvalue)


def series(hot: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """z and significance from a string, one letter a period: H hot (z 3), C cold (z −3),
    h / c not significant with z 1 / −1."""
    z = np.array([{"H": 3.0, "C": -3.0, "h": 1.0, "c": -1.0}[letter] for letter in hot])
    return z, np.array([letter in "HC" for letter in hot])


CASES = [  # ten periods: 90 % is nine of them
    # (series, tau, trend p, category)
    ("hhhhhhhhhH", 0.0, 1.0, C.NEW_HOT),
    ("cccccccccC", 0.0, 1.0, C.NEW_COLD),
    ("hhhhhhhHHH", 0.5, 0.01, C.CONSECUTIVE_HOT),
    ("cccccccCCC", -0.5, 0.01, C.CONSECUTIVE_COLD),
    ("hHHHHHHHHH", 0.6, 0.01, C.INTENSIFYING_HOT),
    ("cCCCCCCCCC", -0.6, 0.01, C.INTENSIFYING_COLD),
    ("HHHHHHHHHH", 0.1, 0.60, C.PERSISTENT_HOT),
    ("CCCCCCCCCC", 0.1, 0.60, C.PERSISTENT_COLD),
    ("HHHHHHHHHH", -0.6, 0.01, C.DIMINISHING_HOT),
    ("CCCCCCCCCC", 0.6, 0.01, C.DIMINISHING_COLD),
    ("hHhChhHhhH", 0.1, 0.60, C.OSCILLATING_HOT),
    ("cCcHccCccC", 0.1, 0.60, C.OSCILLATING_COLD),
    ("HHHHHHHHHc", -0.6, 0.01, C.HISTORICAL_HOT),
    ("CCCCCCCCCh", 0.6, 0.01, C.HISTORICAL_COLD),
    ("hHhhHhhhHh", 0.1, 0.60, C.SPORADIC_HOT),
    ("cCccCcccCc", 0.1, 0.60, C.SPORADIC_COLD),
    ("hchchchchc", 0.0, 1.0, C.NONE),
    # sfdep's order: hot for ≥ 90 % of periods, the last z < 0, no significant trend: persistent
    ("HHHHHHHHHc", -0.2, 0.40, C.PERSISTENT_HOT),
]


@pytest.mark.parametrize(("letters", "tau", "trend_p", "expected"), CASES)
def test_each_category_from_its_definition(
    letters: str, tau: float, trend_p: float, expected: C
) -> None:
    z, significant = series(letters)
    found = classify(z[None, :], significant[None, :], np.array([tau]), np.array([trend_p]),
                     alpha=ALPHA)  # fmt: skip
    assert found == [expected]
    assert sfdep_classification(z, significant, tau, trend_p, ALPHA, CORRECTED) == expected.value


def test_sfdep_calls_a_cold_spot_that_warms_up_intensifying_hot() -> None:
    """The one place this project departs from sfdep's code (see the module docstring)."""
    z, significant = series("CCCCCCCCCC")
    assert sfdep_classification(z, significant, 0.6, 0.01, ALPHA) == "intensifying_hot"
    found = classify(z[None, :], significant[None, :], np.array([0.6]), np.array([0.01]),
                     alpha=ALPHA)  # fmt: skip
    assert found == [C.DIMINISHING_COLD]


def test_shapes_must_agree() -> None:
    with pytest.raises(ValueError, match="same shape"):
        classify(np.zeros((2, 3)), np.zeros((2, 4), bool), np.zeros(2), np.ones(2), alpha=0.05)


# sfdep's published definitions, transcribed line by line from R (`gs` the z-scores, `sigs`
# the significant periods, `n` their number; R's 1-based `gs[n]` is `gs[-1]`). The name of each
# function and the order of FXS are sfdep's.
Predicate = Callable[..., bool]


def _final_run(sigs: npt.NDArray[np.bool_]) -> int:
    # which(diff(cumsum(c(rev(sigs), FALSE))) == 0)[1]
    cumulative = np.cumsum(np.r_[sigs[::-1], False])
    return int(np.flatnonzero(np.diff(cumulative) == 0)[0]) + 1


def new_hotspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return sigs.sum() == 1 and sigs[-1] and gs[-1] > 0


def consecutive_hotspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    if not (sigs[-1] and gs[-1] > 0):
        return False
    run = np.arange(n - _final_run(sigs), n)
    before = np.setdiff1d(np.arange(n), run)
    return bool(
        (~sigs[before]).all() and sigs[run].all()
        and not (sigs[before] & (gs[before] > 0)).any()
        and (sigs & (gs > 0)).sum() / n < 0.9
    )  # fmt: skip


def intensifying_hotspot(gs, sigs, n, tau, tau_p, threshold, **_):  # type: ignore[no-untyped-def]
    return sigs.sum() / n >= 0.9 and sigs[-1] and tau > 0 and tau_p < threshold


def persistent_hotspot(gs, sigs, tau_p, threshold, n, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs > 0)).sum() / n >= 0.9 and tau_p > threshold


def diminishing_hotspot(gs, sigs, tau, tau_p, threshold, n, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs > 0)).sum() / n >= 0.9 and sigs[-1] and tau < 0 and tau_p <= threshold


def sporadic_hotspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    hot, cold = sigs & (gs > 0), sigs & (gs < 0)
    return hot.sum() / n < 0.9 and not cold.any() and hot.any()


def sporadic_coldspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    hot, cold = sigs & (gs > 0), sigs & (gs < 0)
    return cold.sum() / n < 0.9 and not hot.any() and cold.any()


def oscilating_hotspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return ((gs > 0) & sigs).sum() / n <= 0.9 and gs[-1] > 0 and sigs[-1] and (
        (gs < 0) & sigs).any()  # fmt: skip


def historical_hotspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs > 0)).sum() / n >= 0.9 and gs[-1] < 0


def new_coldspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return sigs.sum() == 1 and sigs[-1] and gs[-1] < 0


def consecutive_coldspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    if not (sigs[-1] and gs[-1] < 0):
        return False
    run = np.arange(n - _final_run(sigs), n)
    before = np.setdiff1d(np.arange(n), run)
    # sfdep checks `gs[-run_index] > 0` here too (the hot-spot line, kept as written).
    return bool(
        (~sigs[before]).all() and sigs[run].all()
        and not (sigs[before] & (gs[before] > 0)).any()
        and (sigs & (gs < 0)).sum() / n < 0.9
    )  # fmt: skip


def intensifying_coldspot(gs, sigs, n, tau, tau_p, threshold, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs < 0)).sum() / n >= 0.9 and sigs[-1] and tau < 0 and tau_p <= threshold


def persistent_coldspot(gs, sigs, n, tau_p, threshold, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs < 0)).sum() / n >= 0.9 and tau_p > threshold


def diminishing_coldspot(gs, sigs, n, tau, tau_p, threshold, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs < 0)).sum() / n >= 0.9 and sigs[-1] and tau > 0 and tau_p <= threshold


def oscilating_coldspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return ((gs < 0) & sigs).sum() / n < 0.9 and gs[-1] < 0 and sigs[-1] and (
        (gs > 0) & sigs).any()  # fmt: skip


def historical_coldspot(gs, sigs, n, **_):  # type: ignore[no-untyped-def]
    return gs[-1] > 0 and (sigs & (gs < 0)).sum() / n >= 0.9


FXS: list[tuple[str, Predicate]] = [
    ("new_hot", new_hotspot),
    ("new_cold", new_coldspot),
    ("consecutive_hot", consecutive_hotspot),
    ("consecutive_cold", consecutive_coldspot),
    ("intensifying_hot", intensifying_hotspot),
    ("intensifying_cold", intensifying_coldspot),
    ("persistent_hot", persistent_hotspot),
    ("persistent_cold", persistent_coldspot),
    ("diminishing_hot", diminishing_hotspot),
    ("diminishing_cold", diminishing_coldspot),
    ("oscillating_hot", oscilating_hotspot),
    ("oscillating_cold", oscilating_coldspot),
    ("historical_hot", historical_hotspot),
    ("historical_cold", historical_coldspot),
    ("sporadic_hot", sporadic_hotspot),
    ("sporadic_cold", sporadic_coldspot),
]


def intensifying_hotspot_as_esri_defines_it(gs, sigs, n, tau, tau_p, threshold, **_):  # type: ignore[no-untyped-def]
    return (sigs & (gs > 0)).sum() / n >= 0.9 and sigs[-1] and tau > 0 and tau_p < threshold


# sfdep's list with the one correction this project makes (see the module docstring).
CORRECTED = [
    (name, intensifying_hotspot_as_esri_defines_it if name == "intensifying_hot" else holds)
    for name, holds in FXS
]


def sfdep_classification(
    gs: npt.NDArray[np.float64], sigs: npt.NDArray[np.bool_], tau: float, tau_p: float,
    threshold: float, fxs: list[tuple[str, Predicate]] = FXS,
) -> str:  # fmt: skip
    """The first of sfdep's predicates that holds ("none": "no pattern detected")."""
    arguments = {"gs": gs, "sigs": sigs, "n": len(gs), "tau": tau, "tau_p": tau_p,
                 "threshold": threshold}  # fmt: skip
    return next((name for name, holds in fxs if holds(**arguments)), "none")


def agrees_with_sfdep(
    found: C, z: npt.NDArray[np.float64], sigs: npt.NDArray[np.bool_], tau: float, tau_p: float
) -> bool:
    """Whether `found` is sfdep's answer, or (only where sfdep calls a location that is not
    mostly hot "intensifying hot") the corrected list's answer."""
    tau, tau_p = float(np.nan_to_num(tau, nan=0.0)), float(np.nan_to_num(tau_p, nan=1.0))
    published = sfdep_classification(z, sigs, tau, tau_p, ALPHA)
    if found.value == published:
        return True
    mostly_hot = (sigs & (z > 0)).sum() / len(z) >= 0.9
    return (
        published == "intensifying_hot"
        and not mostly_hot
        and found.value == (sfdep_classification(z, sigs, tau, tau_p, ALPHA, CORRECTED))
    )


def test_the_planted_cube_agrees_with_sfdeps_definitions(planted: cube.EmergingResult) -> None:
    significant = cube.significant_bins(planted.p, alpha=ALPHA, fdr=True)
    for location in range(SIDE * SIDE):
        assert agrees_with_sfdep(
            planted.categories[location],
            planted.z[location],
            significant[location],
            planted.tau[location],
            planted.trend_p[location],
        ), location


def test_random_series_agree_with_sfdeps_definitions() -> None:
    """3,000 random series of 12 periods (a level, a slope and noise; |z| > 1.96 significant, some
    of those dropped), so that every rule is reached."""
    rng = np.random.default_rng(11)
    locations, periods = 3_000, 12
    level = rng.choice([-5.0, 0.0, 5.0], (locations, 1))
    slope = rng.choice([-0.8, 0.0, 0.8], (locations, 1))
    z = (
        level
        + slope * (np.arange(periods) - periods / 2)
        + rng.normal(0, 1.5, (locations, periods))
    )
    kept = rng.random((locations, periods)) < rng.choice([0.3, 0.97, 1.0], (locations, 1))
    significant = (np.abs(z) > 1.96) & kept
    tau, trend_p = cube.mann_kendall(z)
    found = classify(z, significant, tau, trend_p, alpha=ALPHA)
    for location in range(locations):
        assert agrees_with_sfdep(
            found[location], z[location], significant[location], tau[location], trend_p[location]
        ), location
    assert len(set(found)) == len(C)  # every category was reached


@pytest.mark.parametrize(
    ("unit", "end", "first", "last"),
    [
        # Thursday 3 December 2026 in Beijing: the last whole week is 23–30 November.
        (PeriodUnit.WEEK, datetime(2026, 12, 3, 2, tzinfo=UTC), "2026-09-14", "2026-11-30"),
        # 30 November 17:00 UTC is already 1 December in Beijing: November is whole.
        (PeriodUnit.MONTH, datetime(2026, 11, 30, 17, tzinfo=UTC), "2026-06-01", "2026-12-01"),
    ],
)
def test_periods_are_whole_weeks_or_months_in_city_time(
    unit: PeriodUnit, end: datetime, first: str, last: str
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    periods = 11 if unit is PeriodUnit.WEEK else 6
    bounds = period_bounds(unit, end=end, periods=periods, zone=zone)
    assert len(bounds) == periods + 1
    assert bounds[0].date().isoformat() == first and bounds[-1].date().isoformat() == last
    assert all(bound.hour == 0 and bound.tzinfo is zone for bound in bounds)


def test_too_few_or_too_many_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="between 3 and 260"):
        period_bounds(PeriodUnit.WEEK, end=datetime.now(UTC), periods=2, zone=UTC)
