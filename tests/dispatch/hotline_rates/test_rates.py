"""The rates' definitions as plain values: table-driven, no database."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dispatch.hotline_rates.rates import (
    Counts,
    Weights,
    WeightsError,
    competition_ranks,
    percent,
    points,
    rates_of,
)


@pytest.mark.parametrize(
    ("counts", "response", "resolution", "satisfaction", "score"),
    [
        # 7 of 8 in time; 4 solved + 1 partly of 6 reached; 4 satisfied + 1 fair of 6.
        (
            Counts(response_due=8, responded_in_time=7, reached=6, solved=4, partly=1,
                   not_solved=1, satisfied=4, fair=1, unsatisfied=1),
            Fraction(7, 8), Fraction(3, 4), Fraction(3, 4), Fraction(7625, 100),
        ),
        # Nothing reached: no resolution, no satisfaction, no score.
        (Counts(response_due=2, responded_in_time=1), Fraction(1, 2), None, None, None),
        # Nothing due yet: no response rate, no score.
        (
            Counts(reached=1, solved=1, satisfied=1),
            None, Fraction(1), Fraction(1), None,
        ),
    ],
)  # fmt: skip
def test_rates_of_counts(
    counts: Counts,
    response: Fraction | None,
    resolution: Fraction | None,
    satisfaction: Fraction | None,
    score: Fraction | None,
) -> None:
    rates = rates_of(counts, Weights())
    assert (rates.response, rates.resolution, rates.satisfaction, rates.score) == (
        response,
        resolution,
        satisfaction,
        score,
    )


def test_credits_change_what_partly_and_fair_earn() -> None:
    counts = Counts(response_due=1, responded_in_time=1, reached=2, solved=1, partly=1,
                    satisfied=1, fair=1)  # fmt: skip
    full = rates_of(counts, Weights(partly_credit=Fraction(1), fair_credit=Fraction(0)))
    assert (full.resolution, full.satisfaction) == (Fraction(1), Fraction(1, 2))


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Fraction(2, 3), 66.67), (Fraction(1, 8), 12.5), (Fraction(13, 17), 76.47), (None, None)],
)
def test_percent_rounds_half_up_to_two_places(value: Fraction | None, shown: float | None) -> None:
    assert percent(value) == shown


def test_points_round_half_up() -> None:
    assert points(Fraction(81125, 1000)) == 81.13  # a float would round 81.125 down


@pytest.mark.parametrize(
    ("scores", "ranks"),
    [
        ([Fraction(50), Fraction(70), Fraction(60)], [3, 1, 2]),
        ([Fraction(70), Fraction(60), Fraction(70), Fraction(10)], [1, 3, 1, 4]),
        ([None, Fraction(1)], [None, 1]),
    ],
)
def test_competition_ranks(scores: list[Fraction | None], ranks: list[int | None]) -> None:
    assert competition_ranks(scores) == ranks


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"response": Fraction(2, 10)}, "add up to 1"),
        ({"partly_credit": Fraction(3, 2)}, "partly_credit must be between 0 and 1"),
    ],
)
def test_weights_refused(changes: dict[str, Fraction], message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        Weights(**changes)


def test_weights_from_settings_numbers_are_exact() -> None:
    weights = Weights.from_numbers(
        response=0.1, resolution=0.45, satisfaction=0.45, partly_credit=0.5, fair_credit=0.5
    )
    assert weights == Weights()
