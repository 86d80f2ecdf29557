"""The forecast page for managers: per street × category group the expected cases of each of
the next 14 days with their 80 % interval (a small chart and the numbers), and beside them the
rolling-origin backtest's MASE and interval coverage, so nobody trusts a row more than it
deserves. Filters (street, group, history) come in a GET form; the model is fitted on every
series whatever the filters show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from analysis.forecast import model, service
from analysis.forecast.router import READER_ROLES, GroupQuery, HistoryQuery, StreetQuery
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, page_language, render
from events.categories.labels import category_label, shared_category_names

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

CHART_DAY_WIDTH, CHART_HEIGHT, CHART_PAD = 12, 40, 3
# How far a row's backtest may be trusted, by its MASE: below 1 it beat last week's numbers.
TRUST_LABELS = {
    "better": N_("better than last week's numbers"),
    "worse": N_("no better than last week's numbers"),
    "unknown": N_("not enough history to check"),
}


@dataclass(frozen=True)
class BandChart:
    """An inline SVG of a row's 14 days: the interval as a band, the mean as a line."""

    width: int
    height: int
    band: str  # polygon points
    line: str  # polyline points
    y_max: int


def band_chart(days: Sequence[model.DayForecast]) -> BandChart:
    """Where the band and the line of `days` lie (y from 0 to the largest upper bound)."""
    y_max = max([1, *(day.upper for day in days)])
    inner = CHART_HEIGHT - 2 * CHART_PAD

    def x(index: int) -> float:
        return round(CHART_PAD + index * CHART_DAY_WIDTH, 1)

    def y(value: float) -> float:
        return round(CHART_HEIGHT - CHART_PAD - value * inner / y_max, 1)

    top = [f"{x(i)},{y(day.upper)}" for i, day in enumerate(days)]
    bottom = [f"{x(i)},{y(day.lower)}" for i, day in reversed(list(enumerate(days)))]
    return BandChart(
        width=2 * CHART_PAD + CHART_DAY_WIDTH * max(0, len(days) - 1),
        height=CHART_HEIGHT,
        band=" ".join(top + bottom),
        line=" ".join(f"{x(i)},{y(day.mean)}" for i, day in enumerate(days)),
        y_max=y_max,
    )


def trust(accuracy: model.Accuracy) -> str:
    if accuracy.mase is None:
        return "unknown"
    return "better" if accuracy.mase < 1 else "worse"


def page_rows(
    session: Session, rows: Sequence[service.SeriesRow], language: str
) -> list[dict[str, Any]]:
    """What each table row shows: names in the page's language, the chart, the figures."""
    shared = shared_category_names(session)
    return [
        {
            "street": row.street,
            "group_label": category_label(row.group, language, shared_names=shared),
            "forecast": row.forecast,
            "chart": band_chart(row.forecast.days),
            "trust": trust(row.forecast.accuracy),
            "history_cases": row.history_cases,
        }
        for row in rows
    ]


def filter_choices(rows: Sequence[service.SeriesRow], language: str) -> dict[str, Any]:
    """The streets and group codes that have a forecast, for the form's lists."""
    streets = sorted({(row.street.code, row.street.name) for row in rows})
    groups: dict[str, set[str]] = {}
    for row in rows:
        name = row.group.name_en if language == "en" else row.group.name_zh
        groups.setdefault(row.group.code, set()).add(name)
    return {
        "streets": streets,
        "groups": [(code, " / ".join(sorted(names))) for code, names in sorted(groups.items())],
    }


@router.get("/analysis/forecast", response_class=HTMLResponse)
def case_forecast_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*READER_ROLES))],
    street: StreetQuery = None,
    group: GroupQuery = None,
    history_days: HistoryQuery = service.DEFAULT_HISTORY_DAYS,
) -> HTMLResponse:
    """The next 14 days per street × category group, with the backtest beside each row."""
    street, group = street or None, group or None  # the form's empty choice: every one
    service.check_filters(session, street=street, group=group)
    language = page_language(request)
    zone = settings.city_zone
    report = service.forecast_report(
        session,
        zone=zone,
        calendar_code=settings.default_calendar_code,
        history_days=history_days,
    )
    rows = service.chosen_rows(report.rows, street=street, group=group)
    context = {
        "report": report,
        "as_of": local_time(report.as_of, zone),
        "days": [day.day for day in rows[0].forecast.days] if rows else [],
        "rows": page_rows(session, rows, language),
        "chosen": {"street": street or "", "group": group or "", "history_days": history_days},
        "trust_labels": TRUST_LABELS,
        "query": request.url.query,
        **filter_choices(report.rows, language),
    }
    return render(request, "analysis/forecast.html", context, principal=principal)
