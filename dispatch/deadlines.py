"""Working time (pure): which days and hours count, deadlines in working hours, traffic lights.

A day's status has a precedence: an admin's override, then the official calendar (public holidays
and the State Council's 调休 make-up workdays), then the calendar's own weekday rule. A day in a
year the official calendar does not cover yet uses the weekday rule and makes any deadline that
looks at it *provisional*: it may move once that year's holidays are announced.

Arithmetic is done on local wall-clock time in the calendar's zone, stepping by periods and days
(never by minutes) in whole microseconds, so that adding then measuring gives back the same hours.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo

import chinese_calendar

DEFAULT_PERIODS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
DEFAULT_WEEKDAYS = frozenset({1, 2, 3, 4, 5})
WARNING_FRACTION = 0.8  # the share of the allowed working time after which a case turns yellow
# A calendar without a single working day in this many consecutive days has no working time.
MAX_NON_WORKING_DAYS = 400
_US_PER_HOUR = 3_600_000_000
_OFFICIAL_WEEKDAYS = DEFAULT_WEEKDAYS  # the week the official calendar's answers are relative to


class OfficialCalendar(Protocol):
    def workday(self, day: date) -> bool | None:
        """Whether `day` is an official working day; None when its year is not announced yet."""
        ...


class ChineseOfficialCalendar:
    """The official Chinese calendar as shipped by `chinese_calendar`: public holidays and the
    make-up workdays (调休) of every year the State Council has announced."""

    def __init__(self) -> None:
        self._holidays: Mapping[date, str] = chinese_calendar.holidays
        self._workdays: Mapping[date, str] = chinese_calendar.workdays
        # The library raises NotImplementedError outside these years; look them up once, as its
        # own check scans every key on every call.
        self.first_year: int = min(self._holidays).year
        self.last_year: int = max(self._holidays).year

    def announced(self, year: int) -> bool:
        """Whether the library knows that year's holidays."""
        return self.first_year <= year <= self.last_year

    def workday(self, day: date) -> bool | None:
        """Whether `day` is an official working day; None for years the library does not cover."""
        if not self.announced(day.year):
            return None
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return day.isoweekday() in _OFFICIAL_WEEKDAYS

    def special_days(self, year: int) -> dict[date, tuple[bool, str]]:
        """The year's holidays and make-up workdays: day → (is workday, holiday name); empty
        when the year is not announced."""
        days = {day: (False, name) for day, name in self._holidays.items() if day.year == year}
        days.update({day: (True, name) for day, name in self._workdays.items() if day.year == year})
        return dict(sorted(days.items()))


@dataclass(frozen=True)
class WorkCalendar:
    """When work happens: periods of a working day, working weekdays, holidays."""

    periods: tuple[
        tuple[time, time], ...
    ]  # local working periods of a working day, sorted, disjoint
    weekdays: frozenset[int]  # ISO weekdays (1 = Monday) that are working days
    time_zone: ZoneInfo
    overrides: Mapping[date, bool] = field(
        default_factory=dict
    )  # admin: True workday, False holiday
    official: OfficialCalendar | None = None

    def __post_init__(self) -> None:
        check_periods(self.periods)
        if not self.weekdays <= set(range(1, 8)):
            raise ValueError(f"weekdays must be ISO weekdays 1..7, not {sorted(self.weekdays)}")

    def day_status(self, day: date) -> tuple[bool, bool]:
        """(is working day, provisional): override > official answer > weekday rule."""
        if day in self.overrides:
            return self.overrides[day], False
        by_weekday = day.isoweekday() in self.weekdays
        if self.official is None:
            return by_weekday, False
        official = self.official.workday(day)
        if official is None:
            return by_weekday, True
        # The official answer is about a Monday–Friday week: only where it departs from that
        # (a holiday, a make-up workday) does it beat this calendar's own weekdays, so a
        # seven-day calendar keeps its weekends but still rests on National Day.
        if official == (day.isoweekday() in _OFFICIAL_WEEKDAYS):
            return by_weekday, False
        return official, False


@dataclass(frozen=True)
class Deadline:
    at: datetime  # aware, UTC
    provisional: bool  # some day counted lies in a year whose holidays are not announced


