"""The application factory: routers, error handlers, health."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import OperationalError

import analysis.forecast.pages
import analysis.forecast.router
import citygrid.accounts.admin_pages
import citygrid.accounts.pages
import citygrid.accounts.router
import citygrid.router
import components.census.router
import components.router
import dispatch.calendars.pages
import dispatch.calendars.router
import dispatch.callbacks.pages
import dispatch.callbacks.router
import dispatch.console.pages
import dispatch.departments.pages
import dispatch.departments.router
import dispatch.desk.pages
import dispatch.evaluation.router
import dispatch.hotline.router
import dispatch.hotline_rates.pages
import dispatch.hotline_rates.router
import dispatch.inbox.pages
import dispatch.inbox.router
import dispatch.queue.router
import dispatch.rules.pages
import dispatch.rules.router
import dispatch.summons.router
import dispatch.webhooks.pages
import dispatch.webhooks.router
import events.cases.pages
import events.cases.router
import events.categories.pages
import events.categories.router
import events.component_cases.router
import events.hotline.pages
import events.hotline.router
import events.inspector.pages
import events.intake.router
import events.listing.pages
import events.listing.router
import events.open311.pages
import events.open311.router
import events.photos.router
import events.recurrence.pages
import events.recurrence.router
import events.suggestions.router
import grid.places.router
import grid.router
import maps.analysis.pages
import maps.api.router
import maps.dashboard.pages
import maps.emerging.pages
import maps.emerging.router
import maps.hotspots
import maps.pages.pages
import maps.worklist.router
import sensing.alarms.router
import sensing.devices.router
import sensing.pages
import sensing.review.router
from citygrid import error_responses, middleware, web
from citygrid.accounts import auth
from citygrid.db import AsyncStatements, ReadYourWrites
from citygrid.errors import STATUS_CODES, CitygridError, NotAuthenticated, PermissionDenied
from citygrid.router import DATABASE_RETRY_AFTER_S
from citygrid.settings import get_settings
from dispatch.actions.workflow import DispatchWorkflow
from dispatch.scheduler import running_scheduler

# Every domain's routers: router.py modules answer JSON, pages.py modules HTML. No two share a
# path, so the order is only the order of the OpenAPI document.
ROUTER_MODULES: tuple[ModuleType, ...] = (
    citygrid.router,
    citygrid.accounts.pages,
    citygrid.accounts.router,
    grid.router,
    grid.places.router,
    components.router,
    events.component_cases.router,
    components.census.router,
    events.categories.router,
    events.intake.router,
    events.hotline.router,
    events.hotline.pages,
    events.photos.router,
    events.suggestions.router,
    events.listing.router,
    events.cases.router,
    dispatch.departments.router,
    dispatch.calendars.router,
    dispatch.queue.router,
    dispatch.rules.router,
    dispatch.inbox.router,
    dispatch.webhooks.router,
    dispatch.evaluation.router,
    dispatch.hotline.router,
    dispatch.summons.router,
    dispatch.hotline_rates.router,
    dispatch.hotline_rates.pages,
    dispatch.callbacks.router,
    dispatch.callbacks.pages,
    events.open311.router,
    maps.api.router,
    maps.worklist.router,
    maps.pages.pages,
    events.inspector.pages,
    events.cases.pages,
    events.listing.pages,
    dispatch.console.pages,
    dispatch.desk.pages,
    citygrid.accounts.admin_pages,
    dispatch.departments.pages,
    dispatch.calendars.pages,
    dispatch.inbox.pages,
    maps.dashboard.pages,
    events.categories.pages,
    events.open311.pages,
    dispatch.webhooks.pages,
    dispatch.rules.pages,
    analysis.forecast.router,
    analysis.forecast.pages,
    events.recurrence.router,
    events.recurrence.pages,
    maps.emerging.router,
    maps.emerging.pages,
    maps.analysis.pages,
    sensing.devices.router,
    sensing.alarms.router,
    sensing.review.router,
    sensing.pages,
)


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


def operation_id(route: APIRoute) -> str:
    """An operation's id in the OpenAPI document: its function's name (`log_in`,
    `create_report`), after which generated clients name their functions and request body
    models (`Body_log_in`) rather than after path and method. Ids are unique across the app
    (tests/citygrid/test_generated_client.py)."""
    return route.name


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
        generate_unique_id_function=operation_id,
        # /docs and /redoc are citygrid.router's, on assets served from here (not a CDN).
        docs_url=None,
        redoc_url=None,
    )
    # Opened on first use: the pool is bound to the serving event loop.
    settings = get_settings()
    app.state.statements = AsyncStatements(
        settings.resolved_database_url(), max_size=settings.pool_size
    )
    # events reaches dispatch's work on cases only through this (events.cases.workflow).
    app.state.case_workflow = DispatchWorkflow(settings.default_calendar_code)
    middleware.install(app, settings)
    # Read replicas: a client that wrote reads its write back from the primary (citygrid/db.py).
    app.add_middleware(ReadYourWrites)
    error_responses.install(app)
    app.add_exception_handler(CitygridError, handle_domain_error)
    for database_down in (OperationalError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(database_down, handle_database_down)
    for module in ROUTER_MODULES:
        app.include_router(module.router)
    return app
