"""The dashboard's filters (pure: no database): read from the query string with a message per
field that cannot be read, and turned into the map pages' filters and the dashboard's links."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from citygrid.web import N_
from dispatch.evaluation import grading
from dispatch.evaluation.grading import GroupKind
from maps.schemas import MapFilters, Metric, Unit

T = TypeVar("T")

DEFAULT_PERIOD_DAYS = 30
DAILY_TREND_MAX_DAYS = 62  # longer periods are shown per week
CATEGORY_CODE = re.compile(r"[0-9A-Za-z]{1,8}")
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,2}")  # district, street or community
GROUPINGS = (GroupKind.DEPARTMENT, GroupKind.DISTRICT, GroupKind.STREET, GroupKind.COMMUNITY)
FILTER_NAMES = ("from", "to", "category", "area", "department", "urgency", "by", "metric", "unit")


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard shows: dates (inclusive), filters, the groups and map options."""

    date_from: date
    date_to: date
    category: str | None = None
    area: str | None = None
    department: str | None = None
    urgency: str | None = None
    by: GroupKind = GroupKind.DEPARTMENT
    metric: Metric = Metric.REPORTS
    unit: Unit = Unit.CELL

    def period(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in the city's time zone: from the first day's start to the day after
        the last."""
        start = datetime.combine(self.date_from, time(), zone)
        return start, datetime.combine(self.date_to + timedelta(days=1), time(), zone)

    def trend_step(self) -> str:
        """'day' for periods up to DAILY_TREND_MAX_DAYS, else 'week'."""
        days = (self.date_to - self.date_from).days + 1
        return "day" if days <= DAILY_TREND_MAX_DAYS else "week"


@dataclass
class ParsedFilters:
    """The filters that could be read, and an error message (N_) per field that could not."""

    filters: DashboardFilters
    errors: dict[str, str] = field(default_factory=dict)


def parse_date(value: str | None, default: date) -> date | None:
    """An ISO date (YYYY-MM-DD), the default when empty, None when unreadable."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_period(
    raw: Mapping[str, str | None], today: date, errors: dict[str, str]
) -> tuple[date, date]:
    """The first and last day: defaults to the last DEFAULT_PERIOD_DAYS days."""
    default_from = today - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    date_from = parse_date(raw.get("from"), default_from)
    date_to = parse_date(raw.get("to"), today)
    if date_from is None:
        errors["from"] = N_("Enter a date as YYYY-MM-DD.")
    if date_to is None:
        errors["to"] = N_("Enter a date as YYYY-MM-DD.")
    if date_from is None or date_to is None:
        return default_from, today
    if date_to < date_from:
        errors["to"] = N_("The last day must not be before the first day.")
        return default_from, today
    if (date_to - date_from).days >= grading.MAX_PERIOD_DAYS:
        errors["to"] = N_("The period may span at most a year.")
        return default_from, today
    return date_from, date_to


def choice(value: str | None, options: Sequence[T], default: T) -> T | None:
    """The option whose text is `value`, the default when empty, None when unknown."""
    if not value:
        return default
    return next((option for option in options if str(option) == value), None)


CODE_FIELDS = {
    "category": (CATEGORY_CODE, N_("A category code is 1 to 8 letters or digits.")),
    "area": (AREA_CODE, N_("An area code has 6, 9 or 12 digits.")),
}


def parse_code(raw: Mapping[str, str | None], name: str, errors: dict[str, str]) -> str | None:
    """A category or area code, None when empty or malformed (the latter noted in `errors`)."""
    code = (raw.get(name) or "").strip() or None
    pattern, message = CODE_FIELDS[name]
    if code is not None and not pattern.fullmatch(code):
        errors[name] = message
        return None
    return code


