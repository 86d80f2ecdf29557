"""Intake: a report becomes a located case in one transaction; its photos are served from here.

`POST /api/reports` takes JSON (no photos) or a multipart form (fields + `photos` files) on one
path: phones and Open311 clients send forms, benchmarks and integrations JSON. Intake is the hot
path, so its writes are few statements: a look for an earlier report with the same UUID, the
category, the locate statement of the grid, the duplicate candidates, and one statement that
inserts report, case, first history row, photos and the case number.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from citygrid.accounts.auth import (
    STAFF_ROLES,
    Allow,
    AllowOrAnonymous,
    Principal,
    Role,
    RoleCheckedRoute,
)
from citygrid.db import RowFetcher, SessionDep, Writer, WriterDep
from citygrid.errors import InvalidInput, NotFound, OutsideGrid
from citygrid.settings import Settings, SettingsDep
from components import matching
from events.cases import service as case_service
from events.intake.schemas import (
    CellOfReport,
    DuplicateCandidate,
    MatchedComponent,
    ReportAccepted,
    ReportCreate,
)
from events.lifecycle import OPEN_STATUSES, CaseStatus
from events.models import Case, CasePhoto
from events.photos import service as photos
from grid import service as grid_service
from grid.geometry import BD09, GCJ02, WGS84, normalise_crs_name
from grid.schemas import Located, NotLocated

router = APIRouter(tags=["intake"], route_class=RoleCheckedRoute)

# China has one time zone and no daylight saving, so the city's calendar day is Beijing time's.
# Case numbers count per local day: in UTC the day (and the count) would turn over at 08:00.
CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")
DATUMS = {WGS84: "WGS-84", GCJ02: "GCJ-02", BD09: "BD-09"}
DUPLICATES_SHOWN = 10
RATE_WINDOW_S = 60.0
FORM_FIELDS_MAX = 50
CATEGORIES_HINT = "list the valid ones with GET /api/categories"
CATEGORY_OF_REPORT = """
    SELECT id, code, name_en, retired_at, duplicate_radius_m, kind, component_radius_m
    FROM category
    WHERE level = 'minor'
      AND (%(id)s::int IS NULL OR id = %(id)s::int)
      AND (%(code)s::text IS NULL OR code = %(code)s::text)
      AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
      AND (%(standard)s::text IS NULL OR standard = %(standard)s::text)
    LIMIT 2
"""
OPEN_STATUS_VALUES = sorted(status.value for status in OPEN_STATUSES)

EXISTING_REPORT = """
    SELECT r.id AS report_id, r.snapped_m, c.id AS case_id, c.number, c.status,
           g.code AS cell_code, g.name AS cell_name,
           ARRAY(SELECT p.id FROM case_photo p WHERE p.report_id = r.id ORDER BY p.id) AS photo_ids,
           cp.code AS component_code, cp.name AS component_name,
           c.component_distance_m, c.component_match
    FROM report r JOIN event_case c ON c.id = r.case_id JOIN grid_cell g ON g.id = c.cell_id
         LEFT JOIN component cp ON cp.id = c.component_id
    WHERE r.report_uuid = %(report_uuid)s
