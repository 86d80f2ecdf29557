"""The callback retry policy as plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.callbacks.retries import RetryPolicy, TooSoon, check_try, next_try_at, reworks

POLICY = RetryPolicy(max_attempts=3, gap=timedelta(hours=1))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("made", "last", "reached", "now", "gives_up"),
    [
        (0, None, False, T0, False),  # the first try, not reached: try again later
        (1, T0, False, T0 + timedelta(hours=1), False),  # second, after the gap
        (2, T0, False, T0 + timedelta(hours=2), True),  # the third and last: unreachable
        (2, T0, True, T0 + timedelta(minutes=1), False),  # reached: welcome at any time
    ],
)
def test_check_try(
    made: int, last: datetime | None, reached: bool, now: datetime, gives_up: bool
) -> None:
    assert check_try(made, last, reached=reached, now=now, policy=POLICY) is gives_up


def test_an_unreached_try_before_the_gap_is_too_soon() -> None:
    with pytest.raises(TooSoon, match="allowed from 2026-11-02T10:00:00"):
        check_try(1, T0, reached=False, now=T0 + timedelta(minutes=59), policy=POLICY)


def test_next_try_at() -> None:
    assert next_try_at(None, POLICY) is None
    assert next_try_at(T0, POLICY) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("solved", "rework_answers", "expected"),
    [
        ("not_solved", None, True),
        ("partly", None, True),
        ("solved", None, False),
        ("partly", frozenset({"not_solved"}), False),
    ],
)
def test_which_answers_send_the_work_back(
    solved: str, rework_answers: frozenset[str] | None, expected: bool
) -> None:
    policy = POLICY if rework_answers is None else RetryPolicy(3, timedelta(0), rework_answers)
    assert reworks(solved, policy) is expected
