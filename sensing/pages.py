"""Pages of sensing: the review queue of doubtful camera alarms (`/sensing/review`, linked from
the dispatcher console), each alarm's snapshot, and the detectors' precision
(`/sensing/precision`, linked from the analysis hub)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.admin_pages import ADMIN_MESSAGES
from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from citygrid.settings import SettingsDep
from citygrid.web import N_, page_language, render
from dispatch.console.cards import ACTION_MESSAGES
from events.cases import service as case_service
from events.models import Case
from events.photos import service as photos
from sensing.alarms.filing import OPEN_STATUS_VALUES
from sensing.device_types import device_types
from sensing.devices.schemas import DeviceId, DeviceStatus, DeviceTypeCode
from sensing.models import SensingAlarm
from sensing.review import precision as precision_service
from sensing.review.router import Month

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
Reviewer = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.ADMIN))]
SNAPSHOT_READERS = (Role.DISPATCHER, Role.ADMIN, Role.MANAGER)
Reader = Annotated[Principal, Depends(Allow(*SNAPSHOT_READERS))]
PAGE_SIZE = 30
RECENT = 15
MONTHS_OFFERED = 12

# Camera event types as people call them.
EVENT_TYPES = {
    "exposed_garbage": N_("Exposed garbage"),
    "street_vending": N_("Street vending"),
    "overflowing_bin": N_("Overflowing bin"),
    "road_occupation": N_("Road occupation"),
    "standing_water": N_("Standing water"),
}
OUTCOMES = {"confirmed": N_("Confirmed"), "rejected": N_("Rejected as a false alarm")}
REVIEW_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.reason": N_("Give the reason this is a false alarm."),
    "error.field.alarm_id": N_("This alarm was reviewed meanwhile: reload the page."),
}

QUEUE = text("""
    SELECT a.id, a.device_id, d.name AS device_name, a.event_type, a.algorithm,
           a.algorithm_version, a.confidence, a.at, a.snapshot_key IS NOT NULL AS has_snapshot,
           s.name AS source_name, s.confidence_threshold, g.name AS cell_name
    FROM sensing_alarm a JOIN sensing_device d ON d.id = a.device_id
         LEFT JOIN sensing_source s ON s.id = a.source_id
         LEFT JOIN grid_cell g ON g.id = d.cell_id
    WHERE a.outcome = 'review' AND (CAST(:after AS bigint) IS NULL OR a.id > :after)
    ORDER BY a.id LIMIT :limit
""")
WAITING = text("SELECT count(*) FROM sensing_alarm WHERE outcome = 'review'")
REVIEWED = text("""
    SELECT a.id, a.device_id, a.event_type, a.algorithm, a.algorithm_version, a.confidence,
           a.outcome, a.review_reason, a.reviewed_at, a.case_id, c.number AS case_number,
           u.display_name AS reviewer
    FROM sensing_alarm a LEFT JOIN event_case c ON c.id = a.case_id
         LEFT JOIN app_user u ON u.id = a.reviewed_by
    WHERE a.reviewed_at IS NOT NULL AND a.outcome IN ('confirmed', 'rejected')
    ORDER BY a.reviewed_at DESC, a.id DESC LIMIT :limit
""")
MONTHS = text("""
    SELECT DISTINCT to_char(at AT TIME ZONE :zone, 'YYYY-MM') AS month FROM sensing_alarm
    WHERE kind = 'alarm' ORDER BY month DESC LIMIT :limit
