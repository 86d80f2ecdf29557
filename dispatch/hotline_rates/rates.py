"""The three hotline rates (响应率·解决率·满意率), their score and the ranking (pure: plain values).

A unit's (or street's, community's, district's) figures for a period are counted over the
tickets received in the period (hotline_ticket.received_at, half-open [from, to)) that are
*counted*: not a consultation or praise (they open no work), not cancelled, and not an
unreasonable request (不合理诉求) a dispatcher approved — those are shown apart as
`excluded_unreasonable`. Each counted ticket is in its lead unit's row (主办单位) and in the
street, community and district of its cell.

========================  =====================================  ==============================
rate                      numerator                              denominator
========================  =====================================  ==============================
response rate 响应率       tickets whose caller was first         tickets with a first-contact
                          contacted by the limit                 limit that has passed or was
                          (first_contacted_at ≤ due)             met (first contact made, or
                                                                 due ≤ now)
resolution rate 解决率     solved + partly × `partly` credit      tickets whose caller was
                          (default ½)                            reached by a callback
satisfaction rate 满意率   satisfied + fair × `fair` credit        tickets whose caller was
                          (default ½)                            reached by a callback
========================  =====================================  ==============================

A ticket's callback answer is its latest reached callback (回访): after a rework, the second
callback's answer replaces the first. A caller the callbacks never reached (every try used) is
counted as `unreachable` and is in neither callback denominator. A ticket still inside its
first-contact limit and not yet contacted is not yet in the response denominator.

score = 100 × (w_response × response + w_resolution × resolution + w_satisfaction ×
satisfaction), weights configured (default 10 % / 45 % / 45 %, summing to 1). Everything is
computed in exact fractions; rates are shown in percent and the score in points, both rounded
half up to 2 decimals. A row whose three rates are not all defined has no score and no rank.
The ranking orders rows by exact score, highest first; equal scores share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

HUNDRED = Fraction(100)
TWO_PLACES = Decimal("0.01")


class RankingLevel(StrEnum):
    UNIT = "unit"  # the lead unit (主办单位): a department
    STREET = "street"  # 街道
    COMMUNITY = "community"  # 社区
    DISTRICT = "district"  # 区


class Solved(StrEnum):
    SOLVED = "solved"  # 已解决
    PARTLY = "partly"  # 部分解决
    NOT_SOLVED = "not_solved"  # 未解决


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    FAIR = "fair"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


# Ticket types that are recorded but never counted in the rates (they open no work).
UNCOUNTED_TYPES = ("consultation", "praise")


class WeightsError(ValueError):
    """Weights or credits that cannot make a score; says which and why."""


@dataclass(frozen=True)
class Weights:
    """The score's weights (fractions of 1) and the credit a partial answer earns."""

    response: Fraction = Fraction(1, 10)
    resolution: Fraction = Fraction(45, 100)
    satisfaction: Fraction = Fraction(45, 100)
    partly_credit: Fraction = Fraction(1, 2)  # a "partly solved" counts this much of a solved
    fair_credit: Fraction = Fraction(1, 2)  # a "fair" counts this much of a satisfied

    def __post_init__(self) -> None:
        for name in ("response", "resolution", "satisfaction", "partly_credit", "fair_credit"):
            if not 0 <= getattr(self, name) <= 1:
                raise WeightsError(f"{name} must be between 0 and 1")
        if self.response + self.resolution + self.satisfaction != 1:
            raise WeightsError("the three weights must add up to 1")

    @classmethod
    def from_numbers(
        cls,
        *,
        response: float,
        resolution: float,
        satisfaction: float,
        partly_credit: float,
        fair_credit: float,
    ) -> Weights:
        """Weights from settings' decimal numbers, read exactly as written (0.45 is 45/100)."""

        def exact(value: float) -> Fraction:
            return Fraction(str(value))

        return cls(
            exact(response),
            exact(resolution),
            exact(satisfaction),
            exact(partly_credit),
            exact(fair_credit),
        )


@dataclass(frozen=True)
class Counts:
    """One row's counted facts (see the module's table)."""

    tickets: int = 0  # counted tickets
    excluded_unreasonable: int = 0  # approved unreasonable requests, not counted
    response_due: int = 0
    responded_in_time: int = 0
    reached: int = 0
    solved: int = 0
    partly: int = 0
    not_solved: int = 0
    satisfied: int = 0
    fair: int = 0
    unsatisfied: int = 0
    unreachable: int = 0


@dataclass(frozen=True)
class Rates:
    """Exact rates (0..1) and score (0..100); None where the denominator is 0."""

    response: Fraction | None
    resolution: Fraction | None
    satisfaction: Fraction | None
    score: Fraction | None


def ratio(numerator: Fraction | int, denominator: int) -> Fraction | None:
    """numerator / denominator, None when there is nothing to divide by."""
    return Fraction(numerator) / denominator if denominator else None


def rates_of(counts: Counts, weights: Weights) -> Rates:
    """The three rates and the score of one row."""
    response = ratio(counts.responded_in_time, counts.response_due)
    resolution = ratio(counts.solved + weights.partly_credit * counts.partly, counts.reached)
    satisfaction = ratio(counts.satisfied + weights.fair_credit * counts.fair, counts.reached)
    score = None
    if response is not None and resolution is not None and satisfaction is not None:
        score = HUNDRED * (
            weights.response * response
            + weights.resolution * resolution
            + weights.satisfaction * satisfaction
        )
    return Rates(response, resolution, satisfaction, score)


def percent(rate: Fraction | None) -> float | None:
    """A rate in percent, rounded half up to 2 decimals (2/3 → 66.67)."""
    return None if rate is None else points(HUNDRED * rate)


def points(value: Fraction | None) -> float | None:
    """A score rounded half up to 2 decimals."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def competition_ranks(scores: Sequence[Fraction | None]) -> list[int | None]:
    """The rank of each score, highest first; equal scores share a rank (1, 2, 2, 4); no score,
    no rank."""
    ranked = sorted((score for score in scores if score is not None), reverse=True)
    first_place: dict[Fraction, int] = {}
    for place, score in enumerate(ranked, start=1):
        first_place.setdefault(score, place)
    return [None if score is None else first_place[score] for score in scores]
