"""The recurrence definition, pure: what counts, which earlier case is preferred, the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citygrid.errors import InvalidInput
from events.recurrence.rules import (
    Candidate,
    CaseFacts,
    Definition,
    definition,
    is_recurrence,
    order_by_sql,
    preferred,
)

T0 = datetime(2026, 9, 1, tzinfo=UTC)
DEFAULT = Definition()  # 50 m, 90 days
CLOSED = CaseFacts(
    1,
    category_id=7,
    status="closed",
    created_at=T0 - timedelta(days=3),
    closed_at=T0,
    component_id=None,
)


def new_case(**changes: object) -> CaseFacts:
    values: dict[str, object] = {
        "id": 2,
        "category_id": 7,
        "status": "filed",
        "created_at": T0 + timedelta(days=10),
    }
    return CaseFacts(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("previous", "new", "distance_m", "expected"),
    [
        (CLOSED, new_case(), 10.0, True),
        (CLOSED, new_case(), 50.0, True),  # the distance is inclusive
        (CLOSED, new_case(), 50.1, False),
        (CLOSED, new_case(created_at=T0 + timedelta(days=90)), 0.0, True),  # inclusive
        (CLOSED, new_case(created_at=T0 + timedelta(days=90, seconds=1)), 0.0, False),
        (CLOSED, new_case(created_at=T0), 0.0, False),  # not after the closure
        (CLOSED, new_case(created_at=T0 - timedelta(days=1)), 0.0, False),
        (CLOSED, new_case(category_id=8), 0.0, False),
        (CLOSED, new_case(status="not_filed"), 0.0, False),
        (CLOSED, new_case(status="cancelled"), 0.0, False),
        (CLOSED, new_case(merged=True), 0.0, False),
        (CLOSED, new_case(status="closed"), 0.0, True),  # fixed itself meanwhile: still came back
        (CaseFacts(1, 7, "accepted", T0 - timedelta(days=3)), new_case(), 0.0, False),  # open
        (CaseFacts(1, 7, "cancelled", T0 - timedelta(days=3)), new_case(), 0.0, False),
        # the same component counts however far apart, but only the same one
        (CaseFacts(1, 7, "closed", T0, T0, 5), new_case(component_id=5), 900.0, True),
        (CaseFacts(1, 7, "closed", T0, T0, 5), new_case(component_id=6), 900.0, False),
        (CaseFacts(1, 7, "closed", T0, T0, None), new_case(component_id=None), 900.0, False),
        (CLOSED, new_case(id=1), 0.0, False),  # never itself
    ],
)
def test_what_counts_as_a_recurrence(
    previous: CaseFacts, new: CaseFacts, distance_m: float, expected: bool
) -> None:
    assert is_recurrence(previous, new, distance_m, DEFAULT) is expected


def test_a_wider_definition_takes_more() -> None:
    assert not is_recurrence(CLOSED, new_case(), 80.0, DEFAULT)
    assert is_recurrence(CLOSED, new_case(), 80.0, definition(100.0, 30))
    late = new_case(created_at=T0 + timedelta(days=40))
    assert not is_recurrence(CLOSED, late, 0.0, definition(100.0, 30))


def candidate(case_id: int, same: bool, distance: float, closed_days: int) -> Candidate:
    return Candidate(case_id, same, distance, T0 + timedelta(days=closed_days))


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([], None),
        ([candidate(1, False, 10.0, 0), candidate(2, False, 5.0, 0)], 2),  # nearest
        ([candidate(1, False, 1.0, 0), candidate(2, True, 40.0, 0)], 2),  # component first
        ([candidate(1, False, 5.0, 0), candidate(2, False, 5.0, 3)], 2),  # latest closed
        ([candidate(3, False, 5.0, 3), candidate(2, False, 5.0, 3)], 3),  # highest id
    ],
)
def test_the_preferred_earlier_case(candidates: list[Candidate], expected: int | None) -> None:
    found = preferred(candidates)
    assert (found.case_id if found else None) == expected


def test_the_sql_order_is_the_preference() -> None:
    columns = {name: f"x.{name}" for name in ("same_component", "distance_m", "closed_at")}
    assert order_by_sql({**columns, "case_id": "x.id"}) == (
        "x.same_component DESC, x.distance_m, x.closed_at DESC, x.id DESC"
    )


@pytest.mark.parametrize(
    ("distance_m", "period_days", "field"),
    [
        (0.0, 90, "distance_m"),
        (1001.0, 90, "distance_m"),
        (50.0, 0, "period_days"),
        (50.0, 731, "period_days"),
    ],
)
def test_out_of_range_definitions_name_the_field(
    distance_m: float, period_days: int, field: str
) -> None:
    with pytest.raises(InvalidInput, match=field) as refused:
        definition(distance_m, period_days)
    assert refused.value.field == field
