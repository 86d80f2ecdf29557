"""POST requests: an Open311 form becomes a citizen report through the one intake path."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from starlette.datastructures import FormData, UploadFile

from citygrid.db import RowFetcher, Writer
from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import Settings
from events.intake.schemas import ReportAccepted
from events.intake.service import submit_report
from events.intake.submission import Submission, validated_report
from events.open311.attributes import AttributeDefinition, answers_of_form, checked_answers
from events.open311.service import SERVICES

ATTRIBUTE_DEFINITIONS = """
    SELECT code, datatype, required, variable,
           ARRAY(SELECT v->>'key' FROM jsonb_array_elements(values) v) AS keys
    FROM service_attribute WHERE category_id = %(category_id)s
"""
INSERT_REQUEST = """
    INSERT INTO open311_request (report_uuid, api_key_id, token, email, device_id, account_id,
                                 first_name, last_name, phone, media_url, address_string,
                                 address_id, attributes)
    VALUES (%(report_uuid)s, %(api_key_id)s, %(token)s, %(email)s, %(device_id)s, %(account_id)s,
            %(first_name)s, %(last_name)s, %(phone)s, %(media_url)s, %(address_string)s,
            %(address_id)s, %(attributes)s::jsonb)
    RETURNING id
"""
DELETE_REQUEST = "DELETE FROM open311_request WHERE token = %(token)s RETURNING id"
CLIENT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
CLIENT_FIELDS_MORE = ("media_url", "address_string", "address_id")
MEDIA_FIELD = "media"
FIELD_MAX_CHARS = {
    "email": 320,
    "device_id": 200,
    "account_id": 200,
    "first_name": 200,
    "last_name": 200,
    "phone": 64,
    "address_id": 200,
    "address_string": 500,
    "media_url": 2000,
}


@dataclass(frozen=True)
class PostedRequest:
    accepted: ReportAccepted
    token: uuid.UUID


def text_fields(form: FormData) -> dict[str, str]:
    """The form's non-empty text fields, first value each (empty means absent)."""
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, str) and value.strip() != "" and name not in fields:
            fields[name] = value.strip()
    return fields


def media_uploads(form: FormData) -> list[UploadFile]:
    """The photo files sent as `media` (the v2.1 draft's multipart upload)."""
    return [upload for upload in form.getlist(MEDIA_FIELD) if isinstance(upload, UploadFile)]


async def service_category_id(fetch: RowFetcher, service_code: str | None) -> int:
    """The category of the service; 400 when not given, NotFound (404) when unknown."""
    if service_code is None:
        raise InvalidInput("service_code is required", field="service_code")
    rows = await fetch(SERVICES, {"service_code": service_code})
    if not rows:
        raise NotFound(f"no service {service_code}", field="service_code")
    return int(rows[0].id)


async def checked_attributes(
    fetch: RowFetcher, category_id: int, form: FormData, *, zone: tzinfo
) -> dict[str, Any]:
    """The answers to the service's attributes; a datetime without an offset is read in `zone`."""
    rows = await fetch(ATTRIBUTE_DEFINITIONS, {"category_id": category_id})
    definitions = [
        AttributeDefinition(row.code, row.datatype, row.required, row.variable, frozenset(row.keys))
        for row in rows
    ]
    text_items = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return checked_answers(definitions, answers_of_form(text_items), zone=zone)


def report_fields(fields: dict[str, str], category_id: int, *, has_media: bool) -> dict[str, Any]:
    """The intake's report fields (a fresh report UUID); 400 when no location is given."""
    located = "lat" in fields or "long" in fields
    if not (located or has_media or "address_string" in fields or "address_id" in fields):
        raise InvalidInput("give lat and long (or address_string or address_id)", field="lat/long")
    if not located and not has_media:
        raise InvalidInput(
            "lat and long are required here: addresses are not geocoded", field="lat/long"
        )
    report: dict[str, Any] = {
        "report_uuid": str(uuid.uuid4()),
        "category_id": category_id,
        "description": fields.get("description", ""),
        "lat": fields.get("lat"),
        "lon": fields.get("long"),
        "address": fields.get("address_string"),
    }
    return {name: value for name, value in report.items() if value is not None}


async def post_request(
    form: FormData,
    *,
    api_key_id: int,
    fetch: RowFetcher,
    writer: Writer,
    settings: Settings,
) -> PostedRequest:
    """The case the request became, filed by intake as an anonymous citizen report; the
    client's details go into open311_request with a new token."""
    fields = text_fields(form)
    check_lengths(fields)
    category_id = await service_category_id(fetch, fields.get("service_code"))
    attributes = await checked_attributes(fetch, category_id, form, zone=settings.city_zone)
    uploads = media_uploads(form)
    report = validated_report(report_fields(fields, category_id, has_media=bool(uploads)))
    submission = Submission(report, uploads)
    token = uuid.uuid4()
    # The client's details first: when intake acknowledges the report they are already stored.
    await writer.execute(
        INSERT_REQUEST,
        {
            "report_uuid": report.report_uuid,
            "api_key_id": api_key_id,
            "token": token,
            "attributes": _json(attributes),
            **{name: fields.get(name) for name in CLIENT_FIELDS + CLIENT_FIELDS_MORE},
        },
    )
    try:
        accepted, _ = await submit_report(
            writer, submission, reporter=None, settings=settings, channel="open311"
        )
    except BaseException:
        # Refused (or the database failed): the details of a report that does not exist go.
        await writer.execute(DELETE_REQUEST, {"token": token})
        raise
    return PostedRequest(accepted, token)


def post_answer(posted: PostedRequest) -> dict[str, Any]:
    """The answer to a POST: the spec returns `service_request_id` or `token`, never both. The
    intake files the case within the request, so its id is known at once and is what a client
    gets; a token is for a server that files later, which this one never does. The token is
    still stored with the client's details, so `GET tokens/{token}` keeps answering."""
    return {
        "service_request_id": str(posted.accepted.case_id),
        "service_notice": f"case {posted.accepted.number}",
        "account_id": None,
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_lengths(fields: dict[str, str]) -> None:
    """400 naming a client field longer than its column."""
    for name, limit in FIELD_MAX_CHARS.items():
        if len(fields.get(name, "")) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