""")


def device_type_label(code: str, language: str) -> str:
    kind = device_types().get(code)
    if kind is None:
        return code
    return kind.zh if language == "zh-CN" else kind.en


@router.get("/sensing/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: SessionDep,
    principal: Reviewer,
    after: Annotated[BigRowId | None, Query(description="the last alarm of the page")] = None,
) -> HTMLResponse:
    """Camera alarms below their source's threshold, oldest first: confirm (a case is filed)
    or reject with a reason; and the latest decisions with their cases."""
    rows = session.execute(QUEUE, {"after": after, "limit": PAGE_SIZE + 1}).all()
    context: dict[str, Any] = {
        "alarms": rows[:PAGE_SIZE],
        "next_after": rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None,
        "waiting": session.scalar(WAITING),
        "reviewed": session.execute(REVIEWED, {"limit": RECENT}).all(),
        "event_types": EVENT_TYPES,
        "outcomes": OUTCOMES,
        "js_messages": REVIEW_MESSAGES,
    }
    return render(request, "sensing/review.html", context, principal=principal)


@router.get("/sensing/alarms/{alarm_id}/snapshot")
def alarm_snapshot(
    alarm_id: Annotated[BigRowId, Path()],
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*Role))],
) -> FileResponse:
    """The public copy (no EXIF) of a camera alarm's snapshot: for the review queue's roles,
    and for whoever may see the case it went to."""
    alarm = session.get(SensingAlarm, alarm_id)
    if alarm is None or alarm.snapshot_key is None or alarm.snapshot_type is None:
        raise NotFound(f"alarm {alarm_id} has no snapshot", field="alarm_id")
    if principal.role not in SNAPSHOT_READERS:  # others: the snapshot of a case they may see
        if alarm.case_id is None:
            raise NotFound(f"alarm {alarm_id} has no snapshot", field="alarm_id")
        visible_case(session, alarm.case_id, principal)
    path = photos.photo_path(
        settings.media_dir, alarm.snapshot_key, alarm.snapshot_type, original=False
    )
    if not path.is_file():
        raise NotFound(f"the snapshot of alarm {alarm_id} is missing", field="alarm_id")
    return FileResponse(
        path,
        media_type=alarm.snapshot_type,
        content_disposition_type="inline",
        filename=f"alarm-{alarm_id}{path.suffix}",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@router.get("/sensing/precision", response_class=HTMLResponse)
def precision_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    month: Annotated[Month | None, Query(description="YYYY-MM in city time; all if absent")] = None,
) -> HTMLResponse:
    """Confirmed, rejected, verified and pending alarms and the precision per algorithm (and
    version), device type and month: which detectors to trust."""
    zone = settings.city_time_zone
    rows = precision_service.precision(session, month=month, zone=zone)
    language = page_language(request)
    months = session.scalars(MONTHS, {"zone": zone, "limit": MONTHS_OFFERED}).all()
    context: dict[str, Any] = {
        "rows": rows,
        "month": month,
        "months": months,
        "type_labels": {
            row.device_type: device_type_label(row.device_type, language) for row in rows
        },
        "now": datetime.now(UTC),
    }
    return render(request, "sensing/precision.html", context, principal=principal)


Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
DEVICES_PAGE = 50
DEVICE_STATUS_LABELS = {
    "active": N_("Active"),
    "maintenance": N_("In maintenance"),
    "retired": N_("Retired"),
}
DEVICE_ROWS = text("""
    SELECT d.id, d.device_type, d.name, d.status, d.online, d.last_seen_at,
           cp.code AS component_code, g.name AS cell_name, oc.case_id, oc.number AS case_number,
           oc.alarm_count
    FROM sensing_device d
    LEFT JOIN component cp ON cp.id = d.component_id
    LEFT JOIN grid_cell g ON g.id = d.cell_id
    LEFT JOIN LATERAL (
        SELECT sc.case_id, c.number, sc.alarm_count
        FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
        WHERE sc.device_id = d.id AND c.status = ANY(:open)
        ORDER BY sc.case_id DESC LIMIT 1
    ) oc ON true
    WHERE (CAST(:after AS text) IS NULL OR d.id > CAST(:after AS text))
      AND (CAST(:device_type AS text) IS NULL OR d.device_type = CAST(:device_type AS text))
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:online AS boolean) IS NULL OR d.online = CAST(:online AS boolean))
    ORDER BY d.id LIMIT :limit
