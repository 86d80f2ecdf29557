"""What the forecast reads from the database: daily case counts per street × category group over
the history (one set-based statement), the kind of each day from the dispatch calendar
(holidays, make-up workdays), the names of streets and groups; then the pure model's run."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from analysis.forecast import model
from citygrid.errors import NotFound
from dispatch.calendars import service as calendars
from dispatch.deadlines import WorkCalendar
from events.models import Category
from grid.models import GridRegion

DEFAULT_HISTORY_DAYS = 182
MIN_HISTORY_DAYS = 28
MAX_HISTORY_DAYS = 730

# A case counts on the day (city time) it was reported, in its street (the parent of its cell's
# community) and its category group (大类: the minor category's parent, or a major itself);
# merged duplicates are not counted (as the dashboard).
DAILY_COUNTS_SQL = text("""
SELECT m.parent_id AS street_id, coalesce(k.parent_id, k.id) AS group_id,
       CAST(e.created_at AT TIME ZONE :zone AS date) AS day, count(*) AS cases
FROM event_case e
JOIN grid_cell c ON c.id = e.cell_id
JOIN grid_region m ON m.id = c.community_id
JOIN category k ON k.id = e.category_id
WHERE e.merged_into_id IS NULL AND e.created_at >= :since AND e.created_at < :until
GROUP BY 1, 2, 3
""")


@dataclass(frozen=True)
class Street:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Group:
    id: int
    code: str
    standard: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class SeriesRow:
    street: Street
    group: Group
    forecast: model.Forecast
    history_cases: int  # cases in the history window


@dataclass(frozen=True)
class ForecastReport:
    as_of: datetime
    first_day: date  # of the history
    last_day: date  # of the history (yesterday)
    horizon_days: int
    interval: float
    rows: list[SeriesRow]
    overall: model.Accuracy
    origins: tuple[date, ...]
    provisional_years: tuple[int, ...]  # forecast years whose holidays are not announced yet


def history_window(now: datetime, zone: ZoneInfo, history_days: int) -> tuple[date, date]:
    """First and last day of the history: the `history_days` whole days before today."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=history_days), today - timedelta(days=1)


def daily_counts(
    session: Session, first_day: date, last_day: date, zone: ZoneInfo
) -> dict[model.SeriesKey, list[int]]:
    """(street id, group id) → cases per day from `first_day` to `last_day`, zeros filled in;
    only series with a case in the window."""
    since = datetime.combine(first_day, datetime.min.time(), zone)
    until = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), zone)
    n_days = (last_day - first_day).days + 1
    counts: dict[model.SeriesKey, list[int]] = {}
    params = {"zone": str(zone), "since": since, "until": until}
    for row in session.execute(DAILY_COUNTS_SQL, params):
        series = counts.setdefault((row.street_id, row.group_id), [0] * n_days)
        series[(row.day - first_day).days] = int(row.cases)
    return counts


def day_kind_of(calendar: WorkCalendar) -> model.DayKindOf:
    """A day's kind by the calendar: a day off on one of its weekdays is a holiday, a working
    day outside them a make-up workday."""

    def day_kind(day: date) -> model.DayKind:
        workday, _provisional = calendar.day_status(day)
        by_weekday = day.isoweekday() in calendar.weekdays
        if by_weekday and not workday:
            return model.DayKind.HOLIDAY
        if workday and not by_weekday:
            return model.DayKind.MAKEUP_WORKDAY
        return model.DayKind.ORDINARY

    return day_kind


def provisional_years(calendar: WorkCalendar, days: Sequence[date]) -> tuple[int, ...]:
    """The years among `days` whose official holidays are not announced yet."""
    return tuple(sorted({day.year for day in days if calendar.day_status(day)[1]}))


def street_names(session: Session, ids: set[int]) -> dict[int, Street]:
    rows = session.execute(
        select(GridRegion.id, GridRegion.code, GridRegion.name).where(GridRegion.id.in_(ids))
    )
    return {row.id: Street(row.id, row.code, row.name) for row in rows}


