"""`/api/cases` (the staff listing), `/api/cases/export` and `/api/public/cases`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from citygrid.accounts.auth import PUBLIC, Allow, RoleCheckedRoute
from citygrid.accounts.roles import ALL_ROLES, Principal, Role
from citygrid.api_types import CSV, GEOJSON, AreaCode, answers
from citygrid.db import ReadSessionDep
from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import SettingsDep
from events.listing import export
from events.listing.params import (
    PAGE_SIZE_DEFAULT,
    AfterParam,
    FiltersDep,
    PageParam,
    PageSizeParam,
    SortParam,
    StatusList,
    parse_statuses,
)
from events.listing.schemas import CaseFilters, CasePage, CaseSort, PublicCasePage
from events.listing.service import list_cases, list_public_cases, where_clause

router = APIRouter(tags=["cases"], route_class=RoleCheckedRoute)

EXPORT_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.DEPARTMENT)


@router.get("/api/cases")
def list_cases_route(
    session: ReadSessionDep,
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))],
    filters: FiltersDep,
    sort: SortParam = CaseSort.CREATED_AT_DESC,
    page: PageParam = 1,
    page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
    after: AfterParam = None,
) -> CasePage:
    """Cases matching the filters, one page at a time, among those the caller may see: a
    department member the cases its department holds or held, a citizen their own reports, an
    inspector their own reports, the cases they acted on and those waiting for verification;
    dispatchers, managers and admins every case."""
    if after is not None and page != 1:
        raise InvalidInput("give either page or after, not both", field="after")
    return list_cases(
        session,
        principal,
        filters,
        sort=sort,
        page=page,
        page_size=page_size,
        after=after,
    )


def stream_cleanup(session: ReadSessionDep) -> Iterator[ExitStack]:
    """Callbacks run once the response is sent or abandoned, before the session is closed.

    Depending on the session makes FastAPI open it first and close it last, so a stream's
    server-side cursor is closed on the request's own connection. A client that disconnects
    mid-export leaves the generator suspended, and nothing else would close it in time. A sync
    dependency: its exit (closing a cursor is I/O) runs in the threadpool.
    """
    with ExitStack() as stack:
        yield stack


@router.get(
    "/api/cases/export",
    **answers(CSV, GEOJSON, description="The matching cases: CSV (UTF-8, with a BOM) or GeoJSON"),
)
def export_cases(
    session: ReadSessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*EXPORT_ROLES))],
    filters: FiltersDep,
    cleanup: Annotated[ExitStack, Depends(stream_cleanup)],
    export_format: Annotated[export.ExportFormat, Query(alias="format")] = "csv",
    sort: SortParam = CaseSort.CREATED_AT_DESC,
) -> StreamingResponse:
    """Every matching case in the caller's scope as a CSV or GeoJSON download, streamed from a
    server-side cursor: memory stays flat however many rows there are."""
    result = export.exported_rows(session, where_clause(principal, filters), sort)
    chunks = export.CHUNK_WRITERS[export_format](result, settings.city_zone)
    # LIFO: the generator first (its `finally` closes the result), then the result itself, which
    # a generator that never started would not close.
    cleanup.callback(result.close)
    cleanup.callback(chunks.close)
    filename = f"cases-{datetime.now(settings.city_zone):%Y%m%dT%H%M%S}.{export_format}"
    return StreamingResponse(
        chunks,
        media_type=export.MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/api/public/cases", dependencies=[Depends(PUBLIC)])
def public_cases(
    session: ReadSessionDep,
    settings: SettingsDep,
    status: Annotated[StatusList | None, Query(description="comma list of statuses")] = None,
    area_code: Annotated[
        AreaCode | None,
        Query(description="district, street, community or cell code (6, 9, 12 or 15 digits)"),
    ] = None,
    page: PageParam = 1,
    page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
) -> PublicCasePage:
    """Cases the city is working on or has closed, located only to their cell (when the
    public_listing setting is on; 404 otherwise)."""
    if not settings.public_listing:
        raise NotFound("the public case listing is not enabled")
    filters = CaseFilters(
        statuses=parse_statuses(status),
        area_code=area_code,
    )
    return list_public_cases(session, filters, page=page, page_size=page_size)
