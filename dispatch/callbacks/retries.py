"""When a callback (回访) may be tried again, and when the caller counts as unreachable (pure).

A round of callbacks starts when a reply arrives (or a ticket was closed without one). Each try
that does not reach the caller waits at least `gap` before the next; the try numbered
`max_attempts` that does not reach the caller ends the round: the caller is counted as
unreachable and the ticket is closed. A reached callback ends the round at once: an answer in
`rework_answers` (by default "not solved" and "partly solved": work remains) sends the work back
to the same unit, any other closes the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class TooSoon(ValueError):
    """A try before the least gap since the last one has passed."""

    def __init__(self, next_try_at: datetime) -> None:
        super().__init__(f"the next try is allowed from {next_try_at.isoformat()}")
        self.next_try_at = next_try_at


DEFAULT_REWORK_ANSWERS = frozenset({"not_solved", "partly"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    gap: timedelta
    rework_answers: frozenset[str] = DEFAULT_REWORK_ANSWERS


def reworks(solved: str | None, policy: RetryPolicy) -> bool:
    """Whether a reached callback's "solved" answer sends the work back to the unit."""
    return solved in policy.rework_answers


def next_try_at(last_try_at: datetime | None, policy: RetryPolicy) -> datetime | None:
    """When the next try may be made; None when there was no try yet (at once)."""
    return None if last_try_at is None else last_try_at + policy.gap


def check_try(
    attempts_made: int,
    last_try_at: datetime | None,
    *,
    reached: bool,
    now: datetime,
    policy: RetryPolicy,
) -> bool:
    """Checks a new try (TooSoon for an unreached try before the gap — a reached one is always
    welcome); returns whether it gives up on the caller (the last try, not reached)."""
    earliest = next_try_at(last_try_at, policy)
    if not reached and earliest is not None and now < earliest:
        raise TooSoon(earliest)
    return not reached and attempts_made + 1 >= policy.max_attempts