"""
# The nearest component of the report's category, in the INTAKE statement's terms.
NEAREST_TO_REPORT = matching.nearest_component_query(
    point="point.geom",
    category_id="category.id",
    radius_m="coalesce(category.component_radius_m, %(component_radius_m)s::float8)",
)
# Intake is one statement, a transaction by itself: one round trip, no lock held across round
# trips. It reads what intake needs to know (an earlier report with this UUID, the category
# candidates, the cell by the grid's locate rule, the duplicate candidates: open cases of the
# category nearby, within the category's radius, else the default) and files the report only
# when all is well: no earlier report, exactly one current category, a cell within the snap
# distance. For a component category it also finds the component: the one the report names
# (component_code, which must be of the category and not removed, else nothing is filed), or
# the nearest within the category's radius (components.matching); open cases on that
# component are duplicate candidates too, however far and old.
# Otherwise it writes nothing, and the answer says why (JSON columns carry the
# differently shaped parts). The report row goes in first, with the case id from the sequence:
# when its UUID arrived meanwhile (a retry racing the original) ON CONFLICT leaves it out and
# every later insert reads from it, so nothing at all is written. Foreign keys are checked at
# the end of the statement, after the case row exists.
INTAKE = f"""
    WITH earlier AS ({EXISTING_REPORT}),
    categories AS ({CATEGORY_OF_REPORT}),
    place AS ({grid_service.LOCATE_POINTS}),
    point AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom),
    named_component AS (
        SELECT cp.id, cp.code, cp.name, cp.status, cp.category_id, cat.code AS category_code,
               ST_Distance(cp.geom::geography, point.geom::geography) AS distance_m
        FROM point, component cp JOIN category cat ON cat.id = cp.category_id
        WHERE cp.code = %(component_code)s::text
    ),
    matched_component AS (
        SELECT named.id, named.code, named.name, named.distance_m, 'confirmed' AS match
        FROM named_component named, categories category
        WHERE (SELECT count(*) FROM categories) = 1
          AND named.category_id = category.id AND named.status <> 'removed'
        UNION ALL
        SELECT nearest.id, nearest.code, nearest.name, nearest.distance_m, 'suggested'
        FROM categories category, point, LATERAL ({NEAREST_TO_REPORT}) nearest
        WHERE %(component_code)s::text IS NULL AND category.kind = 'component'
          AND (SELECT count(*) FROM categories) = 1
    ),
    nearby_cases AS (
        SELECT c.id, c.number, c.status, c.created_at,
               ST_Distance(c.geom::geography, point.geom::geography) AS distance_m
        FROM categories category, point, event_case c
        WHERE (SELECT count(*) FROM categories) = 1
          AND c.category_id = category.id
          AND c.status = ANY(%(open_statuses)s) AND c.merged_into_id IS NULL
          AND c.created_at >= now() - make_interval(secs => %(window_s)s)
          AND c.geom && ST_Expand(point.geom,
                coalesce(category.duplicate_radius_m, %(default_radius_m)s)
                / (111320.0 * greatest(cos(radians(%(lat)s)), 0.01)) + 1e-6)
          AND ST_DWithin(c.geom::geography, point.geom::geography,
                         coalesce(category.duplicate_radius_m, %(default_radius_m)s))
        ORDER BY distance_m, c.id
        LIMIT %(limit)s
    ),
    same_component_cases AS (
        SELECT c.id, c.number, c.status, c.created_at,
               ST_Distance(c.geom::geography, point.geom::geography) AS distance_m
        FROM matched_component m, point, event_case c
        WHERE c.component_id = m.id
          AND c.status = ANY(%(open_statuses)s) AND c.merged_into_id IS NULL
        ORDER BY c.created_at DESC, c.id
        LIMIT %(limit)s
    ),
    duplicates AS (
        SELECT id, number, status, created_at, distance_m, bool_or(same) AS same_component
        FROM (SELECT *, false AS same FROM nearby_cases
              UNION ALL SELECT *, true FROM same_component_cases) found
        GROUP BY id, number, status, created_at, distance_m
        ORDER BY same_component DESC, distance_m, id
        LIMIT %(limit)s
    ),
    accepted AS (
        SELECT category.id AS category_id, place.cell_code, place.distance_m
        FROM categories category, place
        WHERE NOT EXISTS (SELECT 1 FROM earlier)
          AND (SELECT count(*) FROM categories) = 1 AND category.retired_at IS NULL
          AND place.distance_m <= %(snap_m)s
          AND (%(component_code)s::text IS NULL OR EXISTS (SELECT 1 FROM matched_component))
    ),
    new_report AS (
        INSERT INTO report (report_uuid, case_id, original_case_id, reporter_id, channel, geom,
                            input_crs, snapped_m, description)
        SELECT %(report_uuid)s, ids.case_id, ids.case_id, %(reporter_id)s, %(channel)s,
               point.geom, %(input_crs)s, accepted.distance_m, %(description)s
        FROM accepted, point,
             (SELECT nextval(pg_get_serial_sequence('event_case', 'id')) AS case_id) ids
        ON CONFLICT (report_uuid) DO NOTHING
        RETURNING id, case_id
    ),
    new_case AS (
        INSERT INTO event_case (id, number, status, category_id, urgency, description, address,
                                geom, cell_id, reported_by, component_id, component_distance_m,
                                component_match)
        SELECT new_report.case_id, next_case_number(%(day)s::date), %(status)s,
               accepted.category_id, %(urgency)s, %(description)s, %(address)s, point.geom,
               (SELECT id FROM grid_cell WHERE code = accepted.cell_code), %(reporter_id)s,
               m.id, m.distance_m, m.match
        FROM new_report, accepted, point LEFT JOIN matched_component m ON true
        RETURNING id, number, status
    ),
    history AS (
        INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, actor_role)
        SELECT id, 'report', NULL, status, %(reporter_id)s, %(actor_role)s FROM new_case
    ),
    new_photos AS (
        INSERT INTO case_photo (case_id, report_id, storage_key, content_type, size_bytes, sha256)
        SELECT new_report.case_id, new_report.id, p.storage_key, p.content_type, p.size_bytes,
               p.sha256
        FROM new_report, unnest(%(photo_keys)s::uuid[], %(photo_types)s::text[],
                                %(photo_sizes)s::int[], %(photo_hashes)s::text[])
             AS p(storage_key, content_type, size_bytes, sha256)
        RETURNING id
    )
    SELECT (SELECT to_jsonb(earlier) FROM earlier) AS earlier,
           (SELECT coalesce(jsonb_agg(to_jsonb(categories)), '[]') FROM categories) AS categories,
           (SELECT to_jsonb(place) FROM place) AS place,
           (SELECT coalesce(jsonb_agg(to_jsonb(duplicates)
                                      ORDER BY same_component DESC, distance_m, id), '[]')
            FROM duplicates) AS duplicates,
           (SELECT to_jsonb(named_component) FROM named_component) AS named_component,
           (SELECT to_jsonb(matched_component) FROM matched_component) AS component,
           (SELECT jsonb_build_object(
                'case_id', new_case.id, 'number', new_case.number, 'status', new_case.status,
                'report_id', new_report.id,
                'photo_ids', ARRAY(SELECT id FROM new_photos ORDER BY id))
            FROM new_case, new_report) AS filed
