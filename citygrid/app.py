"""The application factory: routers, error handlers, health."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

import citygrid.accounts.users
import components.case_router
import components.query_router
import components.router
import dispatch.console.pages
import dispatch.departments.router
import dispatch.evaluation.router
import dispatch.inbox.router
import dispatch.queue.router
import dispatch.rules.router
import dispatch.webhooks.router
import events.cases.pages
import events.cases.router
import events.categories.service
import events.inspector.pages
import events.intake.service
import events.listing.service
import events.open311.router
import grid.router
import maps.api.router
import maps.dashboard.pages
import maps.hotspots
import maps.pages.pages
from citygrid import error_responses, middleware, web
from citygrid.accounts import auth
from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.db import AsyncStatements, get_session
from citygrid.errors import STATUS_CODES, CitygridError, NotAuthenticated, PermissionDenied
from citygrid.settings import get_settings
from dispatch.scheduler import running_scheduler

DATABASE_RETRY_AFTER_S = 5

health_router = APIRouter(tags=["health"], route_class=RoleCheckedRoute)


@health_router.get("/health", dependencies=[Depends(PUBLIC)])
def health(session: Annotated[Session, Depends(get_session)]) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        session.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError):
        return JSONResponse(
            {"status": "unavailable", "database": "not answering"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )
    return JSONResponse({"status": "ok", "database": "ok"})


def status_code_for(error: CitygridError) -> int:
    for error_type in type(error).__mro__:
        if error_type in STATUS_CODES:
            return STATUS_CODES[error_type]
    return 400


async def handle_domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, CitygridError)
    if isinstance(error, PermissionDenied) and not error.audited:
        await auth.audit_domain_denial(request, error)
    if web.is_page_request(request):
        return web.page_error(request, error, status_code_for(error))
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, NotAuthenticated) else None
    return JSONResponse(error.payload(), status_code=status_code_for(error), headers=headers)


async def handle_database_down(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is not answering; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The start-up objects (modules, tables, the OpenAPI schema) live as long as the process:
    # moved out of the collector's view, full collections stop pausing requests for them.
    gc.freeze()
    # The statistics' one-off start-up costs (imports, first calls) before the first request.
    maps.hotspots.warm_up()
    async with running_scheduler(get_settings()):
        yield
    await app.state.statements.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="citygrid",
        summary="Grid-based city management (网格化城市管理)",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Opened on first use: the pool is bound to the serving event loop.
    settings = get_settings()
    app.state.statements = AsyncStatements(
        settings.resolved_database_url(), max_size=settings.pool_size
    )
    middleware.install(app, settings)
    error_responses.install(app)
    app.add_exception_handler(CitygridError, handle_domain_error)
    for database_down in (OperationalError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(database_down, handle_database_down)
    app.include_router(health_router)
    app.include_router(web.router)
    app.include_router(citygrid.accounts.users.router)
    app.include_router(grid.router.router)
    app.include_router(components.router.router)
    app.include_router(components.query_router.router)
    app.include_router(components.case_router.router)
    app.include_router(events.categories.service.router)
    app.include_router(events.intake.service.router)
    # Before the case routes: /api/cases/export must not be taken for /api/cases/{case_id}.
    app.include_router(events.listing.service.router)
    app.include_router(events.cases.router.router)
    for dispatch_module in (
        dispatch.departments.router,
        dispatch.queue.router,
        dispatch.rules.router,
        dispatch.inbox.router,
        dispatch.webhooks.router,
        dispatch.evaluation.router,
    ):
        app.include_router(dispatch_module.router)
    app.include_router(events.open311.router.router)
    app.include_router(maps.api.router.router)
    app.include_router(maps.pages.pages.router)
    for page_module in (
        events.inspector.pages,
        events.cases.pages,
        dispatch.console.pages,
        maps.dashboard.pages,
    ):
        app.include_router(page_module.router)
    return app
