"""`POST /api/reports`: a report (JSON, or a form with photos) becomes a located case.

The route checks who may report (signed-in roles, or anonymous citizens within a rate per
address when the setting allows them), reads the submission and lets events.intake.service file
it: one statement, so the route has nothing left to commit.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from citygrid.accounts.auth import AllowOrAnonymous, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import PHOTOS_MAX
from citygrid.db import WriterDep
from citygrid.json_schemas import form_properties, schema_of
from citygrid.rate_limit import SlidingWindowLimiter, app_limiter
from citygrid.settings import SettingsDep
from events.intake.schemas import ReportAccepted, ReportCreate
from events.intake.service import submit_report
from events.intake.submission import Submission, read_submission
from events.suggestions.service import suggest_at_intake

router = APIRouter(tags=["intake"], route_class=RoleCheckedRoute)

REPORTERS = AllowOrAnonymous(
    Role.INSPECTOR,
    Role.CITIZEN,
    Role.DISPATCHER,  # staff may report on a caller's behalf (a hotline call)
    Role.ADMIN,
    anonymous_allowed=lambda settings: settings.anonymous_reports,
)


def limiter_of(request: Request) -> SlidingWindowLimiter:
    """The app's limiter of anonymous reports, made on first use (one per app)."""
    return app_limiter(request, "anonymous_limiter")


async def reporter(
    request: Request,
    principal: Annotated[Principal | None, Depends(REPORTERS)],
    settings: SettingsDep,
) -> Principal | None:
    """The signed-in reporter, or None for an anonymous citizen within the rate limit."""
    if principal is not None:
        return principal
    # Behind a reverse proxy the client is the proxy unless uvicorn trusts its forwarded headers.
    client = request.client.host if request.client else "unknown"
    limit = settings.anonymous_reports_per_minute
    wait_s = limiter_of(request).retry_after_s(client, limit=limit, now=time.monotonic())
    if wait_s is not None:
        # HTTPException rather than a domain error: 429 and Retry-After are HTTP's own business.
        raise HTTPException(
            status_code=429,
            detail=f"at most {limit} anonymous reports per minute from one address",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    return None


FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["report_uuid", "description"],
    "properties": {
        **form_properties(ReportCreate),
        "photos": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "maxItems": PHOTOS_MAX,
        },
    },
}
REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": schema_of(ReportCreate)},
            "multipart/form-data": {"schema": FORM_SCHEMA},
        },
    },
    "x-anonymous": "citizens without a token when CITYGRID_ANONYMOUS_REPORTS=true",
}
ReporterDep = Annotated[Principal | None, Depends(reporter)]
SubmissionDep = Annotated[Submission, Depends(read_submission)]


@router.post(
    "/api/reports",
    status_code=201,
    responses={
        200: {
            "model": ReportAccepted,
            "description": "a retry: the case of the earlier report with this UUID",
        }
    },
    openapi_extra=REPORT_BODY,
)
async def create_report(
    principal: ReporterDep,  # first: the role check runs before the body is read
    submission: SubmissionDep,
    writer: WriterDep,
    settings: SettingsDep,
    response: Response,
) -> ReportAccepted:
    """File a report as a case located in its cell (201), or return the case of a retry (200)."""
    accepted, _ = await submit_report(writer, submission, reporter=principal, settings=settings)
    accepted = await suggest_at_intake(writer, accepted, submission.report.description)
    if accepted.replayed:
        response.status_code = 200
    return accepted
