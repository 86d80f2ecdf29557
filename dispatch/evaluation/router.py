"""Performance evaluation (绩效评价) of departments, areas and inspectors."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import CSV, IsoDateTime, media_schema
from citygrid.db import ReadSessionDep
from citygrid.errors import PermissionDenied
from citygrid.settings import SettingsDep
from dispatch.evaluation import grading
from dispatch.evaluation import service as evaluation_service
from dispatch.evaluation.grading import GroupKind
from dispatch.evaluation.schemas import EvaluationRead, Weight

router = APIRouter(tags=["evaluation"], route_class=RoleCheckedRoute)

READER_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN, Role.DEPARTMENT)
TOTALS_KEY = "TOTAL"
TOTALS_NAME = "合计"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.get(
    "/api/evaluation",
    response_model=EvaluationRead,
    responses={200: {"content": {CSV: {"schema": media_schema(CSV)}}}},
)
def get_evaluation(
    session: ReadSessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*READER_ROLES))],
    period_from: Annotated[IsoDateTime, Query(alias="from")],
    period_to: Annotated[IsoDateTime, Query(alias="to")],
    by: GroupKind = GroupKind.DEPARTMENT,
    output_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> EvaluationRead | Response:
    """The evaluation over [from, to) grouped `by`; a department member may ask only
    by=department and gets its own department's row."""
    result = evaluation_service.evaluate(
        session,
        by,
        period_from=period_from,
        period_to=period_to,
        now=datetime.now(UTC),
        city_zone=settings.city_zone,
        verification_limit_hours=settings.verification_limit_hours,
        only_department_id=own_department(principal, by),
    )
    if output_format == "csv":
        return csv_response(result)
    return evaluation_read(result)


def own_department(principal: Principal, by: GroupKind) -> int | None:
    """The department a department member is limited to; None for everyone else."""
    if principal.role is not Role.DEPARTMENT:
        return None
    if by is not GroupKind.DEPARTMENT:
        raise PermissionDenied("a department member may read only by=department (its own row)")
    return principal.department_id


def evaluation_read(result: evaluation_service.Evaluation) -> EvaluationRead:
    """The evaluation as answered in JSON, with the weights of its overall score."""
    components = grading.SCORE_WEIGHTS[grading.family_of(result.kind)]
    return EvaluationRead(
        by=result.kind,
        period_from=result.period_from,
        period_to=result.period_to,
        as_of=result.as_of,
        fields=list(grading.output_fields(result.kind)),
        weights=[Weight(**vars(component)) for component in components],
        rows=result.rows,
        totals=result.totals,
    )


def csv_response(result: evaluation_service.Evaluation) -> Response:
    """The groups and the totals row as CSV: UTF-8 with a byte-order mark so spreadsheet
    programs read the Chinese names; empty cells for undefined rates."""
    fields = grading.output_fields(result.kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("key", "name", *fields))
    for row in result.rows:
        writer.writerow((row["key"], row["name"], *(row[field] for field in fields)))
    writer.writerow((TOTALS_KEY, TOTALS_NAME, *(result.totals[field] for field in fields)))
    start, end = (
        moment.strftime("%Y%m%dT%H%M") for moment in (result.period_from, result.period_to)
    )
    filename = f"evaluation-{result.kind.value}-{start}-{end}.csv"
    return Response(
        ("\ufeff" + buffer.getvalue()).encode(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
