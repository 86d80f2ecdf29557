"""Reading a report from the request: a JSON body, or a form with its photo files.

Phones and Open311 clients send forms (fields + `photos` files), benchmarks and integrations
JSON; both become one Submission.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from events.intake.schemas import ReportCreate

FORM_FIELDS_MAX = 50


@dataclass(frozen=True)
class Submission:
    """A parsed request: the report's fields and its photo uploads (none for JSON)."""

    report: ReportCreate
    uploads: list[UploadFile]


def validated_report(fields: Any) -> ReportCreate:
    """The fields as a ReportCreate; InvalidInput naming the first bad field."""
    if not isinstance(fields, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    try:
        return ReportCreate.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from error


async def read_form(request: Request, settings: Settings) -> FormData:
    try:
        return await request.form(
            max_files=settings.photos_per_report_max, max_fields=FORM_FIELDS_MAX
        )
    except StarletteHTTPException as error:  # Starlette's answer to a form past its limits
        if "Too many files" in str(error.detail):
            raise InvalidInput(
                f"at most {settings.photos_per_report_max} photos per report", field="photos"
            ) from error
        raise InvalidInput(f"the form could not be read: {error.detail}", field="body") from error


def submission_of_form(form: FormData) -> Submission:
    fields = {
        name: value for name, value in form.multi_items() if isinstance(value, str) and value != ""
    }
    fields.pop("photos", None)
    uploads = form.getlist("photos")
    if not all(isinstance(upload, UploadFile) for upload in uploads):
        raise InvalidInput("photos must be files", field="photos")
    files = [upload for upload in uploads if isinstance(upload, UploadFile)]
    return Submission(validated_report(fields), files)


async def read_submission(request: Request, settings: SettingsDep) -> AsyncIterator[Submission]:
    """The report from a multipart/url-encoded form or a JSON body; form files closed after."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await read_form(request, settings)
        try:
            yield submission_of_form(form)
        finally:
            await form.close()
        return
    try:
        body = await request.json()
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep to parse
        raise InvalidInput("the body is not valid JSON", field="body") from error
    yield Submission(validated_report(body), [])
