"""The summons policy without a database: where a unit stands, who rates, months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citygrid.accounts.roles import Role
from citygrid.errors import Conflict, InvalidInput, PermissionDenied
from dispatch.summons.roster import (
    SummonsState,
    check_answer,
    check_rater,
    check_report_in,
    month_bounds,
    standing,
)

DUE = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BEFORE, AFTER = DUE - timedelta(hours=1), DUE + timedelta(hours=1)


@pytest.mark.parametrize(
    ("reported", "answered", "now", "state", "late"),
    [
        (None, None, BEFORE, SummonsState.SUMMONED, False),
        (None, None, AFTER, SummonsState.OVERDUE, True),
        (BEFORE, None, BEFORE, SummonsState.REPORTED, False),
        (BEFORE, None, AFTER, SummonsState.OVERDUE, True),
        (BEFORE, BEFORE, AFTER, SummonsState.DONE, False),
        (BEFORE, AFTER, AFTER, SummonsState.DONE, True),
    ],
)
def test_where_a_summoned_unit_stands(
    reported: datetime | None,
    answered: datetime | None,
    now: datetime,
    state: SummonsState,
    late: bool,
) -> None:
    where = standing(due_at=DUE, reported_at=reported, answered_at=answered, now=now)
    assert (where.state, where.late) == (state, late)


def test_reporting_in_needs_a_photo_once_and_answering_needs_reporting_in() -> None:
    with pytest.raises(InvalidInput, match="photo"):
        check_report_in(None, photos=0)
    with pytest.raises(Conflict, match="already reported"):
        check_report_in(BEFORE, photos=1)
    check_report_in(None, photos=1)
    with pytest.raises(Conflict, match="report in"):
        check_answer(None, None)
    with pytest.raises(Conflict, match="already answered"):
        check_answer(BEFORE, BEFORE)
    check_answer(BEFORE, None)


@pytest.mark.parametrize(
    ("role", "kind", "allowed"),
    [
        (Role.DEPARTMENT, "street_office", True),
        (Role.DEPARTMENT, "sanitation", False),
        (Role.DISPATCHER, None, True),
        (Role.MANAGER, None, True),
        (Role.INSPECTOR, None, False),
        (Role.CITIZEN, None, False),
    ],
)
def test_the_street_office_rates(role: Role, kind: str | None, allowed: bool) -> None:
    if allowed:
        check_rater(role, kind)
    else:
        with pytest.raises(PermissionDenied):
            check_rater(role, kind)


def test_a_month_runs_from_local_midnight_to_the_next_months() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    start, end = month_bounds("2026-12", zone)
    assert start == datetime(2026, 12, 1, tzinfo=zone) and end == datetime(2027, 1, 1, tzinfo=zone)
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        month_bounds("2026-13", zone)