"""


@dataclass(frozen=True)
class Submission:
    """A parsed request: the report's fields and its photo uploads (none for JSON)."""

    report: ReportCreate
    uploads: list[UploadFile]


@dataclass(frozen=True)
class Point:
    lon: float
    lat: float
    crs: str


# --- reading the request -------------------------------------------------------------------


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


# --- who may report ------------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most `limit` hits per key in any window of `window_s` seconds (in-process)."""

    def __init__(self, window_s: float = RATE_WINDOW_S, keys_max: int = 100_000) -> None:
        self.window_s = window_s
        self.keys_max = keys_max
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, key: str, *, limit: int, now: float) -> float | None:
        """None when the hit is admitted (and counted); else seconds until one would be."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                return hits[0] + self.window_s - now
            hits.append(now)
            if len(self._hits) > self.keys_max:
                self._forget_idle(now)
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, hits in self._hits.items() if hits[-1] <= now - self.window_s]
        for key in idle:
            del self._hits[key]


REPORTERS = AllowOrAnonymous(
    Role.INSPECTOR,
    Role.CITIZEN,
    Role.DISPATCHER,  # staff may report on a caller's behalf (a hotline call)
    Role.ADMIN,
    anonymous_allowed=lambda settings: settings.anonymous_reports,
)


def limiter_of(request: Request) -> SlidingWindowLimiter:
    """The app's limiter, made on first use (one per app: tests do not share counts)."""
    limiter: SlidingWindowLimiter | None = getattr(request.app.state, "anonymous_limiter", None)
    if limiter is None:
        limiter = request.app.state.anonymous_limiter = SlidingWindowLimiter()
    return limiter


