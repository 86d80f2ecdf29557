"""Summons policy (吹哨报到, pure): where a summoned unit stands, who may rate it, and months.

A dispatcher summons several units to one case (a ticket's or a grid case); each has its own
limit and deadline. A unit's summons moves

    summoned → reported in (报到, with an on-site photo) → answered (done)

and the case closes only when every summoned unit is done (events.cases.prerequisites). A
unit that reported in may be rated by the street office (1–5 with a note: the second half of
双考核); the ratings are listed per unit and month.

===============  ==================================================================
state            when
===============  ==================================================================
summoned         not yet reported in, deadline not passed
overdue          not yet done and the deadline has passed
reported         reported in, no answer yet (still within the deadline)
done             answered (reported in first); `late` when after the deadline
===============  ==================================================================
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from citygrid.accounts.roles import Role
from citygrid.errors import Conflict, InvalidInput, PermissionDenied

MONTH = re.compile(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")
RATING_MIN, RATING_MAX = 1, 5
# Who rates a summoned unit: the street office (a member of a department of this kind) and the
# staff above it.
RATER_KIND = "street_office"
RATER_ROLES = frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN})


class SummonsState(enum.StrEnum):
    SUMMONED = "summoned"
    OVERDUE = "overdue"
    REPORTED = "reported"
    DONE = "done"


@dataclass(frozen=True)
class Standing:
    state: SummonsState
    late: bool  # reported in or answered after the deadline


def standing(
    *, due_at: datetime, reported_at: datetime | None, answered_at: datetime | None, now: datetime
) -> Standing:
    """Where a summoned unit stands now (see the module's table)."""
    if answered_at is not None:
        return Standing(SummonsState.DONE, late=answered_at > due_at)
    if now > due_at:
        return Standing(SummonsState.OVERDUE, late=True)
    if reported_at is not None:
        return Standing(SummonsState.REPORTED, late=reported_at > due_at)
    return Standing(SummonsState.SUMMONED, late=False)


def check_report_in(reported_at: datetime | None, photos: int) -> None:
    if reported_at is not None:
        raise Conflict("the unit has already reported in", field="department_code")
    if photos < 1:
        raise InvalidInput("reporting in needs an on-site photo", field="photos")


def check_answer(reported_at: datetime | None, answered_at: datetime | None) -> None:
    if reported_at is None:
        raise Conflict(
            "report in (with an on-site photo) before answering", field="department_code"
        )
    if answered_at is not None:
        raise Conflict("the unit has already answered", field="department_code")


def check_rater(role: Role, department_kind: str | None) -> None:
    """The street office (and dispatchers, managers, administrators) rate; nobody else."""
    if role in RATER_ROLES or (role is Role.DEPARTMENT and department_kind == RATER_KIND):
        return
    raise PermissionDenied("only the street office rates the units that reported in")


def check_ratable(reported_at: datetime | None) -> None:
    if reported_at is None:
        raise Conflict("only a unit that reported in is rated", field="department_code")


def month_start(month: str) -> date:
    """The first day of a YYYY-MM month; InvalidInput naming `month` otherwise."""
    if not MONTH.match(month):
        raise InvalidInput("month is YYYY-MM", field="month")
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's start and the next month's start, at local midnight in `zone`."""
    first = month_start(month)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, first.day, tzinfo=zone),
        datetime(after.year, after.month, after.day, tzinfo=zone),
    )
