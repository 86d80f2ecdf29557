"""Alarms posted by video-analytics platforms (POST /api/sensing/alarms), once per (source,
alarm id): at or above the source's confidence threshold an alarm files a case with its
snapshot as the photo (or folds into the camera's open case of that event type); below, it
waits for a dispatcher's review. The snapshot is stored as report photos are (events.photos:
the original kept private, a public copy without EXIF)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.errors import CitygridError, InvalidInput, NotFound
from citygrid.settings import Settings
from events.models import CasePhoto, Report
from events.photos import service as photos
from sensing.alarms import filing, verification
from sensing.alarms.filing import Device
from sensing.models import SensingAlarm, SensingCase, SensingDevice, SensingSource

OPEN_CASE = text("""
    SELECT c.id, c.status FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
    WHERE sc.device_id = :device_id AND sc.reason = 'alarm'
      AND sc.event_type IS NOT DISTINCT FROM :event_type
      AND c.status = ANY(:open) AND c.merged_into_id IS NULL
    ORDER BY c.created_at DESC, c.id DESC LIMIT 1
""")


@dataclass(frozen=True)
class VideoAlarm:
    alarm_id: str
    camera_id: str
    algorithm: str
    algorithm_version: str
    event_type: str
    confidence: float
    at: datetime
    bbox: list[float] | None
    snapshot: bytes | None


@dataclass(frozen=True)
class AlarmAnswer:
    id: int
    outcome: str
    case_id: int | None
    replayed: bool


def existing(session: Session, source_id: int, alarm_id: str) -> SensingAlarm | None:
    return session.scalar(
        select(SensingAlarm).where(
            SensingAlarm.source_id == source_id, SensingAlarm.message_id == alarm_id
        )
    )


def answer_of(alarm: SensingAlarm, *, replayed: bool) -> AlarmAnswer:
    return AlarmAnswer(alarm.id, alarm.outcome, alarm.case_id, replayed)


def camera_of(session: Session, camera_id: str, event_type: str) -> Device:
    device = filing.load_devices(session, [camera_id]).get(camera_id)
    if device is None:
        raise InvalidInput(f"no device has id {camera_id}", field="camera_id")
    if device.status == "retired":
        raise InvalidInput(f"device {camera_id} is retired", field="camera_id")
    if event_type not in device.type.event_types:
        known = ", ".join(device.type.event_types) or "none"
        raise InvalidInput(
            f"device {camera_id} ({device.device_type}) detects no {event_type} (known: {known})",
            field="event_type",
        )
    return device


def receive(
    session: Session,
    source: SensingSource,
    alarm: VideoAlarm,
    *,
    now: datetime,
    settings: Settings,
) -> AlarmAnswer:
    """Store the alarm once and act on it (flushes; the route commits)."""
    earlier = existing(session, source.id, alarm.alarm_id)
    if earlier is not None:
        return answer_of(earlier, replayed=True)
    device = camera_of(session, alarm.camera_id, alarm.event_type)
    stored: list[photos.StoredPhoto] = []
    if alarm.snapshot is not None:
        checked = photos.checked_photo(alarm.snapshot, label="snapshot")
        if len(alarm.snapshot) > settings.photo_max_bytes:
            raise InvalidInput(
                f"snapshot is larger than {settings.photo_max_bytes} bytes", field="snapshot"
            )
        stored = [photos.store(checked, settings.media_dir)]
    try:
        row = SensingAlarm(
            device_id=device.id,
            source_id=source.id,
            message_id=alarm.alarm_id,
            kind="alarm",
            outcome="review",
            at=alarm.at,
            received_at=now,
            event_type=alarm.event_type,
            algorithm=alarm.algorithm,
            algorithm_version=alarm.algorithm_version,
            confidence=alarm.confidence,
            bbox=alarm.bbox,
            **snapshot_columns(stored),
        )
        with session.begin_nested():
            session.add(row)
            session.flush()
        seen(session, device.id, now)
        if alarm.confidence >= source.confidence_threshold:
            act(session, row, device, now=now, settings=settings, outcome="filed")
    except BaseException:
        photos.discard(stored)
        raise
    session.flush()
    return answer_of(row, replayed=False)


def snapshot_columns(stored: list[photos.StoredPhoto]) -> dict[str, object]:
    if not stored:
        return {}
    photo = stored[0]
    return {
        "snapshot_key": photo.storage_key,
        "snapshot_type": photo.content_type,
        "snapshot_size": photo.size_bytes,
        "snapshot_sha256": photo.sha256,
    }


def stored_snapshot(alarm: SensingAlarm) -> list[photos.StoredPhoto]:
    if alarm.snapshot_key is None or alarm.snapshot_type is None:
        return []
    return [
        photos.StoredPhoto(
            storage_key=alarm.snapshot_key,
            content_type=alarm.snapshot_type,
            size_bytes=alarm.snapshot_size or 0,
            sha256=alarm.snapshot_sha256 or "",
            paths=(),
        )
    ]


def seen(session: Session, device_id: str, now: datetime) -> None:
    session.execute(
        text("""UPDATE sensing_device SET last_seen_at = greatest(last_seen_at, :now),
                online = true WHERE id = :id"""),
        {"id": device_id, "now": now},
    )


def act(
    session: Session,
    alarm: SensingAlarm,
    device: Device,
    *,
    now: datetime,
    settings: Settings,
    outcome: str,
) -> None:
    """Fold the alarm into the camera's open case of its event type (a detection while the case
    is handled fails its re-detection check), else file a case with the snapshot as its photo.
    `outcome` is what a filing is recorded as: filed (automatic) or confirmed (reviewed)."""
    found = session.execute(
        OPEN_CASE,
        {"device_id": device.id, "event_type": alarm.event_type, "open": filing.OPEN_STATUS_VALUES},
    ).first()
    if found is not None:
        fold(session, alarm, device, found.id, now=now)
        alarm.outcome = "folded" if outcome == "filed" else outcome
        verification.fail_on_detection(
            session, found.id, alarm_id=alarm.id, at=alarm.at, now=now, settings=settings
        )
        session.flush()
        return
    category_id = filing.category_for(session, device, alarm.event_type)
    if category_id is None:
        alarm.outcome = "unfiled"
        return
    kind = device.type.event_types.get(alarm.event_type or "")
    description = (
        f"视频分析告警：{alarm.event_type}，摄像机 {device.id}，算法 {alarm.algorithm} "
        f"{alarm.algorithm_version}，置信度 {alarm.confidence:.2f}。"
    )
    try:
        with session.begin_nested():
            filed = filing.file_case(
                session,
                device,
                report_uuid=filing.report_uuid_of(device.id, alarm.message_id, alarm.source_id),
                category_id=category_id,
                description=description,
                reason="alarm",
                at=alarm.at,
                now=now,
                settings=settings,
                event_type=alarm.event_type,
                redetection=kind is not None and kind.redetection,
                snapshots=stored_snapshot(alarm),
            )
    except CitygridError:
        alarm.outcome = "unfiled"
        session.flush()
        return
    alarm.case_id, alarm.report_id, alarm.outcome = filed.case_id, filed.report_id, outcome
    session.flush()


def fold(
    session: Session, alarm: SensingAlarm, device: Device, case_id: int, *, now: datetime
) -> None:
    """The alarm as a further report on the case, its snapshot as a photo, counted."""
    geom = session.scalar(select(SensingDevice.geom).where(SensingDevice.id == device.id))
    report = Report(
        report_uuid=filing.report_uuid_of(device.id, alarm.message_id, alarm.source_id),
        case_id=case_id,
        original_case_id=case_id,
        channel=device.type.channel,
        geom=geom,
        description=f"视频分析再次检出 {alarm.event_type} (detected again), {alarm.confidence:.2f}",
    )
    session.add(report)
    session.flush()
    for photo in stored_snapshot(alarm):
        session.add(
            CasePhoto(
                case_id=case_id,
                report_id=report.id,
                storage_key=photo.storage_key,
                content_type=photo.content_type,
                size_bytes=photo.size_bytes,
                sha256=photo.sha256,
            )
        )
    alarm.case_id, alarm.report_id = case_id, report.id
    sensing_case = session.get(SensingCase, case_id)
    if sensing_case is not None:
        sensing_case.alarm_count += 1
        sensing_case.last_alarm_at = max(sensing_case.last_alarm_at, alarm.at)
    session.flush()


def get_alarm(session: Session, alarm_id: int) -> SensingAlarm:
    alarm = session.get(SensingAlarm, alarm_id)
    if alarm is None:
        raise NotFound(f"no alarm has id {alarm_id}", field="alarm_id")
    return alarm