""")
DEVICE_COUNT = text("""
    SELECT count(*) FROM sensing_device d
    WHERE (CAST(:device_type AS text) IS NULL OR d.device_type = CAST(:device_type AS text))
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:online AS boolean) IS NULL OR d.online = CAST(:online AS boolean))
""")


@router.get("/admin/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    session: SessionDep,
    principal: Admin,
    device_type: Annotated[DeviceTypeCode | None, Query(alias="type")] = None,
    status: Annotated[DeviceStatus | None, Query()] = None,
    online: Annotated[bool | None, Query()] = None,
    after: Annotated[DeviceId | None, Query(description="the last device of the page")] = None,
) -> HTMLResponse:
    """The devices registry: filtered by type, status and online, in pages by id; each
    device's status can be changed; how to import devices."""
    filters = {"device_type": device_type, "status": status, "online": online}
    params = {**filters, "after": after, "limit": DEVICES_PAGE + 1, "open": OPEN_STATUS_VALUES}
    rows = session.execute(DEVICE_ROWS, params).all()
    language = page_language(request)
    query = urlencode(
        {key: value for key, value in (("type", device_type), ("status", status)) if value}
        | ({"online": str(online).lower()} if online is not None else {})
    )
    context: dict[str, Any] = {
        "devices": rows[:DEVICES_PAGE],
        "next_after": rows[DEVICES_PAGE - 1].id if len(rows) > DEVICES_PAGE else None,
        "total": session.scalar(DEVICE_COUNT, filters),
        "filters": {"type": device_type, "status": status, "online": online},
        "query": query,
        "types": [(code, device_type_label(code, language)) for code in device_types()],
        "statuses": DEVICE_STATUS_LABELS,
        "js_messages": ADMIN_MESSAGES,
    }
    return render(request, "sensing/admin_devices.html", context, principal=principal)


Anyone = Annotated[Principal, Depends(Allow(*Role))]
ALARMS_SHOWN = 20
CASE_REASONS = {"alarm": N_("Filed by the device's alarm"), "offline": N_("Device went offline")}
VERIFICATION_LABELS = {
    "pending": N_("Camera re-detection window open"),
    "passed": N_("Verified by the camera: nothing seen again"),
    "failed": N_("Seen again by the camera: sent back"),
}
ALARM_KINDS = {
    "alarm": N_("Alarm"),
    "recovery": N_("Recovery"),
    "offline": N_("Offline"),
    "online": N_("Back online"),
}
CASE_DEVICE = text("""
    SELECT sc.device_id, sc.reason, sc.event_type, sc.alarm_count, sc.first_alarm_at,
           sc.last_alarm_at, sc.recovered_at, sc.verification, sc.window_start, sc.window_end,
           sc.verification_at, d.device_type, d.name, d.status, d.online, d.last_seen_at,
           cp.code AS component_code
    FROM sensing_case sc JOIN sensing_device d ON d.id = sc.device_id
         LEFT JOIN component cp ON cp.id = d.component_id
    WHERE sc.case_id = :case_id
""")
CASE_ALARMS = text("""
    SELECT id, kind, outcome, at, metric, value, event_type, algorithm, algorithm_version,
           confidence, snapshot_key IS NOT NULL AS has_snapshot
    FROM sensing_alarm WHERE case_id = :case_id
    ORDER BY at DESC, id DESC LIMIT :limit
""")


def visible_case(session: Session, case_id: int, principal: Principal) -> Case:
    case = session.get(Case, case_id)
    if case is None or not case_service.may_see_case(session, case, principal):
        raise NotFound(f"no case {case_id}", field="case_id")
    return case


@router.get("/sensing/cases/{case_id}/device", response_class=HTMLResponse)
def case_device_panel(
    case_id: Annotated[BigRowId, Path()],
    request: Request,
    session: SessionDep,
    principal: Anyone,
) -> HTMLResponse:
    """The case page's device panel (an HTML fragment): the device that filed the case, the
    alarms folded into it, the recovery, the camera's snapshot and verification."""
    visible_case(session, case_id, principal)
    device = session.execute(CASE_DEVICE, {"case_id": case_id}).first()
    if device is None:
        raise NotFound(f"case {case_id} did not come from a device", field="case_id")
    context: dict[str, Any] = {
        "case_id": case_id,
        "device": device,
        "type_label": device_type_label(device.device_type, page_language(request)),
        "alarms": session.execute(CASE_ALARMS, {"case_id": case_id, "limit": ALARMS_SHOWN}).all(),
        "reasons": CASE_REASONS,
        "verifications": VERIFICATION_LABELS,
        "kinds": ALARM_KINDS,
        "event_types": EVENT_TYPES,
        "statuses": DEVICE_STATUS_LABELS,
    }
    return render(request, "sensing/_case_device.html", context, principal=principal)
