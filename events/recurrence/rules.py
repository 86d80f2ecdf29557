"""What a recurrence (复发) is, pure: a closed problem that comes back at the same place.

A new case B is a recurrence of an earlier case A when all of these hold:

| condition        | definition                                                              |
|------------------|-------------------------------------------------------------------------|
| A was fixed      | A is closed (结案: status `closed`, `closed_at` set; a reopened case is  |
|                  | not closed and has no recurrences until it is closed again)             |
| same problem     | B has A's category                                                      |
| same place       | B is within `distance_m` of A (metres on the spheroid), or both name   |
|                  | the same inventoried component (部件), however far apart               |
| came back        | A.closed_at < B.created_at <= A.closed_at + `period_days`               |
| B is a real case | B is not merged into another case, and not `not_filed` or `cancelled`   |

A new case is linked to at most one earlier case; when several qualify the preferred one is, in
this order (`PREFERENCE`): on the same component, then the nearest, then the most recently
closed, then the highest id (so the choice is deterministic). An earlier case may have many
recurrences. The SQL of `events.recurrence.service` is built from the same constants.

The distance and the period are options of the command, the API and the page (defaults below);
the links made when a report is filed use the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from citygrid.errors import InvalidInput

DEFAULT_DISTANCE_M = 50.0
DEFAULT_PERIOD_DAYS = 90
MAX_DISTANCE_M = 1000.0
MAX_PERIOD_DAYS = 730

PREVIOUS_STATUS = "closed"
# A new case in one of these statuses (or merged) is no case of its own: not a recurrence.
NOT_COUNTED_STATUSES = ("not_filed", "cancelled")

# Who made a link: the intake of a report, or the batch command over the history.
LINKED_AT_INTAKE = "intake"
LINKED_BY_BATCH = "batch"
LINKERS = (LINKED_AT_INTAKE, LINKED_BY_BATCH)


@dataclass(frozen=True)
class Definition:
    """How near and how soon a new case must be to count as a recurrence."""

    distance_m: float = DEFAULT_DISTANCE_M
    period_days: int = DEFAULT_PERIOD_DAYS

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)


def definition(
    distance_m: float = DEFAULT_DISTANCE_M, period_days: int = DEFAULT_PERIOD_DAYS
) -> Definition:
    """A checked Definition; InvalidInput naming the field when a value is out of range."""
    if not 0 < distance_m <= MAX_DISTANCE_M:
        raise InvalidInput(
            f"distance_m must be more than 0 and at most {MAX_DISTANCE_M:g} metres, "
            f"not {distance_m:g}",
            field="distance_m",
        )
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"period_days must be from 1 to {MAX_PERIOD_DAYS} days, not {period_days}",
            field="period_days",
        )
    return Definition(float(distance_m), int(period_days))


@dataclass(frozen=True)
class CaseFacts:
    """What the definition reads of a case."""

    id: int
    category_id: int
    status: str
    created_at: datetime
    closed_at: datetime | None = None
    component_id: int | None = None
    merged: bool = False


def counts_as_new(case: CaseFacts) -> bool:
    """Whether a case can be a recurrence at all (a real case of its own)."""
    return not case.merged and case.status not in NOT_COUNTED_STATUSES


def is_recurrence(
    previous: CaseFacts, new: CaseFacts, distance_m: float, definition: Definition
) -> bool:
    """Whether `new` is a recurrence of `previous`, `distance_m` apart (the table above)."""
    if previous.status != PREVIOUS_STATUS or previous.closed_at is None:
        return False
    if not counts_as_new(new) or new.id == previous.id:
        return False
    if new.category_id != previous.category_id:
        return False
    same_component = previous.component_id is not None and (
        previous.component_id == new.component_id
    )
    if not (same_component or distance_m <= definition.distance_m):
        return False
    return previous.closed_at < new.created_at <= previous.closed_at + definition.period


@dataclass(frozen=True)
class Candidate:
    """An earlier closed case that qualifies, as the preference compares it."""

    case_id: int
    same_component: bool
    distance_m: float
    closed_at: datetime


# The preference among candidates, best first: (column, descending).
PREFERENCE: tuple[tuple[str, bool], ...] = (
    ("same_component", True),
    ("distance_m", False),
    ("closed_at", True),
    ("case_id", True),
)


def preference_key(candidate: Candidate) -> tuple[object, ...]:
    """A sort key (ascending) that orders candidates by PREFERENCE."""
    key: list[object] = []
    for column, descending in PREFERENCE:
        value = getattr(candidate, column)
        if isinstance(value, datetime):
            value = value.timestamp()
        key.append(-float(value) if descending else float(value))
    return tuple(key)


def preferred(candidates: Iterable[Candidate]) -> Candidate | None:
    """The candidate a new case is linked to; None when there is none."""
    return min(candidates, key=preference_key, default=None)


def order_by_sql(columns: dict[str, str]) -> str:
    """PREFERENCE as an SQL ORDER BY list, over the given SQL expressions of the columns."""
    return ", ".join(
        f"{columns[column]}{' DESC' if descending else ''}" for column, descending in PREFERENCE
    )
