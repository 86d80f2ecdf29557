"""`/hotline/ranking`: the monthly ranking of units, streets, communities or districts by the
three rates and their score, with each row's trend over the last months (managers)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import local_time, render
from dispatch.hotline_rates.rates import RankingLevel
from dispatch.hotline_rates.router import (
    LEVEL_LABELS,
    FromQuery,
    LevelQuery,
    MonthQuery,
    RatesReader,
    ToQuery,
    compute,
)
from dispatch.hotline_rates.schemas import TrendPoint

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

SPARK_WIDTH, SPARK_HEIGHT, SPARK_STEP = 96, 24, 16


def sparkline(trend: list[TrendPoint]) -> str:
    """The score's polyline points over the months (0 at the bottom, 100 at the top); months
    without a score break nothing, they are left out."""
    inner = SPARK_HEIGHT - 4
    points = [
        f"{2 + index * SPARK_STEP},{round(SPARK_HEIGHT - 2 - point.score * inner / 100, 1)}"
        for index, point in enumerate(trend)
        if point.score is not None
    ]
    return " ".join(points)


@router.get("/hotline/ranking", response_class=HTMLResponse)
def ranking_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: RatesReader,
    level: LevelQuery = RankingLevel.STREET,
    month: MonthQuery = None,
    period_from: FromQuery = None,
    period_to: ToQuery = None,
) -> HTMLResponse:
    """The ranking of a month, the three rates and counts of each row, and its trend."""
    answer = compute(session, settings, level, month, period_from, period_to)
    zone = settings.city_zone
    months: list[date] = [point.month for point in answer.rows[0].trend] if answer.rows else []
    context: dict[str, Any] = {
        "answer": answer,
        "levels": [(choice.value, LEVEL_LABELS[choice]) for choice in RankingLevel],
        "period": (local_time(answer.period_from, zone), local_time(answer.period_to, zone)),
        "months": [value.strftime("%Y-%m") for value in months],
        "sparks": {row.key: sparkline(row.trend) for row in answer.rows},
        "spark": {"width": SPARK_WIDTH, "height": SPARK_HEIGHT},
        "query": request.url.query,
    }
    return render(request, "dispatch/hotline_ranking.html", context, principal=principal)
