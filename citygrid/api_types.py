"""The annotated types of the API's parameters and body fields: one declaration each, which
both validates the value (Pydantic, before the route runs) and describes it in the OpenAPI
document, so what the document promises and what the server accepts cannot drift apart.

A route declares `case_id: BigRowId` or `bbox: Annotated[BBoxText | None, Query()] = None` and
re-checks nothing the type says. What no schema can express (a point outside the managed area,
`to` before `from`, 29 February of a common year) stays a domain refusal, listed with its
reason in the fuzzing test (tests/citygrid/test_fuzz_api.py, REVIEWED).

Patterns use `[0-9]`, not `\\d`: Pydantic's regular expressions (and schemathesis' generator)
read `\\d` as any Unicode digit, which `datetime` and `float` do not parse.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi.responses import RedirectResponse, Response
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from citygrid.settings import Settings

# PostgreSQL's `integer`, the type of most keys and counts.
INT4_MAX = 2**31 - 1
# A `bigint` key: bounded to the integers a JSON client reads exactly (a double's 53 bits), far
# below bigint's own limit, so an id a client sends back is the id it was given.
JSON_SAFE_MAX = 2**53 - 1

RowId = Annotated[int, Field(ge=1, le=INT4_MAX)]  # an `integer` primary key
BigRowId = Annotated[int, Field(ge=1, le=JSON_SAFE_MAX)]  # a `bigint` primary key


def _not_true_or_false(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


# An integer in a JSON body: 5 or 5.0, not true (which Pydantic would read as 1).
WholeNumber = Annotated[int, BeforeValidator(_not_true_or_false)]
Count = Annotated[int, Field(ge=0, le=INT4_MAX)]  # a count or an offset stored as `integer`
# Photos per report: the document's bound is the setting's default (a deployment may set a lower
# one, refused by the upload).
PHOTOS_MAX: int = Settings.model_fields["photos_per_report_max"].default
PAGE_MAX = 100_000  # the last page number a paged list answers (OFFSET stays far from overflow)

# Dates and times: years 1900-2199 (far outside the city's records, and every moment in them
# has a UTC offset and a previous period that date arithmetic can reach); each month's days (29
# February of a common year is the one impossible date the pattern lets through).
_LONG_MONTH = r"(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
_SHORT_MONTH = r"(0[469]|11)-(0[1-9]|[12][0-9]|30)"
_DAY = rf"({_LONG_MONTH}|{_SHORT_MONTH}|02-(0[1-9]|1[0-9]|2[0-9]))"
_DATE = rf"(19|2[01])[0-9]{{2}}-{_DAY}"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATE_OR_DATE_TIME_PATTERN = rf"^{_DATE}(T{_TIME}{_OFFSET}?)?$"
AWARE_DATE_TIME_PATTERN = rf"^{_DATE}T{_TIME}{_OFFSET}$"


def _matching(pattern: str, description: str) -> Any:
    """A validator refusing a text that does not match `pattern` (before it is parsed)."""
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not {description}")
        return value

    return BeforeValidator(check)


def text_matching(pattern: str, description: str) -> tuple[Any, Any]:
    """Annotated metadata for a text matching `pattern`: the document's `pattern`, and a
    refusal saying what it must be (`Annotated[str, *text_matching(P, "6 digits")]`)."""
    schema = {"type": "string", "pattern": pattern}
    return _matching(pattern, description), WithJsonSchema(schema)


def _date_time(pattern: str, description: str) -> tuple[Any, Any]:
    schema = {"type": "string", "pattern": pattern, "description": description}
    return _matching(pattern, description), WithJsonSchema(schema)


DATE_OR_DATE_TIME = "an ISO 8601 date or date-time (UTC unless it has an offset)"
AWARE_DATE_TIME = "an ISO 8601 date-time with its UTC offset (Z or +08:00)"
# 2026-11-26, 2026-11-26T09:30 or 2026-11-26T09:30:00+08:00; without an offset it is UTC.
IsoDateTime = Annotated[datetime, *_date_time(DATE_OR_DATE_TIME_PATTERN, DATE_OR_DATE_TIME)]
# 2026-11-26T09:30:00+08:00 or ...Z: the offset is required.
AwareDateTime = Annotated[datetime, *_date_time(AWARE_DATE_TIME_PATTERN, AWARE_DATE_TIME)]

# "west,south,east,north" in WGS-84 degrees: four plain decimals on the globe (each finite by
# its form); that west <= east and south <= north no pattern can say.
_LON = r"-?(180(\.0{1,15})?|(1[0-7][0-9]|[0-9]{1,2})(\.[0-9]{1,15})?)"
_LAT = r"-?(90(\.0{1,15})?|[0-8]?[0-9](\.[0-9]{1,15})?)"
BBOX_PATTERN = rf"^{_LON},{_LAT},{_LON},{_LAT}$"
# The map's base layer reads any four numbers, exponents too (a box beyond the globe is the
# whole globe); only one past a double's range (1e999) is refused, which no pattern bounds.
_NUMBER = r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"
ANY_BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"
AnyBBoxText = Annotated[
    str, *text_matching(ANY_BBOX_PATTERN, "four numbers: minlon,minlat,maxlon,maxlat")
]
BBoxText = Annotated[
    str, *text_matching(BBOX_PATTERN, "four numbers on the globe: minlon,minlat,maxlon,maxlat")
]

# Codes
AREA_CODE_PATTERN = r"^[0-9]{6}([0-9]{3}){0,3}$"  # district, street, community or cell
AreaCode = Annotated[str, *text_matching(AREA_CODE_PATTERN, "6, 9, 12 or 15 digits")]
CATEGORY_CODE_PATTERN = r"^[0-9A-Za-z]{1,8}$"  # a minor code, or a major one (its prefix)
CategoryCode = Annotated[str, *text_matching(CATEGORY_CODE_PATTERN, "1-8 letters or digits")]


def one_of_numbers(values: tuple[float, ...]) -> tuple[Any, Any]:
    """Annotated metadata for a number that is one of `values` (`0.90` reads as 0.9):
    `Annotated[float, *one_of_numbers((0.90, 0.95, 0.99))]`."""
    allowed = ", ".join(f"{value:g}" for value in values)

    def check(value: float) -> float:
        if value not in values:
            raise ValueError(f"must be one of {allowed}")
        return value

    # One single-value range per number rather than a number enum: the same values, written
    # so that client generators (openapi-python-client has no number enums) can read them.
    schema = {"anyOf": [{"type": "number", "minimum": value, "maximum": value} for value in values]}
    return AfterValidator(check), WithJsonSchema(schema)


def one_of(values: list[str]) -> str:
    """A pattern for one of `values` (plain words)."""
    return "^(" + "|".join(re.escape(value) for value in values) + ")$"


def comma_list_of(values: list[str]) -> str:
    """A pattern for a comma list of one or more of `values` (plain words), spaces allowed
    around each."""
    word = " *(" + "|".join(re.escape(value) for value in values) + ") *"
    return rf"^{word}(,{word})*$"


# --- what a route answers besides JSON ---------------------------------------------------------

HTML = "text/html"
CSV = "text/csv"
GEOJSON = "application/geo+json"
XML = "text/xml"
JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
IMAGE_TYPES = (JPEG, PNG, WEBP)  # what a stored photo is
BINARY_TYPES = frozenset({*IMAGE_TYPES, "application/octet-stream"})


def media_schema(media_type: str) -> dict[str, Any]:
    """The body schema of a non-JSON-model answer: a JSON object, bytes, or a text."""
    if media_type == "application/json" or media_type.endswith("+json"):
        return {"type": "object"}
    if media_type in BINARY_TYPES or media_type.startswith("image/"):
        return {"type": "string", "format": "binary"}
    return {"type": "string"}


def answers(*media_types: str, description: str, status: int = 200) -> dict[str, Any]:
    """Route keyword arguments documenting a success answered in `media_types` (not the JSON of
    a response model): `@router.get("/x.csv", **answers(CSV, description="the rows"))`. The
    route returns a Response of one of those types."""
    content = {media_type: {"schema": media_schema(media_type)} for media_type in media_types}
    return {
        "response_class": Response,
        "responses": {status: {"description": description, "content": content}},
    }


def redirects(description: str, **errors: str) -> dict[str, Any]:
    """Route keyword arguments documenting a 303 redirect (`Location`), and pages answered
    for errors as `errors` (status → description) in HTML: `**redirects("On to the page",
    **{"401": "Refused"})`."""
    responses: dict[int | str, Any] = {303: {"description": description}}
    for status, error in errors.items():
        responses[status] = {
            "description": error,
            "content": {HTML: {"schema": media_schema(HTML)}},
        }
    return {"status_code": 303, "response_class": RedirectResponse, "responses": responses}


# What FileResponse names the files served under /static and /maps/assets (by their suffix;
# text/plain for one without, such as LICENSE).
FILE_TYPES = (
    "text/javascript",
    "text/css",
    PNG,
    "image/vnd.microsoft.icon",
    "text/markdown",
    "text/plain",
)
