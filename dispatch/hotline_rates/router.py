"""`GET /api/hotline/rates`: the three rates, score and ranking per unit, street, community or
district for a month (or any period), as JSON or CSV in the reader's language."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import CSV, IsoDateTime, media_schema, text_matching
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, gettext_for, local_time
from dispatch.hotline_rates import service
from dispatch.hotline_rates.rates import RankingLevel, rates_of
from dispatch.hotline_rates.schemas import (
    CountsRead,
    RateRowRead,
    RatesAnswer,
    RatesRead,
    TrendPoint,
    WeightsRead,
)

router = APIRouter(tags=["hotline"], route_class=RoleCheckedRoute)

READER_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
RatesReader = Annotated[Principal, Depends(Allow(*READER_ROLES))]
MONTH_PATTERN = r"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$"
MonthQuery = Annotated[
    str | None,
    Query(description="A month in the city's calendar, YYYY-MM (default: the last whole one)."),
    *text_matching(MONTH_PATTERN, "a month as YYYY-MM"),
]
FromQuery = Annotated[IsoDateTime | None, Query(alias="from")]
ToQuery = Annotated[IsoDateTime | None, Query(alias="to")]
LevelQuery = Annotated[RankingLevel, Query(description="unit, street, community or district")]
CSV_COLUMNS = (
    ("rank", N_("Place in the ranking")),
    ("key", N_("Code")),
    ("name", N_("Name")),
    ("tickets", N_("Counted tickets")),
    ("excluded_unreasonable", N_("Unreasonable, excluded")),
    ("response_due", N_("Response: due")),
    ("responded_in_time", N_("Response: contacted in time")),
    ("response_rate", N_("Response rate, in per cent")),
    ("reached", N_("Callbacks reached")),
    ("solved", N_("Solved")),
    ("partly", N_("Partly solved")),
    ("not_solved", N_("Not solved")),
    ("resolution_rate", N_("Resolution rate, in per cent")),
    ("satisfied", N_("Satisfied")),
    ("fair", N_("Fair")),
    ("unsatisfied", N_("Not satisfied")),
    ("satisfaction_rate", N_("Satisfaction rate, in per cent")),
    ("unreachable", N_("Unreachable")),
    ("score", N_("Score")),
)


def chosen_period(
    month: str | None, period_from: datetime | None, period_to: datetime | None, zone: ZoneInfo
) -> tuple[service.Period, date, str | None]:
    """The period asked for, the month its trend ends with, and the month's name if one."""
    if (period_from is None) != (period_to is None):
        field = "to" if period_to is None else "from"
        raise InvalidInput("give both from and to, or a month", field=field)
    if period_from is not None and period_to is not None:
        if month is not None:
            raise InvalidInput("give a month or from and to, not both", field="month")
        start, end = (_aware(moment) for moment in (period_from, period_to))
        if end <= start:
            raise InvalidInput("to must be after from", field="to")
        last = (end - timedelta(microseconds=1)).astimezone(zone).date().replace(day=1)
        return service.Period(start, end), last, None
    if month:
        first = date.fromisoformat(f"{month}-01")
    else:  # the last whole month, as the published monthly ranking
        first = (datetime.now(zone).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    return service.month_period(first, zone), first, first.strftime("%Y-%m")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compute(
    session: Session,
    settings: Settings,
    level: RankingLevel,
    month: str | None,
    period_from: datetime | None,
    period_to: datetime | None,
) -> RatesAnswer:
    """The ranking asked for, as answered."""
    zone = settings.city_zone
    period, last_month, month_name = chosen_period(month, period_from, period_to, zone)
    weights = service.weights_of(settings)
    result = service.ranking(
        session,
        level,
        period,
        now=datetime.now(UTC),
        zone=zone,
        weights=weights,
        trend_months=service.months_back(last_month, settings.hotline_trend_months),
    )
    rows = [
        RateRowRead(
            rank=row.rank,
            key=row.code,
            name=row.name,
            **asdict(row.counts),
            **service.rates_fields(row.rates),
            trend=[
                TrendPoint(month=month_start, **service.rates_fields(rates))
                for month_start, rates in row.trend
            ],
        )
        for row in result.rows
    ]
    return RatesAnswer(
        level=level,
        period_from=period.start,
        period_to=period.end,
        month=month_name,
        weights=WeightsRead(**{name: float(value) for name, value in asdict(weights).items()}),
        rows=rows,
        totals=CountsRead(**asdict(result.totals)),
        totals_rates=RatesRead(**service.rates_fields(rates_of(result.totals, weights))),
    )


@router.get(
    "/api/hotline/rates",
    response_model=RatesAnswer,
    responses={200: {"content": {CSV: {"schema": media_schema(CSV)}}}},
)
def get_rates(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: RatesReader,
    level: LevelQuery = RankingLevel.STREET,
    month: MonthQuery = None,
    period_from: FromQuery = None,
    period_to: ToQuery = None,
    output_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> RatesAnswer | Response:
    """响应率·解决率·满意率, the weighted score and the ranking of one level over a month
    (`month=2026-11`) or any period (`from`, `to`), each row with its monthly trend."""
    answer = compute(session, settings, level, month, period_from, period_to)
    if output_format == "csv":
        return csv_response(answer, request, settings.city_zone)
    return answer


def csv_response(answer: RatesAnswer, request: Request, zone: ZoneInfo) -> Response:
    """The ranking as CSV: headers in the reader's language, the period in city time, UTF-8
    with a byte-order mark so spreadsheet programs read the Chinese names."""
    gettext = gettext_for(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    period = f"{local_time(answer.period_from, zone)} – {local_time(answer.period_to, zone)}"
    writer.writerow((gettext(N_("Period")), period, gettext(LEVEL_LABELS[answer.level])))
    writer.writerow(gettext(label) for _, label in CSV_COLUMNS)
    for row in answer.rows:
        values = row.model_dump()
        writer.writerow("" if values[name] is None else values[name] for name, _ in CSV_COLUMNS)
    totals = {**answer.totals.model_dump(), **answer.totals_rates.model_dump()}
    totals.update(rank="", key="", name=gettext(N_("Total")))
    writer.writerow("" if totals[name] is None else totals[name] for name, _ in CSV_COLUMNS)
    filename = f"hotline-rates-{answer.level.value}-{answer.month or 'period'}.csv"
    return Response(
        ("\ufeff" + buffer.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


LEVEL_LABELS = {
    RankingLevel.UNIT: N_("Units"),
    RankingLevel.STREET: N_("Streets"),
    RankingLevel.COMMUNITY: N_("Communities"),
    RankingLevel.DISTRICT: N_("Districts"),
}
