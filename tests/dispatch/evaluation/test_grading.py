"""The pure evaluation module: rates, the weighted score, grades and periods."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citygrid.errors import InvalidInput
from dispatch.evaluation.grading import (
    SCORE_WEIGHTS,
    GroupKind,
    evaluated,
    grade,
    output_fields,
    overall_score,
    period_bounds,
    rate,
    totals,
)

BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(3, 4, 0.75), (0, 4, 0.0), (4, 4, 1.0), (0, 0, None), (5, 0, None)],
)
def test_rate_is_none_without_a_denominator(
    numerator: int, denominator: int, expected: float | None
) -> None:
    assert rate(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (100.0, "A"),
        (90.0, "A"),
        (89.99, "B"),
        (75.0, "B"),
        (74.99, "C"),
        (60.0, "C"),
        (59.99, "D"),
        (40.0, "D"),
        (39.99, "E"),
        (0.0, "E"),
        (None, None),
    ],
)
def test_grade_boundaries(score: float | None, expected: str | None) -> None:
    assert grade(score) == expected


@pytest.mark.parametrize("family", ["department", "area", "inspector"])
def test_the_weights_of_each_family_add_up_to_one(family: str) -> None:
    assert sum(component.weight for component in SCORE_WEIGHTS[family]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        # .5 × on time + .2 × handled + .2 × (1 - rework) + .1 × (1 - return)
        (
            {
                "on_time_handling_rate": 1.0,
                "handling_rate": 1.0,
                "rework_rate": 0.0,
                "return_rate": 0.0,
            },
            100.0,
        ),
        (
            {
                "on_time_handling_rate": 0.6,
                "handling_rate": 0.8,
                "rework_rate": 0.25,
                "return_rate": 0.5,
            },
            66.0,  # .3 + .16 + .15 + .05
        ),
        # undefined rework rate (nothing handled): its weight is left out, the rest rescaled
        (
            {
                "on_time_handling_rate": 0.0,
                "handling_rate": 0.0,
                "rework_rate": None,
                "return_rate": 0.0,
            },
            12.5,
        ),
        ({"on_time_handling_rate": None, "handling_rate": None, "return_rate": None}, None),
    ],
)
def test_department_score(rates: dict[str, float | None], expected: float | None) -> None:
    assert overall_score(rates, GroupKind.DEPARTMENT) == expected


def test_area_and_inspector_scores_use_their_own_weights() -> None:
    area_rates = {"closure_rate": 0.5, "on_time_closure_rate": 0.25, "filing_rate": 0.0}
    assert overall_score(area_rates, GroupKind.STREET) == 35.0  # .6 × .25 + .4 × .5
    inspector_rates = {"valid_report_rate": 0.9, "on_time_verification_rate": None}
    assert overall_score(inspector_rates, GroupKind.INSPECTOR) == 90.0


def test_evaluated_rounds_rates_but_scores_the_exact_ones() -> None:
    counts = {"reports": 6, "valid_reports": 4, "verifications": 3, "verifications_on_time": 3}
    row = evaluated(GroupKind.INSPECTOR, counts)
    assert row["valid_report_rate"] == 0.6667
    assert row["score"] == 83.33  # .5 × 2/3 + .5 × 1, not .5 × .6667 + .5
    assert row["grade"] == "B"


def test_evaluated_leaves_undefined_figures_null_not_zero() -> None:
    row = evaluated(GroupKind.DEPARTMENT, {"id": 1})
    assert row["due_to_handle"] == 0
    assert row["on_time_handling_rate"] is None
    assert row["average_handling_hours"] is None
    assert (row["score"], row["grade"]) == (None, None)


def test_area_density_and_totals() -> None:
    groups = [
        {"reported": 6, "filed": 5, "due_to_close": 5, "closed": 3, "area_m2": 500_000},
        {"reported": 4, "filed": 4, "due_to_close": 3, "closed": 2, "area_m2": 1_500_000},
    ]
    assert evaluated(GroupKind.COMMUNITY, groups[0])["cases_per_km2"] == 12.0
    summed = totals(GroupKind.COMMUNITY, groups)
    assert (summed["reported"], summed["area_km2"], summed["cases_per_km2"]) == (10, 2.0, 5.0)
    assert summed["closure_rate"] == 0.625


def test_output_fields_end_with_score_and_grade() -> None:
    for kind in GroupKind:
        fields = output_fields(kind)
        assert fields[-2:] == ("score", "grade")
        assert set(fields) == set(evaluated(kind, {})), kind


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 9, 2), datetime(2026, 9, 1), "later than 'from'"),
        (datetime(2026, 9, 1), datetime(2026, 9, 1), "later than 'from'"),
        (datetime(2025, 1, 1), datetime(2026, 1, 3), "at most 366 days"),
    ],
)
def test_bad_periods_name_the_field(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        period_bounds(start, end, BEIJING)
    assert raised.value.field == "to"


def test_naive_bounds_are_read_in_the_city_time_zone() -> None:
    start, end = period_bounds(datetime(2028, 1, 1), datetime(2029, 1, 1), BEIJING)
    assert start.utcoffset() == timedelta(hours=8)
    assert end - start == timedelta(days=366)  # a leap year is the longest period allowed
