"""A device's alarm files a case through the same intake as a person's report, and later alarms
fold into it as further reports; notes (recovery, device back online) go on its history.

Intake's INTAKE statement is async (it runs on the request's event loop); the ingest worker
writes through a Session inside its own transaction, so `run_intake` is driven here with a
writer that executes on the Session and never suspends (no commit: the worker commits the whole
batch, then acknowledges it).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.passwords import hash_password
from citygrid.accounts.roles import Principal, Role
from citygrid.errors import CitygridError
from citygrid.settings import Settings
from dispatch.actions import service as actions
from dispatch.rules import routing
from events.cases.schemas import CaseActionBody
from events.intake import service as intake
from events.intake.schemas import ReportCreate
from events.lifecycle import OPEN_STATUSES, CaseAction, CaseStatus
from events.photos.service import StoredPhoto
from events.recurrence import service as recurrence
from grid.geometry import WGS84
from sensing.device_types import CategoryRef, DeviceType, device_types

logger = logging.getLogger(__name__)
T = TypeVar("T")
REPORT_NAMESPACE = uuid.UUID("8f7c0b2a-51d4-4e0a-9b53-6a1e2f3c4d5e")
OPEN_STATUS_VALUES = sorted(status.value for status in OPEN_STATUSES)
ACTOR_ROLE = "sensing"  # history rows written by the sensing layer (no person acted)


def report_uuid_of(device_id: str, message_id: str, source_id: int | None = None) -> uuid.UUID:
    """The report UUID of an alarm: a replayed alarm is the same report, never a second case."""
    origin = f"http/{source_id}" if source_id is not None else "mqtt"
    return uuid.uuid5(REPORT_NAMESPACE, f"{origin}/{device_id}/{message_id}")


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its writer executes synchronously) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the intake coroutine suspended; it must not with a Session writer")


class SessionStatements:
    """Intake's statements on the worker's Session, inside its transaction (no commit)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def execute(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        result = self.session.connection().exec_driver_sql(sql, params)
        return result.all() if result.returns_rows else []


@dataclass(frozen=True)
class Device:
    """A device as ingest needs it (DEVICES' row)."""

    id: str
    device_type: str
    status: str
    lon: float
    lat: float
    component_id: int | None
    component_category_id: int | None
    category_id: int | None
    thresholds: dict[str, Any]
    hold_s: float | None
    heartbeat_s: int | None
    online: bool

    @property
    def type(self) -> DeviceType:
        return device_types()[self.device_type]


DEVICES = text("""
    SELECT d.id, d.device_type, d.status, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat,
           d.component_id, cp.category_id AS component_category_id, d.category_id,
           d.thresholds, d.hold_s, d.heartbeat_s, d.online
    FROM sensing_device d LEFT JOIN component cp ON cp.id = d.component_id
    WHERE d.id = ANY(:ids)
""")
CATEGORY_ID = text("""
    SELECT id FROM category
    WHERE kind = :kind AND code = :code AND standard = :standard AND level = 'minor'
""")


def load_devices(session: Session, ids: Sequence[str]) -> dict[str, Device]:
    rows = session.execute(DEVICES, {"ids": list(ids)}).all()
    return {row.id: Device(**row._asdict()) for row in rows}


def category_id_of(session: Session, ref: CategoryRef) -> int | None:
    found = session.execute(
        CATEGORY_ID, {"kind": ref.kind, "code": ref.code, "standard": ref.standard}
    ).scalar()
    return int(found) if found is not None else None


def category_for(
    session: Session,
    device: Device,
    event_type: str | None = None,
    found: dict[CategoryRef, int | None] | None = None,
) -> int | None:
    """The category the device's cases file as: its own, else (for a type that says so) its
    component's, else the camera event type's, else the type's default. `found`: the
    categories looked up so far (a batch asks for the same few many times)."""
    if device.category_id is not None:
        return device.category_id
    kind = device.type
    if kind.category_from_component and device.component_category_id is not None:
        return device.component_category_id
    if event_type is not None and event_type in kind.event_types:
        ref = kind.event_types[event_type].category
    else:
        ref = kind.category
    if found is None:
        return category_id_of(session, ref)
    if ref not in found:
        found[ref] = category_id_of(session, ref)
    return found[ref]


@dataclass(frozen=True)
class Filed:
    case_id: int
    report_id: int
    replayed: bool


def file_case(
    session: Session,
    device: Device,
    *,
    report_uuid: uuid.UUID,
    category_id: int,
    description: str,
    reason: str,
    at: datetime,
    now: datetime,
    settings: Settings,
    event_type: str | None = None,
    redetection: bool = False,
    snapshots: Sequence[StoredPhoto] = (),
    dispatch_now: bool = True,
) -> Filed:
    """File the alarm as a report through intake (channel sensor or video), bind the case to
    the device's component, route it (the component's maintainer decides) and remember it as
    the device's case. A replayed UUID answers the earlier case. CitygridError when intake
    refuses (the device outside the grid, a retired category).

    With `sensing_auto_dispatch` the case is also filed (立案) and dispatched by the sensing
    account: at once, or with `dispatch_now=False` later by `dispatch_owed` (the ingest
    worker's filing path, where a case should exist as soon as possible: the case is marked
    `dispatch_owed` in the same transaction, so the debt survives a crash)."""
    report = ReportCreate(
        report_uuid=report_uuid,
        category_id=category_id,
        lon=device.lon,
        lat=device.lat,
        description=description[: settings.description_max_chars],
    )
    answer = drive(
        intake.run_intake(
            SessionStatements(session),
            report,
            intake.Point(device.lon, device.lat, WGS84),
            wgs84=(device.lon, device.lat),
            reporter=None,
            stored=list(snapshots),
            settings=settings,
            channel=device.type.channel,
        )
    )
    if answer.earlier is not None:
        return Filed(answer.earlier.case_id, answer.earlier.report_id, True)
    accepted = intake._accepted(answer, report, (device.lon, device.lat), settings)
    if accepted is None:
        raise CitygridError(f"intake filed no case for device {device.id}")
    case_id = accepted.case_id
    drive(recurrence.link_at_intake(SessionStatements(session), case_id))
    if device.component_id is not None:
        session.execute(
            text("""
                UPDATE event_case SET component_id = :component_id, component_match = 'confirmed',
                       component_distance_m = 0
                WHERE id = :case_id AND component_id IS DISTINCT FROM :component_id
            """),
            {"case_id": case_id, "component_id": device.component_id},
        )
    session.execute(
        text("""
            INSERT INTO sensing_case (case_id, device_id, reason, event_type, alarm_count,
                                      first_alarm_at, last_alarm_at, redetection, dispatch_owed)
            VALUES (:case_id, :device_id, :reason, :event_type, 1, :at, :at, :redetection,
                    :owed)
            ON CONFLICT (case_id) DO NOTHING
        """),
        {
            "case_id": case_id,
            "device_id": device.id,
            "reason": reason,
            "event_type": event_type,
            "at": at,
            "redetection": redetection,
            "owed": settings.sensing_auto_dispatch and not dispatch_now,
        },
    )
    if settings.sensing_auto_dispatch and not dispatch_now:
        pass  # `dispatch_owed` files and dispatches it (the FILE action routes it then)
    elif settings.sensing_auto_dispatch:
        file_and_dispatch(session, case_id, now=now, settings=settings)
    else:
        routing.decide_routes(session, [case_id], at=now)
    return Filed(case_id, accepted.report_id, False)


SERVICE_ACCOUNT = "citygrid-sensing"
ADD_SERVICE_ACCOUNT = text("""
    INSERT INTO app_user (username, display_name, password_hash, role, is_active)
    VALUES (:username, :display_name, :password_hash, 'dispatcher', false)
    ON CONFLICT (username) DO NOTHING
""")


def service_principal(session: Session) -> Principal:
    """The account device cases are filed and dispatched as: a dispatcher nobody signs in with
    (inactive, a random password), so the history says who acted and the rules' role checks
    hold. Made on first use (racing workers share it; the slow hash only then)."""
    find = select(User.id).where(User.username == SERVICE_ACCOUNT)
    user_id = session.scalar(find)
    if user_id is None:
        session.execute(
            ADD_SERVICE_ACCOUNT,
            {
                "username": SERVICE_ACCOUNT,
                "display_name": "感知系统 (sensing)",
                "password_hash": hash_password(secrets.token_urlsafe(32)),
            },
        )
        user_id = session.scalar(find)
    assert user_id is not None
    return Principal(int(user_id), SERVICE_ACCOUNT, Role.DISPATCHER, None)


def file_and_dispatch(session: Session, case_id: int, *, now: datetime, settings: Settings) -> None:
    """File the device's case (the FILE action routes it, and dispatches it where the rules
    say so), then dispatch it to the routed department if it is still waiting: an alarm above
    its threshold needs no dispatcher's judgement (the review queue is for the ones below)."""
    principal = service_principal(session)
    window = timedelta(days=settings.reopen_window_days)
    calendar = settings.default_calendar_code
    case = actions.act_on_case(
        session,
        case_id,
        CaseAction.FILE,
        principal,
        CaseActionBody(),
        now,
        reopen_window=window,
        default_calendar_code=calendar,
        auto=True,
    )
    if case.status != CaseStatus.FILED:
        return  # dispatched by the rules already
    decision = routing.latest_decisions(session, [case_id]).get(case_id)
    if decision is None or decision.department_code is None:
        return  # no rule names a department: the dispatchers choose
    actions.act_on_case(
        session,
        case_id,
        CaseAction.DISPATCH,
        principal,
        CaseActionBody(department_code=decision.department_code),
        now,
        reopen_window=window,
        default_calendar_code=calendar,
        auto=True,
    )


# One dispatcher at a time; the sensing_case rows are not locked while the actions run (the
# ingest's folds lock them to count their alarms and must not wait for a dispatch).
DISPATCH_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('citygrid.sensing.dispatch'))")
OWED_DISPATCH = text("""
    SELECT sc.case_id, c.status FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
    WHERE sc.dispatch_owed ORDER BY sc.case_id LIMIT :limit
""")


