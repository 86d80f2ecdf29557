"""Demo: the demo district's sensing devices and cameras, and three weeks of their alarms.

Devices are placed set-based from the demo inventory (citygrid.demo.components): tilt sensors
on sewage and storm-water manhole covers, fill sensors on litter bins (both bound to their
component, so their cases go to its maintainer), water-level sensors in four underpasses and
AI cameras at eight crossings, fed by the demo video-analytics platform. Their alarms go
through the real pipeline (`ingest_batch` for the devices, the HTTP alarm service for the
cameras, the review queue, the re-detection verification): some fold into an open case, some
recover, two devices fall silent, doubtful camera alarms are confirmed or rejected by the
dispatcher (a few still wait), and handled camera cases are verified by the camera. The cases
are then dated back to their first alarm. A second load adds nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Principal, Role
from citygrid.settings import Settings, get_settings
from sensing.alarms import offline, verification, video
from sensing.ingest import ingest_batch
from sensing.messages import DeviceMessage
from sensing.models import SensingAlarm, SensingSource
from sensing.review import service as review
from sensing.sources import service as sources

PREFIX = "DEMO-"
SOURCE_CODE = "demo-ai"
DAYS = 21
CAMERA_ALARMS = 60
# event type → (algorithm, version, how often it is right: its confidences' centre)
ALGORITHMS = {
    "exposed_garbage": ("garbage-det", "3.2", 0.84),
    "street_vending": ("vending-det", "2.1", 0.74),
    "overflowing_bin": ("bin-det", "1.4", 0.88),
    "road_occupation": ("occupy-det", "1.0", 0.68),
}
REJECT_REASONS = ("误报：树影遮挡", "误报：正常停放车辆", "误报：施工围挡", "误报：行人驻足")

INSERT_DEVICES = text("""
WITH covers AS (
    SELECT c.id, c.geom, c.cell_id, c.name,
           row_number() OVER (ORDER BY md5(c.code)) AS n
    FROM component c JOIN category cat ON cat.id = c.category_id
    WHERE cat.code IN ('0102', '0103') AND c.status <> 'removed'
    ORDER BY md5(c.code) LIMIT 24
),
bins AS (
    SELECT c.id, c.geom, c.cell_id, c.name,
           row_number() OVER (ORDER BY md5(c.code || 'bin')) AS n
    FROM component c JOIN category cat ON cat.id = c.category_id
    WHERE cat.code = '0305' AND c.status <> 'removed'
    ORDER BY md5(c.code || 'bin') LIMIT 12
),
cells AS (
    SELECT g.id, g.name, ST_PointOnSurface(g.geom) AS point,
           row_number() OVER (ORDER BY md5(g.code)) AS n
    FROM grid_cell g
    ORDER BY md5(g.code) LIMIT 12
)
INSERT INTO sensing_device (id, device_type, name, geom, cell_id, component_id, status,
                            last_seen_at, online)
SELECT 'DEMO-TILT-' || lpad(n::text, 4, '0'), 'manhole_tilt', '井盖倾斜传感器 · ' || name, geom,
       cell_id, id, 'active', :now, true FROM covers
UNION ALL
SELECT 'DEMO-BIN-' || lpad(n::text, 4, '0'), 'bin_fill', '垃圾箱满溢传感器 · ' || name, geom,
       cell_id, id, CASE WHEN n = (SELECT max(n) FROM bins) THEN 'maintenance' ELSE 'active' END,
       :now, true FROM bins
UNION ALL
SELECT 'DEMO-WATER-' || lpad(n::text, 4, '0'), 'water_level', '下穿通道积水监测 · ' || name,
       point, id, NULL, 'active', :now, true FROM cells WHERE n % 3 = 1
UNION ALL
SELECT 'DEMO-CAM-' || lpad(n::text, 4, '0'), 'camera', 'AI摄像机 · ' || name || '路口',
       point, id, NULL, 'active', :now, true FROM cells WHERE n % 3 <> 1
ON CONFLICT (id) DO NOTHING
""")
DEVICE_IDS = text(
    "SELECT id, device_type FROM sensing_device WHERE id LIKE 'DEMO-%' ORDER BY device_type, id"
)
# The cases were filed "now" by intake: date them at their first alarm, as they would be had
# the devices reported live (case history is append-only: its intake rows keep the load's time).
DATE_CASES_BACK = text("""
UPDATE event_case c SET created_at = sc.first_alarm_at
FROM sensing_case sc
WHERE c.id = sc.case_id AND sc.device_id LIKE 'DEMO-%' AND c.created_at > sc.first_alarm_at
""")
HANDLE = text("""
WITH handled AS (
    UPDATE event_case SET status = 'handled', handled_at = :at
    WHERE id = :case_id AND status NOT IN ('handled', 'closed', 'cancelled', 'not_filed')
    RETURNING id, :from_status AS from_status
)
INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, actor_role,
                             reason, at)
