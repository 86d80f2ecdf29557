"""The places and components whose closed cases came back most: JSON or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import CSV, IsoDateTime, media_schema
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from events.recurrence import service
from events.recurrence.schemas import RankedRead, RankedRow
from events.recurrence.service import RankBy

router = APIRouter(tags=["recurrence"], route_class=RoleCheckedRoute)

READER_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
ReaderDep = Annotated[Principal, Depends(Allow(*READER_ROLES))]
DEFAULT_PERIOD = timedelta(days=365)
MAX_PERIOD = timedelta(days=3 * 366)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class RankQuery:
    by: RankBy
    period_from: datetime
    period_to: datetime
    limit: int


def rank_query(
    settings: SettingsDep,
    by: RankBy = RankBy.PLACE,
    period_from: Annotated[IsoDateTime | None, Query(alias="from")] = None,
    period_to: Annotated[IsoDateTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_RANKED)] = service.DEFAULT_RANKED,
) -> RankQuery:
    """The recurrences reported in [from, to) (naive times in the city's zone; default: the
    last 365 days); InvalidInput naming `to` when the period is empty or longer than 3 years."""
    zone = settings.city_zone
    end = period_to or datetime.now(UTC)
    end = end.replace(tzinfo=zone) if end.tzinfo is None else end
    try:
        start = period_from or end - DEFAULT_PERIOD
    except OverflowError as error:
        raise InvalidInput("'to' is too early to count a year back from", field="to") from error
    start = start.replace(tzinfo=zone) if start.tzinfo is None else start
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'", field="to")
    if end - start > MAX_PERIOD:
        raise InvalidInput("the period may span at most 3 years", field="to")
    return RankQuery(by, start, end, limit)


RankQueryDep = Annotated[RankQuery, Depends(rank_query)]


@router.get(
    "/api/recurrences",
    response_model=RankedRead,
    responses={200: {"content": {CSV: {"schema": media_schema(CSV)}}}},
)
def get_recurrences(
    session: SessionDep,
    principal: ReaderDep,
    query: RankQueryDep,
    output_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> RankedRead | Response:
    """The places (grid cell and category) or components with the most recurrences after
    closure reported in [from, to), most first."""
    rows = service.ranked(
        session,
        query.by,
        period_from=query.period_from,
        period_to=query.period_to,
        limit=query.limit,
    )
    answer = RankedRead(
        by=query.by,
        period_from=query.period_from,
        period_to=query.period_to,
        rows=[RankedRow.model_validate(row) for row in rows],
    )
    if output_format == "csv":
        return csv_response(answer)
    return answer


def csv_response(answer: RankedRead) -> Response:
    """The ranked rows as CSV, UTF-8 with a byte-order mark (spreadsheets read the Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(service.RANK_FIELDS)
    for row in answer.rows:
        values = row.model_dump()
        values["last_recurrence_at"] = row.last_recurrence_at.isoformat()
        writer.writerow(values[field] for field in service.RANK_FIELDS)
    start, end = (moment.strftime("%Y%m%d") for moment in (answer.period_from, answer.period_to))
    filename = f"recurrences-{answer.by.value}-{start}-{end}.csv"
    return Response(
        ("\ufeff" + buffer.getvalue()).encode(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
