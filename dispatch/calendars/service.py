"""Work calendars from the database: the calendar a department works by, holiday overrides, and
the days of a year that are not ordinary ones. An administrator's changes are audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.audit import AuditKind, RequestOrigin, audit_change
from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from citygrid.errors import Conflict, InvalidInput, NotFound
from citygrid.web import N_
from dispatch import deadlines
from dispatch.models import CalendarDay
from dispatch.models import WorkCalendar as WorkCalendarRow

OFFICIAL = deadlines.ChineseOfficialCalendar()
# The name the first dispatch migration gave the default calendar. Pages show calendar names
# through gettext, so this system-given one reads in the page's language; names administrators
# type are shown as typed.
DEFAULT_CALENDAR_NAME = N_("Working days 08:30-12:00 and 13:30-17:30, official holidays")


@dataclass(frozen=True)
class SpecialDay:
    """A day of a calendar that is not decided by its weekday rule alone."""

    day: date
    is_workday: bool  # as this calendar counts it
    name: str | None
    source: str  # 'official' (the library) or 'override' (an administrator)


def calendar_from_row(
    row: WorkCalendarRow, overrides: Mapping[date, bool]
) -> deadlines.WorkCalendar:
    """The pure calendar of a row and its overrides; the official holidays when it follows them."""
    return deadlines.WorkCalendar(
        periods=deadlines.parse_periods(row.periods),
        weekdays=frozenset(row.weekdays),
        time_zone=ZoneInfo(row.time_zone),
        overrides=dict(overrides),
        official=OFFICIAL if row.official_holidays else None,
    )


def calendar_for_department(
    session: Session, department_id: int | None, *, default_code: str
) -> deadlines.WorkCalendar:
    """The calendar the department works by: its own, else the one coded `default_code`."""
    calendar_id = None
    if department_id is not None:
        calendar_id = session.scalar(
            select(Department.calendar_id).where(Department.id == department_id)
        )
    if calendar_id is not None:
        row = session.get_one(WorkCalendarRow, calendar_id)
    else:
        row = calendar_by_code(session, default_code)
    return calendar_from_row(row, overrides_of(session, row.id))


def overrides_of(session: Session, calendar_id: int) -> dict[date, bool]:
    """The calendar's override days: day → is workday."""
    rows = session.execute(
        select(CalendarDay.day, CalendarDay.is_workday).where(
            CalendarDay.calendar_id == calendar_id
        )
    )
    return {day: is_workday for day, is_workday in rows}


def calendar_by_code(session: Session, code: str) -> WorkCalendarRow:
    """The calendar coded `code`; NotFound otherwise."""
    row = session.scalar(select(WorkCalendarRow).where(WorkCalendarRow.code == code))
    if row is None:
        raise NotFound(f"no work calendar with code {code!r}")
    return row


def current_year(row: WorkCalendarRow, now: datetime) -> int:
    """The year it is at `now` by the calendar's own clock."""
    return now.astimezone(ZoneInfo(row.time_zone)).year


def list_calendars(session: Session) -> Sequence[WorkCalendarRow]:
    """Every calendar, by code."""
    return session.scalars(select(WorkCalendarRow).order_by(WorkCalendarRow.code)).all()


def create_calendar(
    session: Session,
    *,
    code: str,
    name: str,
    periods: Sequence[Sequence[str]],
    weekdays: Sequence[int],
    official_holidays: bool,
    time_zone: str,
    by: Principal,
    origin: RequestOrigin,
) -> WorkCalendarRow:
    """A new calendar (audited); InvalidInput naming the bad field, Conflict when the code is
    taken."""
    parsed = _checked_periods(periods)
    _check_time_zone(time_zone)
    if session.scalar(select(WorkCalendarRow.id).where(WorkCalendarRow.code == code)):
        raise Conflict(f"a work calendar with code {code!r} exists", field="code")
    row = WorkCalendarRow(
        code=code,
        name=name,
        time_zone=time_zone,
        periods=[[f"{start:%H:%M}", f"{end:%H:%M}"] for start, end in parsed],
        weekdays=sorted(set(weekdays)),
        official_holidays=official_holidays,
    )
    session.add(row)
    session.flush()
    audit_change(
        session,
        AuditKind.CALENDAR_CREATED,
        by=by,
        origin=origin,
        code=code,
        name=name,
        periods=row.periods,
        weekdays=row.weekdays,
        official_holidays=official_holidays,
        time_zone=time_zone,
    )
    return row


