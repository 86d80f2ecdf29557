"""Routes of the core: health, the pages' static files (scripts, style sheets, images), the
favicon, and the API documentation pages (/docs, /redoc) on assets served from here."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.api_types import FILE_TYPES, answers
from citygrid.db import get_session
from citygrid.errors import NotFound
from citygrid.served_files import file_inside
from citygrid.web import WEB_PACKAGES

STATIC_MAX_AGE_S = 3600
FAVICON_MAX_AGE_S = 7 * 24 * 3600  # browsers ask for it on every page; it rarely changes
DATABASE_RETRY_AFTER_S = 5

# Swagger UI and ReDoc as the fastapi-offline package ships them (a maintained PyPI package that
# re-vendors both dists), so /docs and /redoc work on an intranet without a CDN. Its version in
# the asset URLs makes an upgrade reach browsers despite their cache.
DOCS_PACKAGE = "fastapi_offline"
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}
# ReDoc always draws Redocly's logo in its sidebar from their CDN (no option turns it off). An
# empty data: image instead fails to decode, and ReDoc then leaves the image out.
DOCS_ASSET_REWRITES = {
    "redoc.standalone.js": ((b'"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'"data:,"'),),
}
DOCS_ASSETS_VERSION = version("fastapi-offline")
DOCS_ASSET_MAX_AGE_S = 7 * 24 * 3600
FAVICON_PATH = "/favicon.ico"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
# Swagger UI sends the document to swagger.io's online validator unless told not to.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

router = APIRouter(route_class=RoleCheckedRoute)


@router.get("/health", tags=["health"], dependencies=[Depends(PUBLIC)])
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


def static_folder(package: str) -> Path:
    return Path(str(files(package))) / "static"


# Tagged as the pages are: the files are theirs.
@router.get(
    "/static/{package}/{path:path}",
    tags=["pages"],
    dependencies=[Depends(PUBLIC)],
    **answers(*FILE_TYPES, description="The file"),
)
def static_file(package: str, path: str) -> FileResponse:
    """A page's script, style sheet or image, served by the app (no CDN: intranets are offline)."""
    if package not in WEB_PACKAGES:
        raise NotFound(f"no static files for {package!r}", field="package")
    target = file_inside(static_folder(package).resolve(), path)
    if target is None:
        raise NotFound(f"no static file {path!r}", field="path")
    return FileResponse(target, headers={"Cache-Control": f"public, max-age={STATIC_MAX_AGE_S}"})


@router.get(FAVICON_PATH, include_in_schema=False, dependencies=[Depends(PUBLIC)])
def favicon() -> FileResponse:
    """The site's icon (every page links it; browsers ask for it anyway)."""
    return FileResponse(
        static_folder("citygrid") / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": f"public, max-age={FAVICON_MAX_AGE_S}"},
    )


def docs_asset_url(name: str) -> str:
    return f"/docs/assets/{name}?v={DOCS_ASSETS_VERSION}"


@lru_cache(maxsize=len(DOCS_ASSETS))
def docs_asset_content(name: str) -> bytes:
    """The asset as the package ships it, with the rewrites below (read once per process)."""
    content = (Path(str(files(DOCS_PACKAGE))) / "static" / name).read_bytes()
    for external, local in DOCS_ASSET_REWRITES.get(name, ()):
        content = content.replace(external, local)
    return content


@router.get("/docs/assets/{name}", include_in_schema=False, dependencies=[Depends(PUBLIC)])
def docs_asset(name: str) -> Response:
    """Swagger UI's or ReDoc's script or style sheet, from the installed package."""
    if name not in DOCS_ASSETS:
        raise NotFound(f"no documentation asset {name!r}", field="name")
    return Response(
        docs_asset_content(name),
        media_type=DOCS_ASSETS[name],
        headers={"Cache-Control": f"public, max-age={DOCS_ASSET_MAX_AGE_S}"},
    )


@router.get("/docs", include_in_schema=False, dependencies=[Depends(PUBLIC)])
def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API documentation (Swagger UI), every asset from this server."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
        swagger_js_url=docs_asset_url("swagger-ui-bundle.js"),
        swagger_css_url=docs_asset_url("swagger-ui.css"),
        swagger_favicon_url=FAVICON_PATH,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )


@router.get(OAUTH2_REDIRECT_PATH, include_in_schema=False, dependencies=[Depends(PUBLIC)])
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Where Swagger UI's OAuth2 sign-in comes back to."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", include_in_schema=False, dependencies=[Depends(PUBLIC)])
def redoc(request: Request) -> HTMLResponse:
    """The API reference (ReDoc), every asset from this server (no Google Fonts)."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=docs_asset_url("redoc.standalone.js"),
        redoc_favicon_url=FAVICON_PATH,
        with_google_fonts=False,
    )
