"""Performance evaluation (绩效评价), pure: the indicators per group kind, rates, the weighted
overall score and the grade.

The service counts in SQL (one GROUP BY statement per group kind); this module turns the counts
of one group into its rates, score and grade. The definitions of the counts are in the README
section "Performance evaluation" and in `dispatch/evaluation_service.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from citygrid.errors import InvalidInput

MAX_PERIOD_DAYS = 366
M2_PER_KM2 = 1_000_000.0


class GroupKind(enum.StrEnum):
    DEPARTMENT = "department"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    INSPECTOR = "inspector"


AREA_KINDS = frozenset({GroupKind.DISTRICT, GroupKind.STREET, GroupKind.COMMUNITY})


@dataclass(frozen=True)
class Ratio:
    """A rate = numerator / denominator, both counts of the group."""

    name: str
    numerator: str
    denominator: str


@dataclass(frozen=True)
class ScoreComponent:
    """A rate's share of the overall score; a rate where lower is better counts as 1 - rate."""

    rate: str
    weight: float
    higher_is_better: bool = True


# The counts the service returns per group kind, in output order.
COUNTS: dict[str, tuple[str, ...]] = {
    "department": (
        "dispatched",
        "returned",
        "due_to_handle",
        "handled",
        "handled_on_time",
        "overdue",
        "reworked",
        "postponements",
        "closed_cases",
        "recurred",
    ),
    "area": ("reported", "filed", "due_to_close", "closed", "closed_on_time"),
    "inspector": ("reports", "valid_reports", "verifications", "verifications_on_time"),
}

RATIOS: dict[str, tuple[Ratio, ...]] = {
    "department": (
        Ratio("handling_rate", "handled", "due_to_handle"),
        Ratio("on_time_handling_rate", "handled_on_time", "due_to_handle"),
        Ratio("return_rate", "returned", "dispatched"),
        Ratio("rework_rate", "reworked", "handled"),
        # Not in the score: the share of closed cases that came back (events.recurrence).
        Ratio("recurrence_rate", "recurred", "closed_cases"),
    ),
    "area": (
        Ratio("filing_rate", "filed", "reported"),
        Ratio("closure_rate", "closed", "due_to_close"),
        Ratio("on_time_closure_rate", "closed_on_time", "due_to_close"),
    ),
    "inspector": (
        Ratio("valid_report_rate", "valid_reports", "reports"),
        Ratio("on_time_verification_rate", "verifications_on_time", "verifications"),
    ),
}

SCORE_WEIGHTS: dict[str, tuple[ScoreComponent, ...]] = {
    "department": (
        ScoreComponent("on_time_handling_rate", 0.5),
        ScoreComponent("handling_rate", 0.2),
        ScoreComponent("rework_rate", 0.2, higher_is_better=False),
        ScoreComponent("return_rate", 0.1, higher_is_better=False),
    ),
    "area": (
        ScoreComponent("on_time_closure_rate", 0.6),
        ScoreComponent("closure_rate", 0.4),
    ),
    "inspector": (
        ScoreComponent("valid_report_rate", 0.5),
        ScoreComponent("on_time_verification_rate", 0.5),
    ),
}

# Lowest score of each grade, best first; below the last one: E.
GRADE_FLOORS: tuple[tuple[str, float], ...] = (("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", 40.0))
LOWEST_GRADE = "E"


def family_of(kind: GroupKind) -> str:
    """The indicator family of a group kind: department, area or inspector."""
    return "area" if kind in AREA_KINDS else kind.value


def rate(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero (no basis to judge)."""
    if denominator == 0:
        return None
    return numerator / denominator


def overall_score(rates: Mapping[str, float | None], kind: GroupKind) -> float | None:
    """The weighted score 0–100 over the rates that are defined (the weights of undefined ones
    are left out and the rest rescaled); None when none is defined."""
    defined = [
        component
        for component in SCORE_WEIGHTS[family_of(kind)]
        if rates.get(component.rate) is not None
    ]
    total_weight = sum(component.weight for component in defined)
    if total_weight == 0:
        return None
    weighted = sum(component.weight * _goodness(rates, component) for component in defined)
    return round(100.0 * weighted / total_weight, 2)


def _goodness(rates: Mapping[str, float | None], component: ScoreComponent) -> float:
    value = min(max(rates[component.rate] or 0.0, 0.0), 1.0)
    return value if component.higher_is_better else 1.0 - value


def grade(score: float | None) -> str | None:
    """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below; None for no score."""
    if score is None:
        return None
    for letter, floor in GRADE_FLOORS:
        if score >= floor:
            return letter
    return LOWEST_GRADE


def evaluated(kind: GroupKind, counts: Mapping[str, Any]) -> dict[str, Any]:
    """One group's counts with its rates (rounded to 4 places), derived figures, score (from the
    unrounded rates) and grade added."""
    family = family_of(kind)
    figures: dict[str, Any] = {name: int(counts.get(name) or 0) for name in COUNTS[family]}
    rates = {
        ratio.name: rate(figures[ratio.numerator], figures[ratio.denominator])
        for ratio in RATIOS[family]
    }
    figures.update({name: _rounded(value) for name, value in rates.items()})
    figures.update(_derived(family, counts, figures))
    score = overall_score(rates, kind)
    return {**figures, "score": score, "grade": grade(score)}


def _derived(family: str, counts: Mapping[str, Any], figures: Mapping[str, Any]) -> dict[str, Any]:
    """Figures that are not plain ratios of two counts: average hours, density."""
    if family == "department":
        hours = rate(float(counts.get("handling_hours_sum") or 0), counts.get("timed_handled") or 0)
        return {"average_handling_hours": _rounded(hours)}
    if family == "area":
        area_km2 = float(counts.get("area_m2") or 0) / M2_PER_KM2
        return {
            "area_km2": round(area_km2, 4),
            "cases_per_km2": _rounded(rate(figures["reported"], area_km2)),
        }
    return {}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


SUMMED_EXTRAS = ("handling_hours_sum", "timed_handled", "area_m2")


def totals(kind: GroupKind, groups: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The totals row: counts summed over the groups, rates and score recomputed from the sums."""
    names = COUNTS[family_of(kind)] + SUMMED_EXTRAS
    summed = {name: 0.0 for name in names}
    for group in groups:
        for name in names:
            summed[name] += float(group.get(name) or 0)
    return evaluated(kind, summed)


def output_fields(kind: GroupKind) -> tuple[str, ...]:
    """The figures of a group kind in output (and CSV column) order."""
    family = family_of(kind)
    ratios = tuple(ratio.name for ratio in RATIOS[family])
    derived: dict[str, tuple[str, ...]] = {
        "department": ("average_handling_hours",),
        "area": ("area_km2", "cases_per_km2"),
        "inspector": (),
    }
    return COUNTS[family] + ratios + derived[family] + ("score", "grade")


def period_bounds(
    period_from: datetime, period_to: datetime, time_zone: tzinfo
) -> tuple[datetime, datetime]:
    """[from, to) as aware date-times (naive ones are read in the city's time zone); InvalidInput
    naming the field when `to` is not after `from` or the span exceeds MAX_PERIOD_DAYS."""
    start, end = (_aware(moment, time_zone) for moment in (period_from, period_to))
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'", field="to")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInput(f"the period may span at most {MAX_PERIOD_DAYS} days", field="to")
    return start, end


def _aware(moment: datetime, time_zone: tzinfo) -> datetime:
    return moment.replace(tzinfo=time_zone) if moment.tzinfo is None else moment