class Light(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def check_periods(periods: Sequence[tuple[time, time]]) -> None:
    """Raise ValueError unless the periods are non-empty, each start before its end, sorted and
    disjoint (touching is allowed)."""
    if not periods:
        raise ValueError("a working day needs at least one period")
    for start, end in periods:
        if not start < end:
            raise ValueError(f"period {start:%H:%M}–{end:%H:%M} must start before it ends")
    for (_, previous_end), (start, _) in pairwise(periods):
        if start < previous_end:
            raise ValueError(f"periods must be sorted and disjoint: {start:%H:%M} overlaps")


def parse_periods(raw: Sequence[Sequence[str]]) -> tuple[tuple[time, time], ...]:
    """The periods of [["08:30", "12:00"], …]; ValueError saying which one is wrong."""
    periods: list[tuple[time, time]] = []
    for pair in raw:
        if len(pair) != 2:
            raise ValueError(f"a period is a pair [start, end], not {list(pair)}")
        try:
            start, end = (time.fromisoformat(text) for text in pair)
        except ValueError as error:
            raise ValueError(f"period {list(pair)}: times are HH:MM") from error
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"period {list(pair)}: local times carry no zone")
        periods.append((start, end))
    check_periods(periods)
    return tuple(periods)


def add_working_hours(start: datetime, hours: float, calendar: WorkCalendar) -> Deadline:
    """The instant `hours` working hours after `start` (UTC), counted from the next working
    instant; a period's end counts as inside, so a deadline never jumps to the next period."""
    if hours < 0:
        raise ValueError(f"hours must not be negative, not {hours}")
    remaining_us = round(hours * _US_PER_HOUR)
    provisional = False
    cursor = _local(start, calendar)
    for periods, day_provisional in _working_days(cursor.date(), None, calendar):
        provisional = provisional or day_provisional
        for period_start, period_end in periods:
            begin = max(period_start, cursor)
            if begin > period_end:
                continue
            if _microseconds(period_end - begin) >= remaining_us:
                at = begin + timedelta(microseconds=remaining_us)
                return Deadline(_to_utc(at, calendar), provisional)
            remaining_us -= _microseconds(period_end - begin)
    raise AssertionError(
        "unreachable: _working_days without a last day never ends"
    )  # pragma: no cover


def working_hours_between(start: datetime, end: datetime, calendar: WorkCalendar) -> float:
    """The working hours from `start` to `end`; 0 if end <= start."""
    if end <= start:
        return 0.0
    local_start, local_end = _local(start, calendar), _local(end, calendar)
    total_us = 0
    for periods, _ in _working_days(local_start.date(), local_end.date(), calendar):
        for period_start, period_end in periods:
            overlap = min(period_end, local_end) - max(period_start, local_start)
            total_us += max(0, _microseconds(overlap))
    return total_us / _US_PER_HOUR


def is_working_instant(at: datetime, calendar: WorkCalendar) -> bool:
    """Whether `at` lies in a working period of a working day (both ends inclusive)."""
    local = _local(at, calendar)
    working, _ = calendar.day_status(local.date())
    return working and any(start <= local.time() <= end for start, end in calendar.periods)


def traffic_light(*, used_hours: float, allowed_hours: float, overdue: bool) -> Light:
    """Green below 80 % of the allowed working time, yellow from 80 % on, red when overdue."""
    if overdue:
        return Light.RED
    if allowed_hours <= 0 or used_hours >= WARNING_FRACTION * allowed_hours:
        return Light.YELLOW
    return Light.GREEN


def _working_days(
    first: date, last: date | None, calendar: WorkCalendar
) -> Iterator[tuple[list[tuple[datetime, datetime]], bool]]:
    """The periods (local naive datetimes) of each working day from `first` to `last` (endless
    when None), each with whether its status or that of a day skipped before it is provisional;
    ValueError after MAX_NON_WORKING_DAYS days in a row without work."""
    day, idle_days, provisional = first, 0, False
    while last is None or day <= last:
        working, day_provisional = calendar.day_status(day)
        provisional = provisional or day_provisional
        if working:
            periods = [
                (datetime.combine(day, start), datetime.combine(day, end))
                for start, end in calendar.periods
            ]
            yield periods, provisional
            idle_days, provisional = 0, False
        else:
            idle_days += 1
            if idle_days > MAX_NON_WORKING_DAYS:
                raise ValueError(
                    f"the calendar has no working day after {day - timedelta(idle_days)}"
                )
        day += timedelta(days=1)


def _local(at: datetime, calendar: WorkCalendar) -> datetime:
    """`at` as naive wall-clock time in the calendar's zone; ValueError when `at` is naive."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} must carry a time zone")
    return at.astimezone(calendar.time_zone).replace(tzinfo=None)


def _to_utc(local: datetime, calendar: WorkCalendar) -> datetime:
    return local.replace(tzinfo=calendar.time_zone).astimezone(UTC)


def _microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