SELECT id, 'handle', from_status, 'handled', :actor_id, 'department', :reason, :at FROM handled
""")


@dataclass(frozen=True)
class Devices:
    tilt: list[str]
    bins: list[str]
    water: list[str]
    cameras: list[str]


def snapshot(index: int, event_type: str) -> bytes:
    """A small JPEG standing in for a camera's snapshot: a street scene with the detection box."""
    image = Image.new("RGB", (320, 180), (118 + index % 40, 128, 138))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 120, 320, 180), fill=(90, 90, 95))  # the road
    colour = {"exposed_garbage": (160, 120, 40), "street_vending": (200, 60, 60)}.get(
        event_type, (60, 140, 60)
    )
    left = 40 + (index * 37) % 200
    draw.rectangle((left, 90, left + 60, 140), fill=colour)
    draw.rectangle((left - 4, 86, left + 64, 144), outline=(255, 220, 0), width=3)
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=70)
    return output.getvalue()


def telemetry(
    device_id: str, number: int, at: datetime, metric: str, value: float
) -> DeviceMessage:
    return DeviceMessage(
        device_id=device_id,
        kind="telemetry",
        message_id=f"{device_id}-{number:06d}",
        device_time=at,
        values={metric: value},
        body={},
    )


def alarm(device_id: str, number: int, at: datetime, metric: str, value: float) -> DeviceMessage:
    return DeviceMessage(
        device_id=device_id,
        kind="alarm",
        message_id=f"{device_id}-{number:06d}",
        device_time=at,
        values={metric: value},
        body={},
    )


def device_alarms(session: Session, devices: Devices, now: datetime, settings: Settings) -> None:
    """Tilts (some folded, most recovered), underpass water, full bins: one batch per event."""
    start = now - timedelta(days=DAYS)
    for index, device_id in enumerate(devices.tilt[:-2][:10]):  # the last two fall silent
        at = start + timedelta(days=1.9 * index + 0.3, hours=index % 7)
        messages = [telemetry(device_id, 1, at - timedelta(minutes=5), "tilt_deg", 1.2)]
        messages += [
            telemetry(
                device_id, 2 + step, at + timedelta(seconds=2 * step), "tilt_deg", 18.0 + step
            )
            for step in range(4)
        ]
        ingest_batch(session, messages, now=at + timedelta(seconds=10), settings=settings)
        # Later batches, as the worker would take them: repeat alarms fold into the case (0, 2
        # or 4 of them), then for most the cover is put back.
        for fold in range(index % 3 * 2):
            fold_at = at + timedelta(minutes=10 * (fold + 1))
            repeat = alarm(device_id, 10 + fold, fold_at, "tilt_deg", 21.5)
            ingest_batch(session, [repeat], now=fold_at, settings=settings)
        if index % 4 != 3:
            back_at = at + timedelta(hours=2)
            level = telemetry(device_id, 30, back_at, "tilt_deg", 0.8)
            ingest_batch(session, [level], now=back_at, settings=settings)
    for index, device_id in enumerate(devices.water[:3]):
        at = start + timedelta(days=4 + 6 * index, hours=15)
        levels = (4.0, 17.0, 22.0, 26.0, 31.0, 24.0)
        messages = [
            telemetry(
                device_id, step + 1, at + timedelta(seconds=30 * step), "water_level_cm", level
            )
            for step, level in enumerate(levels)
        ]
        messages.append(telemetry(device_id, 20, at + timedelta(hours=3), "water_level_cm", 2.0))
        ingest_batch(session, messages, now=at + timedelta(hours=3), settings=settings)
    for index, device_id in enumerate(devices.bins[:12]):
        at = start + timedelta(days=1.5 * index + 1, hours=7 + index % 5)
        messages = [
            telemetry(device_id, step + 1, at + timedelta(minutes=3 * step), "fill_pct", fill)
            for step, fill in enumerate((82.0, 93.0, 95.0, 97.0))
        ]
        ingest_batch(session, messages, now=at + timedelta(minutes=10), settings=settings)


def camera_alarms(
    session: Session, devices: Devices, now: datetime, settings: Settings
) -> SensingSource:
    source = session.scalar(select(SensingSource).where(SensingSource.code == SOURCE_CODE))
    if source is None:
        sources.issue(
            session, code=SOURCE_CODE, name="东城区AI视频分析平台（演示）", confidence_threshold=0.8
        )
        source = session.scalar(select(SensingSource).where(SensingSource.code == SOURCE_CODE))
    assert source is not None
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / CAMERA_ALARMS
    event_types = list(ALGORITHMS)
    for index in range(CAMERA_ALARMS):
        event_type = event_types[(index * 7) % len(event_types)]
        algorithm, version, centre = ALGORITHMS[event_type]
        spread = ((index * 37) % 21 - 10) / 40  # −0.25 … +0.25, deterministic
        confidence = round(min(0.99, max(0.41, centre + spread)), 2)
        at = start + step * index + timedelta(minutes=(index * 13) % 50)
        camera = devices.cameras[index % len(devices.cameras)]
        video.receive(
            session,
            source,
            video.VideoAlarm(
                alarm_id=f"DEMO-{index + 1:06d}",
                camera_id=camera,
                algorithm=algorithm,
                algorithm_version=version,
                event_type=event_type,
                confidence=confidence,
                at=at,
                bbox=[0.12 + (index % 5) * 0.1, 0.5, 0.2, 0.3],
                snapshot=snapshot(index, event_type),
            ),
            now=at + timedelta(seconds=5),
            settings=settings,
        )
    return source


