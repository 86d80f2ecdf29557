"""Routes of the core: health, and the pages' static files (scripts, style sheets, images)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.db import get_session
from citygrid.errors import NotFound
from citygrid.served_files import file_inside
from citygrid.web import WEB_PACKAGES

STATIC_MAX_AGE_S = 3600
DATABASE_RETRY_AFTER_S = 5

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
@router.get("/static/{package}/{path:path}", tags=["pages"], dependencies=[Depends(PUBLIC)])
def static_file(package: str, path: str) -> FileResponse:
    """A page's script, style sheet or image, served by the app (no CDN: intranets are offline)."""
    if package not in WEB_PACKAGES:
        raise NotFound(f"no static files for {package!r}", field="package")
    target = file_inside(static_folder(package).resolve(), path)
    if target is None:
        raise NotFound(f"no static file {path!r}", field="path")
    return FileResponse(target, headers={"Cache-Control": f"public, max-age={STATIC_MAX_AGE_S}"})
