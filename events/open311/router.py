"""Open311 GeoReport v2 under /open311/v2: services, requests, tokens, discovery (XML and JSON).

The path suffix (`.json` / `.xml`) chooses the format of every answer, errors included: errors
are the spec's list of {code, description}, never this API's usual `{"detail": …}`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse

from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.api_keys import RateLimited
from citygrid.api_types import IMAGE_TYPES, BigRowId, answers
from citygrid.db import FetchDep, SessionDep, WriterDep
from citygrid.errors import CitygridError, Conflict, NotFound, PermissionDenied
from citygrid.settings import SettingsDep
from events.intake.submission import read_form
from events.models import CasePhoto
from events.open311 import service
from events.open311.formats import MEDIA_TYPES, Format, errors_document, format_of, render
from events.open311.keys import admitted_key_id
from events.open311.params import given, request_query
from events.open311.submit import post_answer, post_request, text_fields
from events.photos import service as photos
from events.photos.router import photo_response

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-26T00:00:00+08:00"
EXTENSIONS = [
    "requests: page and page_size (at most 1000)",
    "requests: bbox=west,south,east,north (WGS-84 degrees)",
    "requests: updated_after (W3C datetime)",
    "requests: cell_code (a 15-digit grid cell code)",
    "POST requests: multipart photo upload as media (GeoReport v2.1 draft)",
    "servicerequestupdates: status updates, FixMyStreet style",
]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def status_of_error(error: CitygridError) -> int:
    """The spec's HTTP status: 404 unknown resource, 403 api_key, 409 conflict, else 400."""
    for error_type, status in ((NotFound, 404), (PermissionDenied, 403), (Conflict, 409)):
        if isinstance(error, error_type):
            return status
    return 400


def error_response(request: Request, status: int, description: str) -> Response:
    """The spec's error list in the format the path asks for (XML when it names none)."""
    format = format_of(str(request.path_params.get("fmt", ""))) or Format.XML
    return document_response(errors_document(status, description), "errors", format, status)


class Open311Route(RoleCheckedRoute):
    """A route answering its errors in the Open311 format."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except CitygridError as error:
                return error_response(request, status_of_error(error), error.message)
            except RequestValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                return error_response(request, 400, f"{where}: {first['msg']}")
            except RateLimited as error:
                response = error_response(request, 429, str(error))
                response.headers["Retry-After"] = str(error.retry_after_s)
                return response

        return handle


# The spec's error list, documented so that clients (and the schema fuzzing test) know it.
OPEN311_ERROR_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
OPEN311_ERROR_CONTENT = {"application/json": {"schema": OPEN311_ERROR_LIST}, "text/xml": {}}
OPEN311_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": OPEN311_ERROR_CONTENT}
    for status, description in (
        (400, "A parameter is missing or malformed"),
        (403, "The api_key is missing or not accepted"),
        (404, "No such service, request, token or media"),
        (409, "The request conflicts with the current state"),
        (429, "Too many requests: retry after `Retry-After` seconds"),
    )
}

router = APIRouter(
    prefix="/open311/v2",
    tags=["open311"],
    route_class=Open311Route,
    dependencies=[Depends(PUBLIC)],
    responses=OPEN311_ERRORS,
)
FMT_DOC = "json or xml"
# The answer's format: the path's suffix, in any case (`.json`, `.XML`).
# Documented, not enforced by the declaration: Open311 answers an unknown format 404.
FormatSuffix = Annotated[
    str,
    Path(json_schema_extra={"pattern": "^([jJ][sS][oO][nN]|[xX][mM][lL])$"}, description=FMT_DOC),
]
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer, in the format the suffix names",
        "content": {"application/json": {}, "text/xml": {"schema": {"type": "string"}}},
    }
}


def chosen_format(fmt: str) -> Format:
    format = format_of(fmt)
    if format is None:
        raise NotFound(f"unknown format {fmt!r}: use .json or .xml", field="format")
    return format


def document_response(document: Any, root: str, format: Format, status: int = 200) -> Response:
    return Response(
        render(document, root=root, format=format), status, media_type=MEDIA_TYPES[format]
    )


def media_base(request: Request) -> str:
    return f"{request.base_url}open311/v2/media/"


@router.get("/discovery.{fmt}", response_class=Response, responses=ANSWER)
def discovery(fmt: FormatSuffix, request: Request) -> Response:
    """Where the endpoint is, which formats it speaks and which extensions it offers."""
    format = chosen_format(fmt)
    document = {
        "changeset": CHANGESET,
        "contact": "the city's grid management centre (数字城管指挥中心)",
        "key_service": "API keys are issued by an administrator: citygrid open311 keys create",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{request.base_url}open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": [MEDIA_TYPES[Format.XML].split(";")[0], "application/json"],
            }
        ],
        "extensions": EXTENSIONS,
    }
    return document_response(document, "discovery", format)


@router.get("/services.{fmt}", response_class=Response, responses=ANSWER)
def get_services(fmt: FormatSuffix, session: SessionDep) -> Response:
    """Every service (our current minor categories)."""
    format = chosen_format(fmt)
    return document_response(service.list_services(session), "services", format)


@router.get("/services/{service_code}.{fmt}", response_class=Response, responses=ANSWER)
def get_service_definition(service_code: str, fmt: FormatSuffix, session: SessionDep) -> Response:
    """The attributes a service asks for; 404 for an unknown service."""
    format = chosen_format(fmt)
    definition = service.service_definition(session, service_code)
    return document_response(definition, "service_definition", format)


@router.get("/requests.{fmt}", response_class=Response, responses=ANSWER)
def get_requests(
    fmt: FormatSuffix, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Requests by the spec's filters (and the extensions), newest first."""
    format = chosen_format(fmt)
    zone = settings.city_zone
    query = request_query(request.query_params, now=datetime.now(UTC), zone=zone)
    found = service.search_requests(session, query, media_base=media_base(request), zone=zone)
    return document_response(found, "service_requests", format)