def dispatch_owed(session: Session, *, now: datetime, settings: Settings, limit: int) -> int:
    """File (立案) and dispatch up to `limit` device cases that owe it; how many were owed
    (0 while another transaction does it). A case somebody acted on meanwhile (no longer
    reported) is left as it is. Flushes only."""
    if not session.scalar(DISPATCH_LOCK):
        return 0
    rows = session.execute(OWED_DISPATCH, {"limit": limit}).all()
    if not rows:
        return 0
    for row in rows:
        if row.status != CaseStatus.REPORTED:
            continue
        try:
            with session.begin_nested():
                file_and_dispatch(session, row.case_id, now=now, settings=settings)
        except CitygridError as error:  # a rule refuses: the dispatchers decide, as for people
            logger.warning(
                "sensing: device case %s was not filed and dispatched (%s)",
                row.case_id,
                error.message,
            )
    session.execute(
        text("UPDATE sensing_case SET dispatch_owed = false WHERE case_id = ANY(:ids)"),
        {"ids": [row.case_id for row in rows]},
    )
    session.flush()
    return len(rows)


NOTES = text("""
    INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, actor_role,
                                 reason, details, at)
    SELECT n.case_id, n.action, c.status, c.status, NULL, :role, n.reason,
           CAST(n.details AS jsonb), n.at
    FROM unnest(CAST(:case_ids AS bigint[]), CAST(:actions AS text[]), CAST(:reasons AS text[]),
                CAST(:details AS text[]), CAST(:ats AS timestamptz[]))
         AS n(case_id, action, reason, details, at)
    JOIN event_case c ON c.id = n.case_id
""")


@dataclass(frozen=True)
class Note:
    """A history row on a case that does not move it: sensor_recovery, sensor_online, …"""

    case_id: int
    action: str
    reason: str
    details: str  # JSON text
    at: datetime


def add_notes(session: Session, notes: Sequence[Note]) -> None:
    if not notes:
        return
    session.execute(
        NOTES,
        {
            "role": ACTOR_ROLE,
            "case_ids": [note.case_id for note in notes],
            "actions": [note.action for note in notes],
            "reasons": [note.reason for note in notes],
            "details": [note.details for note in notes],
            "ats": [note.at for note in notes],
        },
    )


def refused_text(error: CitygridError) -> str:
    return error.message
