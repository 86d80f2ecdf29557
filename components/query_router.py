"""HTTP routes that read the component inventory: search, one component, repeat cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from citygrid.accounts.auth import STAFF_ROLES, Allow, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from components import queries
from components.query_schemas import (
    ComponentCaseHistory,
    ComponentFeatureCollection,
    ComponentRead,
    ComponentRepeats,
)

DEFAULT_PAGE = 1_000
DEFAULT_REPEAT_PERIOD_DAYS = 365
REPEATS_LISTED_MAX = 10_000
STAFF = Depends(Allow(*STAFF_ROLES))

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)


@router.get("", dependencies=[STAFF])
def search_components(
    session: SessionDep,
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS-84)")] = None,
    category: Annotated[str | None, Query(description="A minor or major component code.")] = None,
    status: Annotated[
        list[str] | None, Query(description="in_use, damaged or removed (repeatable).")
    ] = None,
    maintainer: Annotated[int | None, Query(description="The maintaining department's id.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="At most components_page_max.")] = None,
    after: Annotated[
        int | None, Query(ge=0, description="next_after of the previous page.")
    ] = None,
) -> ComponentFeatureCollection:
    """Components matching every filter as a GeoJSON FeatureCollection, one page in id order,
    with the total that match (counted up to 10,000)."""
    page_max = settings.components_page_max
    size = limit or min(DEFAULT_PAGE, page_max)
    if size > page_max:
        raise InvalidInput(f"limit may be at most {page_max}", field="limit")
    search = queries.ComponentSearch(
        bbox=queries.parse_bbox(bbox),
        category=category,
        statuses=queries.parse_statuses(status),
        maintainer_id=maintainer,
        limit=size,
        after_id=after,
    )
    return queries.search_components(session, search)


@router.get(
    "/repeats",
    dependencies=[STAFF],
    response_model=ComponentRepeats,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def repeat_components(
    session: SessionDep,
    period_from: Annotated[datetime | None, Query(description="Default: a year ago.")] = None,
    period_to: Annotated[datetime | None, Query(description="Default: now.")] = None,
    category: Annotated[str | None, Query(description="A minor or major component code.")] = None,
    area: Annotated[str | None, Query(description="A district, street or community code.")] = None,
    limit: Annotated[int, Query(ge=1, le=REPEATS_LISTED_MAX)] = 50,
    min_cases: Annotated[int, Query(ge=1, description="Fewest cases to be listed.")] = 2,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ComponentRepeats | Response:
    """The components with the most repeat cases in the period, most first."""
    period_to = period_to or datetime.now(UTC)
    query = queries.RepeatQuery(
        period_from=period_from or period_to - timedelta(days=DEFAULT_REPEAT_PERIOD_DAYS),
        period_to=period_to,
        category=category,
        area_code=area,
        limit=limit,
        min_cases=min_cases,
    )
    repeats = queries.repeat_ranking(session, query)
    if output == "json":
        return repeats
    return Response(
        "\ufeff" + queries.repeats_csv(repeats),  # a BOM: spreadsheets then read names right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="component-repeats.csv"'},
    )


@router.get("/{component_id}", dependencies=[STAFF])
def get_component(component_id: int, session: SessionDep) -> ComponentRead:
    """One component with its category, cell, departments and case counts."""
    return queries.component_detail(session, component_id)


@router.get("/{component_id}/cases", dependencies=[STAFF])
def component_cases(component_id: int, session: SessionDep) -> ComponentCaseHistory:
    """The component's cases, newest first, and how often it failed this year."""
    return queries.component_cases(session, component_id)