def set_calendar_day(
    session: Session,
    row: WorkCalendarRow,
    day: date,
    *,
    is_workday: bool,
    name: str | None,
    created_by: int | None,
) -> CalendarDay:
    """The override of `day` on the calendar, created or replaced."""
    override = _override(session, row.id, day)
    if override is None:
        override = CalendarDay(calendar_id=row.id, day=day)
        session.add(override)
    override.is_workday = is_workday
    override.name = name
    override.created_by = created_by
    session.flush()
    return override


def override_day(
    session: Session,
    row: WorkCalendarRow,
    day: date,
    *,
    is_workday: bool,
    name: str | None,
    by: Principal,
    origin: RequestOrigin,
) -> CalendarDay:
    """An administrator's override of `day` (set_calendar_day), audited."""
    override = set_calendar_day(
        session, row, day, is_workday=is_workday, name=name, created_by=by.user_id
    )
    audit_change(
        session,
        AuditKind.CALENDAR_DAY_SET,
        by=by,
        origin=origin,
        code=row.code,
        day=day.isoformat(),
        is_workday=is_workday,
        name=name,
    )
    return override


def delete_calendar_day(
    session: Session, row: WorkCalendarRow, day: date, *, by: Principal, origin: RequestOrigin
) -> None:
    """Remove the override of `day` (audited); NotFound when there is none."""
    override = _override(session, row.id, day)
    if override is None:
        raise NotFound(f"calendar {row.code!r} has no override on {day.isoformat()}")
    session.delete(override)
    session.flush()
    audit_change(
        session,
        AuditKind.CALENDAR_DAY_REMOVED,
        by=by,
        origin=origin,
        code=row.code,
        day=day.isoformat(),
    )


def special_days(session: Session, row: WorkCalendarRow, year: int) -> list[SpecialDay]:
    """The year's holidays and make-up workdays (when the calendar follows the official ones)
    and its overrides, which replace an official entry of the same day; by day."""
    days: dict[date, SpecialDay] = {}
    if row.official_holidays:
        for day, (is_workday, name) in OFFICIAL.special_days(year).items():
            days[day] = SpecialDay(day, is_workday, name, "official")
    overrides = session.scalars(
        select(CalendarDay).where(
            CalendarDay.calendar_id == row.id,
            CalendarDay.day >= date(year, 1, 1),
            CalendarDay.day <= date(year, 12, 31),
        )
    )
    for override in overrides:
        days[override.day] = SpecialDay(
            override.day, override.is_workday, override.name, "override"
        )
    return [days[day] for day in sorted(days)]


def preview_deadline(
    session: Session, row: WorkCalendarRow, *, start: datetime, hours: float
) -> deadlines.Deadline:
    """The deadline `hours` working hours after `start` on the calendar."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise InvalidInput("start must carry a time zone, e.g. +08:00", field="start")
    calendar = calendar_from_row(row, overrides_of(session, row.id))
    try:
        return deadlines.add_working_hours(start, hours, calendar)
    except ValueError as error:
        raise InvalidInput(str(error), field="hours") from error


def departments_by_calendar(session: Session) -> dict[int | None, int]:
    """How many departments work by each calendar (None: by the default one)."""
    rows = session.execute(
        select(Department.calendar_id, func.count()).group_by(Department.calendar_id)
    )
    return {calendar_id: count for calendar_id, count in rows}


def departments_of(session: Session, row: WorkCalendarRow, *, is_default: bool) -> list[Department]:
    """The departments that work by the calendar: its own, and those without one when it is
    the default; by name."""
    chosen = Department.calendar_id == row.id
    if is_default:
        chosen = chosen | Department.calendar_id.is_(None)
    return list(session.scalars(select(Department).where(chosen).order_by(Department.name)))


def departments_by_name(session: Session) -> Sequence[Department]:
    """Every department, by name."""
    return session.scalars(select(Department).order_by(Department.name)).all()


def _override(session: Session, calendar_id: int, day: date) -> CalendarDay | None:
    return session.scalar(
        select(CalendarDay).where(CalendarDay.calendar_id == calendar_id, CalendarDay.day == day)
    )


def _checked_periods(periods: Sequence[Sequence[str]]) -> tuple[tuple[time, time], ...]:
    try:
        return deadlines.parse_periods(periods)
    except ValueError as error:
        raise InvalidInput(str(error), field="periods") from error


def _check_time_zone(time_zone: str) -> None:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {time_zone!r}", field="time_zone") from error
