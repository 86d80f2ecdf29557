"""Intake: a report becomes a located case in one transaction.

Intake is the hot path, so its writes are few statements: a look for an earlier report with the
same UUID, the category, the locate statement of the grid, the duplicate candidates, and one
statement that inserts report, case, first history row, photos and the case number (INTAKE, in
events.intake.statements).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from uuid import UUID

import numpy as np
from starlette.concurrency import run_in_threadpool

from citygrid.accounts.roles import Principal
from citygrid.db import RowFetcher, Writer
from citygrid.errors import InvalidInput, OutsideGrid
from citygrid.settings import Settings
from components.schemas import MatchedComponent
from events.intake.schemas import CellOfReport, DuplicateCandidate, ReportAccepted, ReportCreate
from events.intake.statements import (
    EXISTING_REPORT,
    INTAKE,
    CategoryCandidate,
    EarlierReport,
    FiledCase,
    NamedComponent,
    PlaceOfReport,
)
from events.intake.submission import Submission
from events.lifecycle import CaseStatus
from events.photos import service as photos
from events.recurrence import service as recurrence
from grid import service as grid_service
from grid.geometry import BD09, GCJ02, WGS84, normalise_crs_name
from grid.schemas import Located, NotLocated

DATUMS = {WGS84: "WGS-84", GCJ02: "GCJ-02", BD09: "BD-09"}
DUPLICATES_SHOWN = 10
CATEGORIES_HINT = "list the valid ones with GET /api/categories"


@dataclass(frozen=True)
class Point:
    lon: float
    lat: float
    crs: str


async def existing_report(run: RowFetcher, report_uuid: UUID) -> ReportAccepted | None:
    """The case of an earlier report with this UUID (a retry), if any."""
    rows = await run(EXISTING_REPORT, {"report_uuid": report_uuid})
    return _replayed(EarlierReport(**rows[0]._asdict())) if rows else None


def _replayed(row: EarlierReport) -> ReportAccepted:
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


def _component_of_case(row: EarlierReport) -> MatchedComponent | None:
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
    categories: list[CategoryCandidate]
    place: PlaceOfReport | None
    duplicates: list[DuplicateCandidate]
    named_component: NamedComponent | None  # the component_code's component, whatever it is
    component: MatchedComponent | None
    filed: FiledCase | None


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
        "day": city_today(settings.city_zone),
        "photo_keys": [photo.storage_key for photo in stored],
        "photo_types": [photo.content_type for photo in stored],
        "photo_sizes": [photo.size_bytes for photo in stored],
        "photo_hashes": [photo.sha256 for photo in stored],
    }
    row = (await writer.execute(INTAKE, params))[0]
    return IntakeAnswer(
        earlier=_replayed(EarlierReport(**row.earlier)) if row.earlier else None,
        categories=[CategoryCandidate.of_json(found) for found in row.categories],
        place=PlaceOfReport.of_json(row.place) if row.place else None,
        duplicates=[DuplicateCandidate.model_validate(found) for found in row.duplicates],
        named_component=NamedComponent(**row.named_component) if row.named_component else None,
        component=MatchedComponent.model_validate(row.component) if row.component else None,
        filed=FiledCase(**row.filed) if row.filed else None,
    )


def reported_category(
    categories: list[CategoryCandidate], report: ReportCreate
) -> CategoryCandidate:
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


def _current(category: CategoryCandidate, *, field: str) -> CategoryCandidate:
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
    return Point(_coordinate(report.lon, "lon"), _coordinate(report.lat, "lat"), crs)


def _coordinate(value: float | None, name: str) -> float:
    """A coordinate given (its range: ReportCreate's declaration)."""
    if value is None:
        raise InvalidInput(f"{name} is missing: give both lon and lat", field=name)
    return value


def located(place: PlaceOfReport | None, lon: float, lat: float, *, snap_m: float) -> Located:
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


def city_today(zone: tzinfo) -> date:
    """Today in the city: case numbers count per local day (in UTC the day, and the count, would
    turn over at 08:00 in Beijing)."""
    return datetime.now(zone).date()


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
    await recurrence.link_at_intake(writer, accepted.case_id)  # a closed problem come back?
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
        case_id=filed.case_id,
        number=filed.number,
        status=filed.status,
        cell=CellOfReport(code=place.cell.code, name=place.cell.name),
        report_id=filed.report_id,
        replayed=False,
        snapped_m=place.distance_m,
        photo_ids=list(filed.photo_ids),
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
    elif named.status == "removed":
        why = f"component {code} was removed from the inventory"
    else:
        category = answer.categories[0]
        why = (
            f"component {code} is of category {named.category_code}, "
            f"not of the report's category {category.code} ({category.name_en})"
        )
    raise InvalidInput(why, field="component_code")
