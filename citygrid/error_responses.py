"""The error answers every operation can give: in the OpenAPI document, and for values the
database cannot take.

FastAPI documents what a route returns and the 422 of its own request validation. The errors
that the app's handlers send on any route are not on the route: the domain errors (as
`{"detail": ..., "field": ...}`), 401/403 from the role check, 413 from the body size limit and
503 while the database is down. This adds them, so clients (and the schema fuzzing test) can
rely on the document: an answer whose status is not documented for its operation is a bug.

A value PostgreSQL refuses (SQLSTATE class 22, "data exception": an id past the integer range,
a NUL character in a text, which psycopg refuses before sending) came with the request, so it
is answered 422 naming the problem, like any other invalid input, rather than 500. So is a text
with a lone surrogate (JSON may escape one, `"\\ud800"`; UTF-8 cannot encode it).

A method a path does not answer is refused 405 with `Allow` naming every method of the path.
Starlette answers from the first route whose path matched, so where one path has several routes
(GET and POST /api/calendars as two functions) its `Allow` named only that route's methods;
this computes the union over every route whose path matches.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from citygrid import web
from citygrid.errors import InvalidInput

LOG = logging.getLogger(__name__)

PUBLIC_MARK = ["anyone"]
SCHEMAS_PREFIX = "#/components/schemas/"
ERROR_SCHEMA_NAME = "Error"
ERROR_REF = {"$ref": f"{SCHEMAS_PREFIX}{ERROR_SCHEMA_NAME}"}
VALIDATION_SCHEMA_NAME = "HTTPValidationError"  # FastAPI's, for its request validation
VALIDATION_REF = {"$ref": f"{SCHEMAS_PREFIX}{VALIDATION_SCHEMA_NAME}"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "description": "A refused request: what is wrong, and which input when one is at fault.",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "field": {"type": "string", "title": "Field"},
        "request_id": {"type": "string", "title": "Request Id"},
    },
    "required": ["detail"],
    "additionalProperties": True,
}
# Status code → description, for the errors any operation can answer.
EVERY_OPERATION = {
    "404": "Not found: an id in the path or the body names nothing",
    "409": "Conflict: the request does not fit the current state",
    "503": "The database is not answering; retry after `Retry-After` seconds",
}
SIGNED_IN_OPERATION = {
    "401": "No valid token (missing, expired, revoked)",
    "403": "The caller's role or ownership does not allow this",
}
WRONG_CREDENTIALS = "The user name and password do not match (or the user is disabled)"
TOO_MANY_ATTEMPTS = "Too many failed sign-ins: retry after `Retry-After` seconds"
WITH_BODY = {
    "400": "The body could not be parsed (not JSON, not UTF-8, a broken form)",
    "413": "The request body is larger than accepted here",
}
INVALID_INPUT = "Invalid input: the request or a value in it is refused"
# The order methods are listed in `Allow` (any other after these, alphabetically).
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response object for an error answered with the Error body."""
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def takes_password(operation: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Whether the operation's request body has a `password` field (it checks credentials)."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        reference = schema.get("$ref", "")
        if reference.startswith(SCHEMAS_PREFIX):
            schema = schemas.get(reference.removeprefix(SCHEMAS_PREFIX), {})
        if "password" in schema.get("properties", {}):
            return True
    return False


def errors_of(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, str]:
    """The error statuses (→ description) that `operation` can answer besides its own."""
    errors = dict(EVERY_OPERATION)
    if operation.get("x-roles", PUBLIC_MARK) != PUBLIC_MARK:
        errors |= SIGNED_IN_OPERATION
    elif takes_password(operation, schemas):  # a sign-in: refused, or throttled
        errors |= {"401": WRONG_CREDENTIALS, "429": TOO_MANY_ATTEMPTS}
    if "requestBody" in operation:
        errors |= WITH_BODY
    return errors


def invalid_input_response(
    documented: dict[str, Any] | None, schemas: dict[str, Any]
) -> dict[str, Any]:
    """The 422 answer: a domain error's Error body, or FastAPI's validation error list."""
    schema: dict[str, Any] = ERROR_REF
    if VALIDATION_SCHEMA_NAME in schemas:
        schema = {"anyOf": [VALIDATION_REF, ERROR_REF]}
    description = documented["description"] if documented else INVALID_INPUT
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (an OpenAPI dict, changed in place) with the app-wide error answers added
    to every operation; answers an operation documents itself are kept."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in errors_of(operation, schemas).items():
                responses.setdefault(status, error_response(description))
            responses["422"] = invalid_input_response(responses.get("422"), schemas)
    return document


def refused_value(error: Exception) -> str:
    """What the database (or psycopg, before sending) said about a value: its first line,
    without the statement or the parameters."""
    original = error.orig if isinstance(error, DataError) else error
    diagnostic = getattr(original, "diag", None)
    message = getattr(diagnostic, "message_primary", None) or str(original)
    return message.strip().splitlines()[0] if message.strip() else type(original).__name__


async def handle_unstorable_value(request: Request, error: Exception) -> Response:
    """422 for a request value the database refuses (a page gets the error page)."""
    if isinstance(error, UnicodeEncodeError):
        if "surrogate" not in error.reason:  # not the request's doing: a server error
            LOG.error("could not encode a text", exc_info=error)
            return JSONResponse({"detail": "internal server error"}, status_code=500)
        reason = "a text holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode"
    else:
        reason = refused_value(error)
    LOG.info("refused a value the database cannot take: %s", reason)
    invalid = InvalidInput(f"a value in the request cannot be used: {reason}")
    if web.is_page_request(request):
        return web.page_error(request, invalid, 422)
    return JSONResponse(invalid.payload(), status_code=422)


def methods_of_path(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method answered at the request's path: the union over every route whose path
    matches it (whatever its method), in METHOD_ORDER."""
    methods: set[str] = set()
    for route in iter_route_contexts(routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE and route.methods:
            methods |= route.methods
    known = [method for method in METHOD_ORDER if method in methods]
    return known + sorted(methods - set(METHOD_ORDER))


async def handle_method_not_allowed(request: Request, error: Exception) -> Response:
    """405 with `Allow` listing every method of the path, not only those of the route that
    happened to match first."""
    assert isinstance(error, HTTPException)
    methods = methods_of_path(request.app.routes, request.scope)
    allow = ", ".join(methods) if methods else (error.headers or {}).get("Allow", "")
    detail = f"Method Not Allowed: {request.method} is not one of {allow or 'none'} here"
    return JSONResponse(
        {"detail": detail, "field": "method"}, status_code=405, headers={"Allow": allow}
    )


def install(app: FastAPI) -> None:
    """Document the error answers in `app.openapi()`, answer refused values with 422, and a
    method the path does not answer with 405 and its full `Allow`."""
    build_document = app.openapi  # FastAPI's: builds the document once, then caches it

    def openapi_with_errors() -> dict[str, Any]:
        documented = app.openapi_schema is not None
        document = build_document()
        return document if documented else document_errors(document)

    app.openapi = openapi_with_errors  # type: ignore[method-assign]
    for refused in (DataError, psycopg.DataError, UnicodeEncodeError):
        app.add_exception_handler(refused, handle_unstorable_value)
    app.add_exception_handler(405, handle_method_not_allowed)
