"""The hotline work policy without a database: deadlines in clock or working time, their lights,
and the four elements of a reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citygrid.errors import InvalidInput
from dispatch.deadlines import DEFAULT_PERIODS, DEFAULT_WEEKDAYS, Light, WorkCalendar
from dispatch.hotline.replies import checked_reply, deadline_state, due
from events.hotline.standard import Limit

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(DEFAULT_PERIODS, DEFAULT_WEEKDAYS, SHANGHAI)
# Friday 4 December 2026, 16:30 in Beijing.
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 16, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        # Clock time runs through the night and the weekend.
        (Limit(2, working_time=False), datetime(2026, 12, 4, 18, 30, tzinfo=SHANGHAI)),
        (Limit(24, working_time=False), datetime(2026, 12, 5, 16, 30, tzinfo=SHANGHAI)),
        # Working time: one hour left on Friday, three more on Monday morning.
        (Limit(4, working_time=True), datetime(2026, 12, 7, 11, 30, tzinfo=SHANGHAI)),
    ],
)
def test_a_limit_counts_in_clock_or_working_time(limit: Limit, expected: datetime) -> None:
    assert due(FRIDAY_AFTERNOON, limit, CALENDAR).at == expected


@pytest.mark.parametrize(
    ("elapsed_hours", "met", "light", "overdue"),
    [
        (1, False, Light.GREEN, False),
        (1.7, False, Light.YELLOW, False),
        (3, False, Light.RED, True),
        (1, True, None, False),  # met in time: no light
        (3, True, None, True),  # met late
    ],
)
def test_a_deadline_has_the_cases_traffic_light(
    elapsed_hours: float, met: bool, light: Light | None, overdue: bool
) -> None:
    start = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    limit = Limit(2, working_time=False)
    moment = start + timedelta(hours=elapsed_hours)
    state = deadline_state(
        "reply",
        start=start,
        due_at=due(start, limit, CALENDAR).at,
        met_at=moment if met else None,
        limit=limit,
        calendar=CALENDAR,
        now=moment,
    )
    assert (state.light, state.overdue) == (light, overdue)


NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
ELEMENTS: dict[str, object] = {
    "received_at": NOW - timedelta(hours=2),
    "contacted_person": "来电人本人",
    "contacted_at": NOW - timedelta(hours=1),
    "action_taken": "已清理",
    "rest_by": "done",
}


MISSING = [(name, None) for name in sorted(ELEMENTS)] + [
    (name, "  ")
    for name in ("action_taken", "contacted_person", "rest_by")  # blank texts
]


@pytest.mark.parametrize(("missing", "blank"), MISSING)
def test_a_reply_without_an_element_names_it(missing: str, blank: str | None) -> None:
    elements = {**ELEMENTS, missing: blank}
    with pytest.raises(InvalidInput, match=missing) as refused:
        checked_reply(**elements, now=NOW)  # type: ignore[arg-type]
    assert refused.value.field == missing


def test_a_reply_is_done_or_names_when_the_rest_will_be() -> None:
    done = checked_reply(**ELEMENTS, now=NOW)  # type: ignore[arg-type]
    assert done.done and done.rest_due_at is None
    later = NOW + timedelta(days=2)
    rest = checked_reply(**{**ELEMENTS, "rest_by": later}, now=NOW)  # type: ignore[arg-type]
    assert not rest.done and rest.rest_due_at == later


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contacted_at": NOW - timedelta(hours=3)}, "contacted_at"),  # before receipt
        ({"received_at": NOW + timedelta(hours=1)}, "received_at"),  # in the future
        ({"rest_by": NOW - timedelta(hours=5)}, "rest_by"),  # before receipt
        ({"rest_by": "soon"}, "rest_by"),
    ],
)
def test_impossible_times_are_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        checked_reply(**{**ELEMENTS, **changes}, now=NOW)  # type: ignore[arg-type]
    assert refused.value.field == field