def parse_filters(raw: Mapping[str, str | None], today: date) -> ParsedFilters:
    """The dashboard's filters from the query string (pure: no database); what cannot be read
    is noted in `errors` and left at its default."""
    errors: dict[str, str] = {}
    date_from, date_to = parse_period(raw, today, errors)
    urgency = choice(raw.get("urgency"), ("normal", "urgent"), "")
    by = choice(raw.get("by"), GROUPINGS, GroupKind.DEPARTMENT)
    metric = choice(raw.get("metric"), list(Metric), Metric.REPORTS)
    unit = choice(raw.get("unit"), list(Unit), Unit.CELL)
    for name, value in (("urgency", urgency), ("by", by), ("metric", metric), ("unit", unit)):
        if value is None:
            errors[name] = N_("Choose one of the options.")
    filters = DashboardFilters(
        date_from,
        date_to,
        category=parse_code(raw, "category", errors),
        area=parse_code(raw, "area", errors),
        department=(raw.get("department") or "").strip() or None,
        urgency=urgency or None,
        by=by or GroupKind.DEPARTMENT,
        metric=metric or Metric.REPORTS,
        unit=unit or Unit.CELL,
    )
    return ParsedFilters(filters, errors)


def replace_filters(filters: DashboardFilters, **changes: Any) -> DashboardFilters:
    """The filters with the given fields changed."""
    return DashboardFilters(**{**vars(filters), **changes})


# Links -----------------------------------------------------------------------------------------


def map_query(filters: DashboardFilters, zone: ZoneInfo, *, choropleth: bool = False) -> str:
    """The /maps/ query string of the filters (the choropleth's also names metric and unit)."""
    start, end = filters.period(zone)
    pairs = [("period_from", start.isoformat()), ("period_to", end.isoformat())]
    for name, value in (
        ("category", filters.category),
        ("area", filters.area),
        ("department", filters.department),
        ("urgency", filters.urgency),
    ):
        if value:
            pairs.append((name, value))
    if choropleth:
        pairs += [("metric", filters.metric.value), ("unit", filters.unit.value)]
    return urlencode(pairs)


def export_links(filters: DashboardFilters, zone: ZoneInfo) -> list[tuple[str, str]]:
    """(label N_, URL) of every download the filters select."""
    start, end = filters.period(zone)
    period = [("from", start.isoformat()), ("to", end.isoformat())]
    evaluation_query = urlencode([*period, ("by", filters.by.value), ("format", "csv")])
    cases = [("created_from", start.isoformat()), ("created_to", end.isoformat())]
    for name, value in (
        ("category_code", filters.category),
        ("area_code", filters.area),
        ("department_code", filters.department),
        ("urgency", filters.urgency),
    ):
        if value:
            cases.append((name, value))
    query, choropleth = map_query(filters, zone), map_query(filters, zone, choropleth=True)
    return [
        (N_("Evaluation (CSV)"), f"/api/evaluation?{evaluation_query}"),
        (N_("Cases (CSV)"), f"/api/cases/export?{urlencode([*cases, ('format', 'csv')])}"),
        (N_("Cases (GeoJSON)"), f"/api/cases/export?{urlencode([*cases, ('format', 'geojson')])}"),
        (N_("Reports per cell (CSV)"), f"/maps/heatmap/csv?{query}"),
        (N_("Choropleth values (CSV)"), f"/maps/choropleth/csv?{choropleth}"),
        (N_("Hot spots (CSV)"), f"/maps/hotspots/csv?{query}"),
    ]


def map_frames(filters: DashboardFilters, zone: ZoneInfo) -> list[tuple[str, str, str]]:
    """(layer, framed page URL, full page URL) of the three maps under the filters."""
    frames = []
    for layer in ("heatmap", "choropleth", "hotspots"):
        query = map_query(filters, zone, choropleth=layer == "choropleth")
        frames.append((layer, f"/dashboard/maps/{layer}?{query}", f"/maps/{layer}?{query}"))
    return frames


def to_map_filters(filters: DashboardFilters, zone: ZoneInfo) -> MapFilters:
    """The filters as the map pages and their statements take them."""
    start, end = filters.period(zone)
    return MapFilters(
        period_from=start,
        period_to=end,
        category=filters.category,
        urgency=filters.urgency,
        department_code=filters.department,
        area_code=filters.area,
    )
