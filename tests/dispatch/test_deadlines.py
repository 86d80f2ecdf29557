"""Working-time arithmetic (pure): tables across weekends, holidays and make-up days; properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.deadlines import (
    DEFAULT_PERIODS,
    DEFAULT_WEEKDAYS,
    ChineseOfficialCalendar,
    Light,
    WorkCalendar,
    add_working_hours,
    is_working_instant,
    parse_periods,
    traffic_light,
    working_hours_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICIAL = ChineseOfficialCalendar()
PLAIN = WorkCalendar(DEFAULT_PERIODS, DEFAULT_WEEKDAYS, SHANGHAI)
CHINA = WorkCalendar(DEFAULT_PERIODS, DEFAULT_WEEKDAYS, SHANGHAI, official=OFFICIAL)
EVERY_DAY = WorkCalendar(DEFAULT_PERIODS, frozenset(range(1, 8)), SHANGHAI, official=OFFICIAL)


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. '2026-11-23 13:30'."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def at_local(deadline_at: datetime) -> str:
    return deadline_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 30), True),  # Wednesday before National Day
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 7), False),  # last day of the Golden Week
        (date(2026, 10, 8), True),  # Thursday after it
        (date(2026, 10, 10), True),  # Saturday make-up workday (调休)
        (date(2026, 10, 11), False),  # an ordinary Sunday
        (date(2027, 1, 4), None),  # not announced
        (date(2003, 6, 2), None),  # before the library's data
    ],
)
def test_the_official_calendar_knows_holidays_and_make_up_days(
    day: date, expected: bool | None
) -> None:
    assert OFFICIAL.workday(day) is expected


def test_the_official_calendar_lists_a_years_special_days() -> None:
    days = OFFICIAL.special_days(2026)
    assert days[date(2026, 10, 1)] == (False, "National Day")
    assert days[date(2026, 10, 10)] == (True, "National Day")
    assert date(2026, 10, 12) not in days
    assert OFFICIAL.special_days(2027) == {}
    assert OFFICIAL.announced(2026) and not OFFICIAL.announced(2027)


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        (CHINA, date(2026, 10, 1), (False, False)),  # official holiday on a Thursday
        (PLAIN, date(2026, 10, 1), (True, False)),  # a calendar without official holidays
        (CHINA, date(2026, 10, 10), (True, False)),  # make-up Saturday
        (CHINA, date(2026, 10, 11), (False, False)),
        (EVERY_DAY, date(2026, 10, 11), (True, False)),  # a 7-day calendar keeps its Sundays
        (EVERY_DAY, date(2026, 10, 2), (False, False)),  # … but rests on National Day
        (CHINA, date(2027, 1, 1), (True, True)),  # a Friday in an unannounced year
        (CHINA, date(2027, 1, 2), (False, True)),  # a Saturday in an unannounced year
        (PLAIN, date(2027, 1, 1), (True, False)),  # no official calendar: nothing to wait for
    ],
)
def test_day_status_follows_the_precedence(
    calendar: WorkCalendar, day: date, expected: tuple[bool, bool]
) -> None:
    assert calendar.day_status(day) == expected


@pytest.mark.parametrize(
    ("day", "override", "expected"),
    [
        (date(2026, 10, 1), True, (True, False)),  # work on National Day after all
        (date(2026, 10, 10), False, (False, False)),  # no make-up day for this department
        (
            date(2027, 1, 1),
            False,
            (False, False),
        ),  # New Year 2027 declared ahead of the State Council
        (date(2026, 11, 28), True, (True, False)),  # an extra Saturday
    ],
)
def test_an_override_beats_the_library_and_the_weekday(
    day: date, override: bool, expected: tuple[bool, bool]
) -> None:
    calendar = WorkCalendar(
        DEFAULT_PERIODS, DEFAULT_WEEKDAYS, SHANGHAI, overrides={day: override}, official=OFFICIAL
    )
    assert calendar.day_status(day) == expected


@pytest.mark.parametrize(
    ("start", "hours", "due", "provisional"),
    [
        ("2026-11-23 13:30", 4, "2026-11-23 17:30", False),  # a period's end is inside
        ("2026-11-23 08:30", 3.5, "2026-11-23 12:00", False),
        ("2026-11-23 08:30", 3.75, "2026-11-23 13:45", False),  # across lunch
        ("2026-11-23 12:30", 1, "2026-11-23 14:30", False),  # starts in the lunch break
        ("2026-11-23 06:00", 0, "2026-11-23 08:30", False),  # before work: next period's start
        ("2026-11-23 17:30", 0, "2026-11-23 17:30", False),
        ("2026-11-23 18:00", 1, "2026-11-24 09:30", False),  # after work
        ("2026-11-27 16:30", 2, "2026-11-30 09:30", False),  # Friday → Monday
        ("2026-11-28 10:00", 1, "2026-11-30 09:30", False),  # starts on a Saturday
        ("2026-09-30 16:00", 4, "2026-10-08 11:00", False),  # across National Day
        ("2026-10-09 17:00", 1, "2026-10-10 09:00", False),  # into the make-up Saturday
        ("2026-12-31 16:00", 4, "2027-01-01 11:00", True),  # 2027 unannounced: weekday rule
        ("2026-12-31 08:30", 4, "2026-12-31 14:00", False),  # ends before 2027 is looked at
        ("2026-11-23 08:30", 7.5 * 5, "2026-11-27 17:30", False),  # a working week
    ],
)
def test_add_working_hours_on_the_official_calendar(
    start: str, hours: float, due: str, provisional: bool
) -> None:
    deadline = add_working_hours(local(start), hours, CHINA)
    assert (at_local(deadline.at), deadline.provisional) == (due, provisional)
    assert deadline.at.tzinfo is UTC


def test_an_override_moves_the_deadline() -> None:
    extra_saturday = WorkCalendar(
        DEFAULT_PERIODS,
        DEFAULT_WEEKDAYS,
        SHANGHAI,
        overrides={date(2026, 11, 28): True, date(2026, 11, 30): False},
        official=OFFICIAL,
    )
    deadline = add_working_hours(local("2026-11-27 16:30"), 2, extra_saturday)
    assert at_local(deadline.at) == "2026-11-28 09:30"
    deadline = add_working_hours(local("2026-11-27 17:30"), 1, extra_saturday)
    assert at_local(add_working_hours(deadline.at, 7.5, extra_saturday).at) == "2026-12-01 09:30"


def test_any_time_zone_in_any_time_zone_out() -> None:
    start = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)  # 13:30 in Shanghai
    assert add_working_hours(start, 4, CHINA).at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_a_long_span_steps_by_days() -> None:
    deadline = add_working_hours(local("2026-06-01 08:30"), 720, CHINA)
    assert working_hours_between(local("2026-06-01 08:30"), deadline.at, CHINA) == 720
    assert deadline.at.year == 2026 and deadline.provisional is False


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-23 08:30", "2026-11-23 17:30", 7.5),
        ("2026-11-23 12:00", "2026-11-23 13:30", 0),
        ("2026-11-23 11:00", "2026-11-23 14:00", 1.5),
        ("2026-11-27 17:00", "2026-11-30 09:00", 1),
        ("2026-09-30 17:00", "2026-10-08 09:00", 1),
        ("2026-11-24 09:00", "2026-11-23 09:00", 0),  # end before start
    ],
)
def test_working_hours_between(start: str, end: str, hours: float) -> None:
    assert working_hours_between(local(start), local(end), CHINA) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_working_hours(datetime(2026, 11, 23, 9), 1, CHINA), "must carry a time zone"),
        (lambda: add_working_hours(local("2026-11-23 09:00"), -1, CHINA), "must not be negative"),
        (lambda: parse_periods([["12:00", "08:30"]]), "must start before it ends"),
        (lambda: parse_periods([["08:00", "12:00"], ["11:00", "13:00"]]), "sorted and disjoint"),
        (lambda: parse_periods([["08:00"]]), "a pair"),
        (lambda: parse_periods([["8h", "12:00"]]), "HH:MM"),
        (lambda: parse_periods([]), "at least one period"),
        (
            lambda: WorkCalendar(DEFAULT_PERIODS, frozenset({0}), SHANGHAI),
            "ISO weekdays",
        ),
        (
            lambda: add_working_hours(
                local("2026-11-23 09:00"), 1, WorkCalendar(DEFAULT_PERIODS, frozenset(), SHANGHAI)
            ),
            "no working day",
        ),
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_parse_periods_reads_touching_periods() -> None:
    assert parse_periods([["08:00", "12:00"], ["12:00", "18:00"]]) == (
        (time(8), time(12)),
        (time(12), time(18)),
    )


@pytest.mark.parametrize(
    ("used", "allowed", "overdue", "light"),
    [
        (0, 8, False, Light.GREEN),
        (6.39, 8, False, Light.GREEN),
        (6.4, 8, False, Light.YELLOW),  # 80 %
        (8, 8, False, Light.YELLOW),
        (1, 8, True, Light.RED),
        (9, 8, True, Light.RED),
        (0, 0, False, Light.YELLOW),  # no time allowed at all
    ],
)
def test_traffic_light(used: float, allowed: float, overdue: bool, light: Light) -> None:
    assert traffic_light(used_hours=used, allowed_hours=allowed, overdue=overdue) is light


# ---- properties ----------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2026, 9, 1), max_value=datetime(2027, 2, 28), timezones=st.just(SHANGHAI)
)
spans = st.floats(min_value=0, max_value=200, allow_nan=False)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(start=starts, hours=spans)
def test_a_deadline_lies_in_working_time(start: datetime, hours: float) -> None:
    assert is_working_instant(add_working_hours(start, hours, CHINA).at, CHINA)


@PROPERTY_SETTINGS
@given(start=starts, hours=spans, more=spans)
def test_more_hours_never_give_an_earlier_deadline(
    start: datetime, hours: float, more: float
) -> None:
    earlier = add_working_hours(start, hours, CHINA).at
    assert add_working_hours(start, hours + more, CHINA).at >= earlier


@PROPERTY_SETTINGS
@given(start=starts, hours=spans)
def test_measuring_gives_back_the_hours_added(start: datetime, hours: float) -> None:
    due_at = add_working_hours(start, hours, CHINA).at
    assert working_hours_between(start, due_at, CHINA) == pytest.approx(hours, abs=1e-6)


@PROPERTY_SETTINGS
@given(
    dispatched_at=starts,
    limit_hours=st.floats(min_value=0.5, max_value=60),
    suspend_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    suspended_for=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_a_suspension_adds_exactly_the_paused_working_time(
    dispatched_at: datetime,
    limit_hours: float,
    suspend_after: timedelta,
    suspended_for: timedelta,
) -> None:
    due_at = add_working_hours(dispatched_at, limit_hours, CHINA).at
    suspended_at = dispatched_at + suspend_after
    resumed_at = suspended_at + suspended_for
    paused_hours = working_hours_between(suspended_at, resumed_at, CHINA)
    new_due_at = add_working_hours(due_at, paused_hours, CHINA).at
    assert working_hours_between(dispatched_at, new_due_at, CHINA) == pytest.approx(
        limit_hours + paused_hours, abs=1e-6
    )
