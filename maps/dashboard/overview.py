"""The command centre's overview (pure): the periods its tiles count, the tiles themselves and the
case list behind each one.

Periods are the city's days and months: "today" runs from midnight in the city's time zone to
now and is compared with yesterday from midnight to the same time of day; "this month" runs from
the first of the month to now and is compared with last month up to the same day and time (the
last day of a shorter month when it has no such day). The snapshot tiles (overdue now, waiting
for dispatch) are compared with the same time yesterday.

| tile                 | counts                                           | link: /cases?…        |
|----------------------|--------------------------------------------------|-----------------------|
| reported             | cases created in the period                      | created_from          |
| filed                | cases filed (立案) in the period                  | filed_from            |
| dispatched           | cases whose (last) dispatch fell in the period   | dispatched_from       |
| closed               | cases closed in the period                       | status, closed_from   |
| on-time rate         | of those with a deadline: handled by it          | as closed             |
| overdue now          | past the deadline while a department holds it    | overdue=true          |
| waiting for dispatch | filed or returned, not yet dispatched            | status=filed,returned |

A link's period runs to now, so it names only its start. Merged duplicates are counted once,
on the case they were merged into (as on the maps).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from citygrid.web import N_

CASES_URL = "/cases"
TOP_ROWS = 10


@dataclass(frozen=True)
class Window:
    """[start, end) in the city's time zone."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Comparison:
    """A period up to now and the same stretch of the period before."""

    name: str  # "today" | "month"
    current: Window
    previous: Window


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone)


def same_time(day: date, moment: datetime, zone: tzinfo) -> datetime:
    """`day` at the wall-clock time of `moment` (both in the city's zone)."""
    return datetime.combine(day, moment.astimezone(zone).time().replace(tzinfo=None), zone)


def previous_month_day(today: date) -> date:
    """The same day of last month, or its last day when it is shorter."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def comparisons(now: datetime, zone: tzinfo) -> list[Comparison]:
    """Today against yesterday up to the same time; this month against last month up to the
    same day and time (city time)."""
    today = now.astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    last_month_day = previous_month_day(today)
    return [
        Comparison(
            "today",
            Window(day_start(today, zone), now),
            Window(day_start(yesterday, zone), same_time(yesterday, now, zone)),
        ),
        Comparison(
            "month",
            Window(day_start(today.replace(day=1), zone), now),
            Window(
                day_start(last_month_day.replace(day=1), zone),
                same_time(last_month_day, now, zone),
            ),
        ),
    ]


def snapshot_before(now: datetime, zone: tzinfo) -> datetime:
    """The moment the snapshot tiles are compared with: this time yesterday."""
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    return same_time(yesterday, now, zone)


# Tiles -----------------------------------------------------------------------------------------

FLOW_LABELS = {
    "reported": N_("Cases reported"),
    "filed": N_("Cases filed"),
    "dispatched": N_("Cases dispatched"),
    "closed": N_("Cases closed"),
    "on_time_rate": N_("On-time rate"),
}
SNAPSHOT_LABELS = {
    "overdue": N_("Overdue now"),
    "waiting": N_("Waiting for dispatch"),
}
PERIOD_LABELS = {"today": N_("Today"), "month": N_("This month")}
# The change in words ("+12 than yesterday at this time"); a rate's change is in points.
COMPARED_WITH = {
    "today": N_("%(change)s than yesterday at this time"),
    "month": N_("%(change)s than last month at this point"),
    "snapshot": N_("%(change)s than this time yesterday"),
}
RATE_COMPARED_WITH = {
    "today": N_("%(change)s points than yesterday at this time"),
    "month": N_("%(change)s points than last month at this point"),
}
# Whether more is better (True), worse (False) or neither (None): the change's colour.
MORE_IS_BETTER: dict[str, bool | None] = {
    "reported": None,
    "filed": None,
    "dispatched": True,
    "closed": True,
    "on_time_rate": True,
    "overdue": False,
    "waiting": False,
}


@dataclass(frozen=True)
class Counts:
    """What the service counted for one window, and the snapshot figures."""

    reported: int = 0
    filed: int = 0
    dispatched: int = 0
    closed: int = 0
    closed_on_time: int = 0
    closed_with_due: int = 0

    def value(self, name: str) -> float | None:
        """A flow tile's figure (the on-time rate None when nothing with a deadline closed)."""
        if name == "on_time_rate":
            return self.closed_on_time / self.closed_with_due if self.closed_with_due else None
        return float(getattr(self, name))


@dataclass(frozen=True)
class Snapshot:
    overdue: int
    waiting: int
    overdue_before: int
    waiting_before: int


