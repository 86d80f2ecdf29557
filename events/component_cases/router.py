"""HTTP routes of a component seen with its cases: one component (with its case counts), its
cases, and the components with the most repeat cases.

They share /api/components with components/router.py (search, imports, history). A component
is answered with its case counts, so its edit (PATCH, which answers with the component) is
served here too; the edit itself is components.service's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
from citygrid.api_types import AwareDateTime, BigRowId
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from components import service as components
from components.schemas import ComponentUpdate
from events.component_cases import service
from events.component_cases.schemas import ComponentCaseHistory, ComponentRead, ComponentRepeats

DEFAULT_REPEAT_PERIOD_DAYS = 365
REPEATS_LISTED_MAX = 10_000
STAFF = Depends(Allow(*STAFF_ROLES))
Editor = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.DEPARTMENT))]

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)


@router.get(
    "/repeats",
    dependencies=[STAFF],
    response_model=ComponentRepeats,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def repeat_components(
    session: SessionDep,
    period_from: Annotated[AwareDateTime | None, Query(description="Default: a year ago.")] = None,
    period_to: Annotated[AwareDateTime | None, Query(description="Default: now.")] = None,
    category: Annotated[str | None, Query(description="A minor or major component code.")] = None,
    area: Annotated[str | None, Query(description="A district, street or community code.")] = None,
    limit: Annotated[int, Query(ge=1, le=REPEATS_LISTED_MAX)] = 50,
    min_cases: Annotated[int, Query(ge=1, description="Fewest cases to be listed.")] = 2,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ComponentRepeats | Response:
    """The components with the most repeat cases in the period, most first."""
    period_to = period_to or datetime.now(UTC)
    query = service.RepeatQuery(
        period_from=period_from or period_to - timedelta(days=DEFAULT_REPEAT_PERIOD_DAYS),
        period_to=period_to,
        category=category,
        area_code=area,
        limit=limit,
        min_cases=min_cases,
    )
    repeats = service.repeat_ranking(session, query)
    if output == "json":
        return repeats
    return Response(
        "\ufeff" + service.repeats_csv(repeats),  # a BOM: spreadsheets then read names right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="component-repeats.csv"'},
    )


@router.get("/{component_id:int}", dependencies=[STAFF])
def get_component(
    component_id: BigRowId, session: SessionDep, settings: SettingsDep
) -> ComponentRead:
    """One component with its category, cell, departments and case counts."""
    now = datetime.now(UTC)
    return service.component_detail(session, component_id, now=now, zone=settings.city_zone)


@router.patch("/{component_id:int}")
def update_component(
    component_id: BigRowId,
    update: ComponentUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Editor,
) -> ComponentRead:
    """Change a component (admin: any field; its maintaining department: the status only);
    each changed field goes into its history as [before, after]."""
    components.update_component(session, component_id, update, by=principal)
    session.commit()
    now = datetime.now(UTC)
    return service.component_detail(session, component_id, now=now, zone=settings.city_zone)


@router.get("/{component_id:int}/cases", dependencies=[STAFF])
def component_cases(
    component_id: BigRowId, session: SessionDep, settings: SettingsDep
) -> ComponentCaseHistory:
    """The component's cases, newest first, and how often it failed this year."""
    now = datetime.now(UTC)
    return service.component_cases(session, component_id, now=now, zone=settings.city_zone)
