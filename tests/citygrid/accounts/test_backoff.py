"""Login back-off: how long a username or an address waits after failed logins (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from citygrid.accounts.backoff import (
    LOGIN_BACKOFF,
    BackoffPolicy,
    retry_after_s,
    wait_after_failures,
)
from tests.citygrid.accounts.sign_in_support import T0


@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (14, 512), (15, 900), (16, 900), (10**6, 900)],
)
def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(
    failures: int, wait_s: float
) -> None:
    assert wait_after_failures(failures, LOGIN_BACKOFF) == wait_s


def test_a_policy_sets_its_own_limits() -> None:
    policy = BackoffPolicy(free_failures=1, first_wait_s=10, max_wait_s=30)
    assert [wait_after_failures(n, policy) for n in range(5)] == [0, 10, 20, 30, 30]


@pytest.mark.parametrize(
    ("until", "expected"),
    [(None, 0), (T0 - timedelta(seconds=1), 0), (T0, 0), (T0 + timedelta(seconds=0.2), 1)],
)
def test_retry_after_is_whole_seconds_rounded_up(until: datetime | None, expected: int) -> None:
    assert retry_after_s(until, T0) == expected