async def reporter(
    request: Request,
    principal: Annotated[Principal | None, Depends(REPORTERS)],
    settings: SettingsDep,
) -> Principal | None:
    """The signed-in reporter, or None for an anonymous citizen within the rate limit."""
    if principal is not None:
        return principal
    # Behind a reverse proxy the client is the proxy unless uvicorn trusts its forwarded headers.
    client = request.client.host if request.client else "unknown"
    limit = settings.anonymous_reports_per_minute
    wait_s = limiter_of(request).retry_after_s(client, limit=limit, now=time.monotonic())
    if wait_s is not None:
        # HTTPException rather than a domain error: 429 and Retry-After are HTTP's own business.
        raise HTTPException(
            status_code=429,
            detail=f"at most {limit} anonymous reports per minute from one address",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    return None


# --- the service ---------------------------------------------------------------------------


async def existing_report(run: RowFetcher, report_uuid: UUID) -> ReportAccepted | None:
    """The case of an earlier report with this UUID (a retry), if any."""
    rows = await run(EXISTING_REPORT, {"report_uuid": report_uuid})
    return _replayed(rows[0]) if rows else None


def _replayed(row: Any) -> ReportAccepted:
    return ReportAccepted(
        case_id=row.case_id,
        number=row.number,
        status=row.status,
        cell=CellOfReport(code=row.cell_code, name=row.cell_name),
        report_id=row.report_id,
        replayed=True,
        snapped_m=row.snapped_m,
        photo_ids=list(row.photo_ids),
        component=_component_of_case(row),
    )


def _component_of_case(row: Any) -> MatchedComponent | None:
    if row.component_code is None:
        return None
    return MatchedComponent(
        code=row.component_code,
        name=row.component_name,
        distance_m=row.component_distance_m or 0.0,
        match=row.component_match,
    )


@dataclass(frozen=True)
class IntakeAnswer:
    """What the INTAKE statement read and, when all was well, filed."""

    earlier: ReportAccepted | None
    categories: list[SimpleNamespace]
    place: SimpleNamespace | None
    duplicates: list[DuplicateCandidate]
    named_component: dict[str, Any] | None  # the component_code's component, whatever it is
    component: MatchedComponent | None
    filed: dict[str, Any] | None


async def run_intake(
    writer: Writer,
    report: ReportCreate,
    point: Point,
    *,
    wgs84: tuple[float, float],
    reporter: Principal | None,
    stored: list[photos.StoredPhoto],
    settings: Settings,
    channel: str | None = None,
) -> IntakeAnswer:
    lon, lat = wgs84
    params = {
        "report_uuid": report.report_uuid,
        "id": report.category_id,
        "code": report.category_code,
        "kind": report.kind,
        "standard": report.standard,
        "lons": [lon],
        "lats": [lat],
        "lon": lon,
        "lat": lat,
        "open_statuses": OPEN_STATUS_VALUES,
        "window_s": settings.duplicate_window_hours * 3600.0,
        "default_radius_m": settings.duplicate_radius_m,
        "limit": DUPLICATES_SHOWN,
        "snap_m": settings.locate_snap_m,
        "component_code": report.component_code,
        "component_radius_m": settings.component_radius_m,
        "reporter_id": reporter.user_id if reporter else None,
        "actor_role": reporter.role.value if reporter else None,
        "channel": channel or ("app" if reporter else "anonymous"),
        "input_crs": point.crs,
        "description": report.description,
        "address": report.address,
        "urgency": report.urgency,
        "status": CaseStatus.REPORTED.value,
        "day": city_today(),
        "photo_keys": [photo.storage_key for photo in stored],
        "photo_types": [photo.content_type for photo in stored],
        "photo_sizes": [photo.size_bytes for photo in stored],
        "photo_hashes": [photo.sha256 for photo in stored],
    }
    row = (await writer.execute(INTAKE, params))[0]
    return IntakeAnswer(
        earlier=_replayed(SimpleNamespace(**row.earlier)) if row.earlier else None,
        categories=[_category(found) for found in row.categories],
        place=SimpleNamespace(**row.place) if row.place else None,
        duplicates=[DuplicateCandidate.model_validate(found) for found in row.duplicates],
        named_component=row.named_component,
        component=MatchedComponent.model_validate(row.component) if row.component else None,
        filed=row.filed,
    )


def _category(found: dict[str, Any]) -> SimpleNamespace:
    retired_at = found["retired_at"]
    return SimpleNamespace(
        **{**found, "retired_at": datetime.fromisoformat(retired_at) if retired_at else None}
    )


def reported_category(categories: list[SimpleNamespace], report: ReportCreate) -> SimpleNamespace:
    """The one current category the report names; InvalidInput otherwise."""
    if report.category_id is not None:
        field = "category_id"
    elif report.category_code is not None:
        field = "category_code"
    else:
        raise InvalidInput(
            f"give category_id or category_code; {CATEGORIES_HINT}", field="category_id"
        )
    if not categories:
        raise InvalidInput(f"unknown category; {CATEGORIES_HINT}", field=field)
    if len(categories) > 1:
        raise InvalidInput(
            f"category code {report.category_code} exists in several kinds or standards: "
            "give kind and standard too",
            field=field,
        )
    return _current(categories[0], field=field)


def _current(category: SimpleNamespace, *, field: str) -> SimpleNamespace:
    if category.retired_at is not None:
        raise InvalidInput(
            f"category {category.code} ({category.name_en}) was retired on "
            f"{category.retired_at:%Y-%m-%d} and takes no new reports; {CATEGORIES_HINT}",
            field=field,
        )
    return category


def reported_point(report: ReportCreate, first_photo: photos.Photo | None) -> Point:
    """Where the report is: lon/lat in its datum, else the first photo's GPS (WGS-84)."""
    if report.lon is None and report.lat is None:
        if first_photo is None or first_photo.gps is None:
            raise InvalidInput(
                "give lon and lat, or a first photo with a GPS position in its EXIF",
                field="lon/lat",
            )
        return Point(*first_photo.gps, crs=WGS84)
    crs = normalise_crs_name(report.datum)
    if crs not in DATUMS:
        raise InvalidInput(f"datum must be one of {', '.join(DATUMS.values())}", field="datum")
    return Point(_coordinate(report.lon, "lon", 180), _coordinate(report.lat, "lat", 90), crs)


def _coordinate(value: float | None, name: str, bound: float) -> float:
    if value is None:
        raise InvalidInput(f"{name} is missing: give both lon and lat", field=name)
    if not (math.isfinite(value) and -bound <= value <= bound):
        raise InvalidInput(f"{name} {value} is outside -{bound}..{bound}", field=name)
    return value


def located(place: SimpleNamespace | None, lon: float, lat: float, *, snap_m: float) -> Located:
    """The cell by the grid's locate rule (snapping included) from the INTAKE statement's place."""
    if place is None:  # LOCATE_POINTS answers every point; None means no row came back
        raise OutsideGrid("outside the managed area: the grid has no cells yet", distance_m=None)
    outcome = grid_service.outcome_of_row(place, lon, lat, snap_m)
    if isinstance(outcome, NotLocated):
        raise OutsideGrid(outcome.error, distance_m=outcome.nearest_cell_distance_m)
    return outcome


def wgs84_of(point: Point) -> tuple[float, float]:
    wgs84 = grid_service.checked_wgs84(
        np.array([[point.lon, point.lat]], dtype=float), point.crs, field="lon/lat"
    )
    return float(wgs84[0, 0]), float(wgs84[0, 1])


def city_today() -> date:
    return datetime.now(CITY_TIME_ZONE).date()


def checked_description(report: ReportCreate, settings: Settings) -> None:
    limit = settings.description_max_chars
    if len(report.description) > limit:
        raise InvalidInput(
            f"description has {len(report.description)} characters; at most {limit} are accepted",
            field="description",
        )


async def submit_report(
    writer: Writer,
    submission: Submission,
    *,
    reporter: Principal | None,
    settings: Settings,
    channel: str | None = None,  # who relayed it (e.g. open311); default app or anonymous
) -> tuple[ReportAccepted, list[photos.StoredPhoto]]:
    """The case of the report, new or (for a retried UUID) the original; and the files written.

    Async: intake is the busiest write path, so it awaits PostgreSQL on the event loop, in one
    statement; photo decoding and file writes (blocking) go to the threadpool, and only when
    there are photos. Files of a report that is refused or was already filed are removed.
    """
    report = submission.report
    checked_description(report, settings)
    checked = (
        await run_in_threadpool(photos.checked_uploads, submission.uploads, settings)
        if submission.uploads
        else []
    )
    point = reported_point(report, checked[0] if checked else None)
    wgs84 = wgs84_of(point)  # refuses bad coordinates before any photo file is written
    stored = (
        await run_in_threadpool(photos.store_all, checked, settings.media_dir) if checked else []
    )
    try:
        answer = await run_intake(
            writer,
            report,
            point,
            wgs84=wgs84,
            reporter=reporter,
            stored=stored,
            settings=settings,
            channel=channel,
        )
        accepted = _accepted(answer, report, wgs84, settings)
    except BaseException:
        photos.discard(stored)
        raise
    if accepted is None:  # filed earlier, or a racing retry filed it first
        photos.discard(stored)
        earlier = answer.earlier or await existing_report(writer.execute, report.report_uuid)
        assert earlier is not None, "ON CONFLICT saw a report that is now gone"
        return earlier, []
    return accepted, stored


def _accepted(
    answer: IntakeAnswer, report: ReportCreate, wgs84: tuple[float, float], settings: Settings
) -> ReportAccepted | None:
    """The filed case; None when the UUID was filed before; InvalidInput/OutsideGrid when the
    statement refused to file."""
    if answer.earlier is not None:
        return None
    reported_category(answer.categories, report)
    place = located(answer.place, *wgs84, snap_m=settings.locate_snap_m)
    checked_component(answer, report)
    if answer.filed is None:
        return None
    filed = answer.filed
    return ReportAccepted(
        case_id=filed["case_id"],
        number=filed["number"],
        status=filed["status"],
        cell=CellOfReport(code=place.cell.code, name=place.cell.name),
        report_id=filed["report_id"],
        replayed=False,
        snapped_m=place.distance_m,
        photo_ids=list(filed["photo_ids"]),
        duplicate_candidates=answer.duplicates,
        component=answer.component,
    )


def checked_component(answer: IntakeAnswer, report: ReportCreate) -> None:
    """InvalidInput (component_code) when the report names a component that is not there, of
    another category, or removed: the INTAKE statement then filed nothing."""
    code = report.component_code
    if code is None or answer.component is not None:
        return
    named = answer.named_component
    if named is None:
        why = f"no component has code {code}"
    elif named["status"] == "removed":
        why = f"component {code} was removed from the inventory"
    else:
        category = answer.categories[0]
        why = (
            f"component {code} is of category {named['category_code']}, "
            f"not of the report's category {category.code} ({category.name_en})"
        )
    raise InvalidInput(why, field="component_code")


# --- routes --------------------------------------------------------------------------------

FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["report_uuid", "description"],
    "properties": {
        **ReportCreate.model_json_schema()["properties"],
        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
}
REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ReportCreate.model_json_schema()},
            "multipart/form-data": {"schema": FORM_SCHEMA},
        },
    },
    "x-anonymous": "citizens without a token when CITYGRID_ANONYMOUS_REPORTS=true",
}
ReporterDep = Annotated[Principal | None, Depends(reporter)]
SubmissionDep = Annotated[Submission, Depends(read_submission)]