@router.get("/requests/{service_request_id}.{fmt}", response_class=Response, responses=ANSWER)
def get_request(
    service_request_id: str,
    fmt: FormatSuffix,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """One request, as a list of one; 404 for an unknown id."""
    format = chosen_format(fmt)
    found = service.get_request(
        session, service_request_id, media_base=media_base(request), zone=settings.city_zone
    )
    return document_response(found, "service_requests", format)


@router.get("/tokens/{token}.{fmt}", response_class=Response, responses=ANSWER)
def get_token(token: str, fmt: FormatSuffix, session: SessionDep) -> Response:
    """The request id a POST's token became; 404 for an unknown token."""
    format = chosen_format(fmt)
    return document_response(service.request_of_token(session, token), "service_requests", format)


@router.get("/servicerequestupdates.{fmt}", response_class=Response, responses=ANSWER)
def get_request_updates(
    fmt: FormatSuffix, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Status updates of requests in a date span (FixMyStreet's extension), newest first."""
    format = chosen_format(fmt)
    zone = settings.city_zone
    query = request_query(request.query_params, now=datetime.now(UTC), zone=zone)
    updates = service.request_updates(session, query, zone=zone)
    return document_response(updates, "service_request_updates", format)


@router.get("/media/{photo_id}", **answers(*IMAGE_TYPES, description="The photo (no EXIF)"))
def get_media(photo_id: BigRowId, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """The public copy (re-encoded, no EXIF) of a photo sent with a report; 404 for others."""
    photo = session.get(CasePhoto, photo_id)
    if photo is None or photo.report_id is None:  # handling photos stay behind a sign-in
        raise NotFound(f"no report photo {photo_id}", field="photo_id")
    return photo_response(photo, photos.stored_file(photo, settings.media_dir, original=False))


POST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {"schema": {"type": "object", "required": ["api_key", "service_code"]}}
            for media_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        },
    }
}


@router.post("/requests.{fmt}", response_class=Response, responses=ANSWER, openapi_extra=POST_BODY)
async def create_request(
    fmt: FormatSuffix, request: Request, fetch: FetchDep, writer: WriterDep, settings: SettingsDep
) -> Response:
    """File a request as a citizen report (api_key required); the answer carries its
    service_request_id and no token (see `post_answer`). Async: intake awaits PostgreSQL on the
    event loop."""
    format = chosen_format(fmt)
    form = await read_form(request, settings)
    try:
        api_key_id = await admitted_key_id(request, fetch, given(text_fields(form), "api_key"))
        posted = await post_request(
            form, api_key_id=api_key_id, fetch=fetch, writer=writer, settings=settings
        )
    finally:
        await form.close()
    return document_response([post_answer(posted)], "service_requests", format)