@dataclass(frozen=True)
class Tile:
    """One tile: its name (N_), figure, change against the period before, and link."""

    name: str
    label: str
    value: str
    change: str | None  # "+12", "−3", "±0", "+1.5" (points, for a rate); None: nothing to compare
    trend: str  # "better" | "worse" | "neutral": the change's colour
    compared_with: str  # N_ with %(change)s
    href: str


def format_value(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name == "on_time_rate":
        return f"{100 * value:.1f}%"
    return f"{int(value):,}"


def format_change(name: str, now: float | None, before: float | None) -> tuple[str | None, str]:
    """The signed change and whether it is better, worse or neutral."""
    if now is None or before is None:
        return None, "neutral"
    difference = (now - before) * (100 if name == "on_time_rate" else 1)
    if round(difference, 1) == 0:
        return "±0", "neutral"
    shown = f"{abs(difference):.1f}" if name == "on_time_rate" else f"{int(abs(difference)):,}"
    sign = "+" if difference > 0 else "−"
    better = MORE_IS_BETTER[name]
    trend = "neutral" if better is None else ("better" if (difference > 0) == better else "worse")
    return sign + shown, trend


def flow_tiles(
    comparison: Comparison, now: Counts, before: Counts, filters: Sequence[tuple[str, str]]
) -> list[Tile]:
    """The five flow tiles of a period, each with the change and its list's link."""
    tiles = []
    for name, label in FLOW_LABELS.items():
        value, previous = now.value(name), before.value(name)
        change, trend = format_change(name, value, previous)
        href = cases_link(flow_query(name, comparison.current), filters)
        shown = format_value(name, value)
        compared = (RATE_COMPARED_WITH if name == "on_time_rate" else COMPARED_WITH)[
            comparison.name
        ]
        tiles.append(Tile(name, label, shown, change, trend, compared, href))
    return tiles


def flow_query(name: str, window: Window) -> list[tuple[str, str]]:
    """The /cases parameters of the cases a flow tile counts (to = None: up to now)."""
    column = {"on_time_rate": "closed"}.get(name, name)
    prefix = {"reported": "created"}.get(column, column)
    pairs = [(f"{prefix}_from", window.start.isoformat())]
    if column == "closed":
        pairs.insert(0, ("status", "closed"))
    return pairs + ([("sort", "-created_at")] if name == "reported" else [])


def snapshot_tiles(snapshot: Snapshot, filters: Sequence[tuple[str, str]]) -> list[Tile]:
    """Overdue now and waiting for dispatch, against this time yesterday."""
    queries = {
        "overdue": [("overdue", "true"), ("sort", "due_at")],
        "waiting": [("status", "filed,returned"), ("sort", "created_at")],
    }
    figures = {
        "overdue": (snapshot.overdue, snapshot.overdue_before),
        "waiting": (snapshot.waiting, snapshot.waiting_before),
    }
    tiles = []
    for name, label in SNAPSHOT_LABELS.items():
        value, before = figures[name]
        change, trend = format_change(name, value, before)
        href = cases_link(queries[name], filters)
        shown = format_value(name, value)
        tiles.append(Tile(name, label, shown, change, trend, COMPARED_WITH["snapshot"], href))
    return tiles


def cases_link(pairs: Sequence[tuple[str, str]], filters: Sequence[tuple[str, str]]) -> str:
    """The case list's URL for the tile's own parameters and the dashboard's filters."""
    return f"{CASES_URL}?{urlencode([*pairs, *filters])}"


def list_filters(
    *,
    category: str | None,
    area: str | None,
    department: str | None,
    urgency: str | None,
) -> list[tuple[str, str]]:
    """The dashboard's filters as the case list's parameters."""
    named = (
        ("category_code", category),
        ("area_code", area),
        ("department_code", department),
        ("urgency", urgency),
    )
    return [(name, value) for name, value in named if value]


# Top lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopRow:
    """A category or street with its reports in the period, and the list of those cases."""

    code: str
    label: str
    reports: int
    share: str  # of all reports in the period, "12.5%"
    href: str


def top_rows(
    rows: Sequence[tuple[str, str, int]],
    total: int,
    *,
    parameter: str,
    since: datetime,
    filters: Sequence[tuple[str, str]],
) -> list[TopRow]:
    """(code, label, reports) rows with their share and their case list since `since`; the
    list's own filter replaces the dashboard's of the same name."""
    others = [(name, value) for name, value in filters if name != parameter]
    return [
        TopRow(
            code,
            label,
            reports,
            f"{100 * reports / total:.1f}%" if total else "—",
            cases_link([(parameter, code), ("created_from", since.isoformat())], others),
        )
        for code, label, reports in rows
    ]