@router.post(
    "/api/reports",
    status_code=201,
    responses={200: {"description": "a retry: the case of the earlier report with this UUID"}},
    openapi_extra=REPORT_BODY,
)
async def create_report(
    principal: ReporterDep,  # first: the role check runs before the body is read
    submission: SubmissionDep,
    writer: WriterDep,
    settings: SettingsDep,
    response: Response,
) -> ReportAccepted:
    """File a report as a case located in its cell (201), or return the case of a retry (200)."""
    accepted, _ = await submit_report(writer, submission, reporter=principal, settings=settings)
    if accepted.replayed:
        response.status_code = 200
    return accepted


def photo_file(
    session: Session,
    photo_id: int,
    media_dir: Path,
    *,
    original: bool,
    principal: Principal | None = None,
) -> FileResponse:
    """The stored file of a photo, with its content type; NotFound when either is missing, or
    when `principal` is given and may not see the photo's case (worded as for a missing photo)."""
    photo = session.get(CasePhoto, photo_id)
    if photo is None or (principal is not None and not photo_visible(session, photo, principal)):
        raise NotFound(f"no photo {photo_id}", field="photo_id")
    path = photos.photo_path(media_dir, photo.storage_key, photo.content_type, original=original)
    if not path.is_file():
        raise NotFound(f"the file of photo {photo_id} is missing from storage", field="photo_id")
    # inline but named by id: a browser shows it and never guesses another type or file name.
    return FileResponse(
        path,
        media_type=photo.content_type,
        content_disposition_type="inline",
        filename=f"photo-{photo_id}{path.suffix}",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def photo_visible(session: Session, photo: CasePhoto, principal: Principal) -> bool:
    """Whether the principal may see the photo's case (events.visibility)."""
    case = session.get(Case, photo.case_id)
    return case is not None and case_service.may_see_case(session, case, principal)


@router.get("/api/photos/{photo_id}")
def get_photo(
    photo_id: int,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*Role))],
) -> FileResponse:
    """The public copy of a photo (re-encoded, no EXIF), of a case the caller may see."""
    return photo_file(session, photo_id, settings.media_dir, original=False, principal=principal)


@router.get("/api/photos/{photo_id}/original")
def get_photo_original(
    photo_id: int,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*STAFF_ROLES))],
) -> FileResponse:
    """The photo as uploaded, EXIF included (staff only), of a case the caller may see."""
    return photo_file(session, photo_id, settings.media_dir, original=True, principal=principal)