def group_names(session: Session, ids: set[int]) -> dict[int, Group]:
    columns = (Category.id, Category.code, Category.standard, Category.name_zh, Category.name_en)
    rows = session.execute(select(*columns).where(Category.id.in_(ids)))
    return {row.id: Group(*row) for row in rows}


def check_filters(session: Session, *, street: str | None, group: str | None) -> None:
    """NotFound naming the field when no street or no category group has the code."""
    if street is not None and not session.scalar(
        select(GridRegion.id).where(GridRegion.code == street, GridRegion.level == "street")
    ):
        raise NotFound(f"no street with code {street!r}", field="street")
    if group is not None and not session.scalar(
        select(Category.id).where(Category.code == group, Category.level == "major")
    ):
        raise NotFound(f"no category group (major category) with code {group!r}", field="group")


def forecast_report(
    session: Session,
    *,
    zone: ZoneInfo,
    calendar_code: str,
    history_days: int = DEFAULT_HISTORY_DAYS,
    now: datetime | None = None,
    options: model.ModelOptions | None = None,
) -> ForecastReport:
    """Every street × group with a case in the history: its next days and its backtest."""
    options = options or model.ModelOptions()
    now = now or datetime.now(UTC)
    first_day, last_day = history_window(now, zone, history_days)
    calendar = calendars.calendar_for_department(session, None, default_code=calendar_code)
    history = model.from_first_case(
        model.History(first_day, daily_counts(session, first_day, last_day, zone))
    )
    first_day, counts = history.first_day, history.counts
    future = [last_day + timedelta(days=k + 1) for k in range(options.horizon_days)]
    report = ForecastReport(
        as_of=now,
        first_day=first_day,
        last_day=last_day,
        horizon_days=options.horizon_days,
        interval=options.interval,
        rows=[],
        overall=model.Accuracy(None, None, None, 0),
        origins=(),
        provisional_years=provisional_years(calendar, future),
    )
    if not counts:
        return report
    run = model.forecast(history, day_kind_of(calendar), options)
    streets = street_names(session, {street for street, _ in counts})
    groups = group_names(session, {group for _, group in counts})
    rows = [
        SeriesRow(streets[street], groups[group], run.series[(street, group)], sum(series))
        for (street, group), series in counts.items()
    ]
    rows.sort(key=lambda row: (row.street.code, row.group.standard, row.group.code))
    return replace(report, rows=rows, overall=run.overall, origins=run.origins)


def chosen_rows(
    rows: Sequence[SeriesRow], *, street: str | None, group: str | None
) -> list[SeriesRow]:
    """The rows of the street coded `street` and the group coded `group` (either may be None)."""
    return [
        row
        for row in rows
        if (street is None or row.street.code == street)
        and (group is None or row.group.code == group)
    ]


CSV_FIELDS = (
    "street_code", "street_name", "group_code", "group_standard", "group_name_zh",
    "group_name_en", "day", "mean", "median", "lower", "upper", "backtest_mase",
    "backtest_seasonal_naive_mase", "backtest_coverage",
)  # fmt: skip


def forecast_csv(rows: Sequence[SeriesRow]) -> str:
    """One line per street × group × day, with the series' backtest figures: with a byte-order
    mark so spreadsheet programs read the Chinese names; empty cells for undefined figures."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for row in rows:
        accuracy = row.forecast.accuracy
        figures = [_figure(value) for value in (accuracy.mase, accuracy.naive_mase)]
        figures.append(_figure(accuracy.coverage))
        for day in row.forecast.days:
            writer.writerow((
                row.street.code, row.street.name, row.group.code, row.group.standard,
                row.group.name_zh, row.group.name_en, day.day.isoformat(), f"{day.mean:.3f}",
                day.median, day.lower, day.upper, *figures,
            ))  # fmt: skip
    return "\ufeff" + buffer.getvalue()


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