def reviews(session: Session, now: datetime, settings: Settings) -> None:
    """The dispatcher went through the queue until two days ago: confirmed one in three."""
    dispatcher = session.scalar(select(User).where(User.username == "dispatcher"))
    if dispatcher is None:  # no demo users: the alarms keep waiting
        return
    principal = Principal(dispatcher.id, "dispatcher", Role.DISPATCHER, None)
    waiting = session.scalars(
        select(SensingAlarm)
        .where(
            SensingAlarm.outcome == "review",
            SensingAlarm.device_id.like(PREFIX + "%"),
            SensingAlarm.at < now - timedelta(days=2),
        )
        .order_by(SensingAlarm.id)
    ).all()
    for index, waiting_alarm in enumerate(waiting):
        when = waiting_alarm.at + timedelta(minutes=25)
        if index % 3 == 0:
            review.confirm(session, waiting_alarm.id, by=principal, now=when, settings=settings)
        else:
            reason = REJECT_REASONS[index % len(REJECT_REASONS)]
            review.reject(session, waiting_alarm.id, by=principal, reason=reason, now=when)


def handle_camera_cases(session: Session, now: datetime, settings: Settings) -> None:
    """Camera cases older than three days were handled a day after filing; the camera's next
    window verified them (two were seen again: rework)."""
    department_user = session.scalar(select(User).where(User.username == "department"))
    rows = session.execute(
        text("""
            SELECT sc.case_id, sc.device_id, sc.event_type, sc.first_alarm_at, c.status
            FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
            WHERE sc.device_id LIKE 'DEMO-CAM-%' AND sc.redetection
              AND sc.first_alarm_at < :before
            ORDER BY sc.case_id
        """),
        {"before": now - timedelta(days=3)},
    ).all()
    handled = []
    for index, row in enumerate(rows):
        if index % 4 == 3:  # still with the department
            continue
        at = row.first_alarm_at + timedelta(days=1)
        session.execute(
            HANDLE,
            {
                "case_id": row.case_id,
                "at": at,
                "from_status": row.status,
                "actor_id": department_user.id if department_user else None,
                "reason": "已现场处置",
            },
        )
        handled.append((row, at))
    if not handled:
        return
    verification.settle_windows(session, min(at for _, at in handled), settings=settings)
    source = session.scalar(select(SensingSource).where(SensingSource.code == SOURCE_CODE))
    assert source is not None
    for number, (row, at) in enumerate(handled[1::5][:2]):  # seen again within the window
        algorithm, version, _ = ALGORITHMS[row.event_type]
        seen_at = at + timedelta(minutes=20)
        video.receive(
            session,
            source,
            video.VideoAlarm(
                alarm_id=f"DEMO-AGAIN-{number + 1:03d}",
                camera_id=row.device_id,
                algorithm=algorithm,
                algorithm_version=version,
                event_type=row.event_type,
                confidence=0.93,
                at=seen_at,
                bbox=None,
                snapshot=snapshot(number + 100, row.event_type),
            ),
            now=seen_at,
            settings=settings,
        )
    verification.settle_windows(session, now, settings=settings)


def load_demo_devices(
    session: Session, *, now: datetime | None = None, settings: Settings | None = None
) -> int:
    """Adds them; returns how many rows it added (0 when already there)."""
    if session.scalar(text("SELECT 1 FROM sensing_device WHERE id LIKE 'DEMO-%' LIMIT 1")):
        return 0
    now = now or datetime.now(UTC)
    settings = settings or get_settings()
    session.execute(INSERT_DEVICES, {"now": now})
    ids = session.execute(DEVICE_IDS).all()
    by_type: dict[str, list[str]] = {}
    for device_id, device_type in ids:
        by_type.setdefault(device_type, []).append(device_id)
    devices = Devices(
        tilt=by_type.get("manhole_tilt", []),
        bins=by_type.get("bin_fill", [])[:-1],  # the last is in maintenance
        water=by_type.get("water_level", []),
        cameras=by_type.get("camera", []),
    )
    device_alarms(session, devices, now, settings)
    if devices.cameras:
        camera_alarms(session, devices, now, settings)
        reviews(session, now, settings)
        handle_camera_cases(session, now, settings)
    # Everything reported lately, except two tilt sensors silent for half a day: offline.
    session.execute(
        text("UPDATE sensing_device SET last_seen_at = :now, online = true WHERE id LIKE 'DEMO-%'"),
        {"now": now - timedelta(minutes=4)},
    )
    silent = devices.tilt[-2:]
    session.execute(
        text("UPDATE sensing_device SET last_seen_at = :at WHERE id = ANY(:ids)"),
        {"at": now - timedelta(hours=12), "ids": silent},
    )
    offline.check_offline(session, now, settings=settings)
    session.execute(DATE_CASES_BACK)
    session.flush()
    return len(ids)
