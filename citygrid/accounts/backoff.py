"""Login back-off: how long a username or a client address waits after failed logins (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BackoffPolicy:
    """After `free_failures` failures in a row the key waits `first_wait_s`; each further
    failure doubles the wait, up to `max_wait_s`. Failures older than `memory_s` are forgotten."""

    free_failures: int = 5
    first_wait_s: float = 1.0
    max_wait_s: float = 15 * 60.0
    memory_s: float = 24 * 3600.0


LOGIN_BACKOFF = BackoffPolicy()
# 2**60 seconds is far beyond any cap: a longer exponent only risks an OverflowError.
MAX_DOUBLINGS = 60


def wait_after_failures(failures: int, policy: BackoffPolicy) -> float:
    """Seconds to wait before the next attempt after `failures` consecutive failures."""
    if failures < policy.free_failures:
        return 0.0
    doublings = min(failures - policy.free_failures, MAX_DOUBLINGS)
    return min(policy.first_wait_s * 2.0**doublings, policy.max_wait_s)


def blocked_until(failures: int, *, failed_at: datetime, policy: BackoffPolicy) -> datetime | None:
    """When a key that has just failed for the `failures`-th time may try again (None: now)."""
    wait_s = wait_after_failures(failures, policy)
    return failed_at + timedelta(seconds=wait_s) if wait_s > 0 else None


def retry_after_s(until: datetime | None, now: datetime) -> int:
    """Whole seconds until `until` (what a Retry-After header says); 0 when it has passed."""
    if until is None or until <= now:
        return 0
    return math.ceil((until - now).total_seconds())
