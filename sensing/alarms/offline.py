"""Devices silent past their heartbeat: each files ONE "device offline" case to its maintainer.

`check_offline` runs periodically (the ingest worker, `citygrid sensing check-offline`): an
active device not seen for `sensing_offline_after_heartbeats` heartbeat intervals (its own, else
its type's) goes offline and files a case through intake, unless an offline case of the device
is still open. A returning message marks it online and notes it on that case (sensing.ingest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import CitygridError
from citygrid.settings import Settings, get_settings
from sensing.alarms import filing
from sensing.device_types import device_types

SILENT = text("""
    SELECT d.id, d.device_type, d.heartbeat_s, coalesce(d.last_seen_at, d.created_at) AS seen
    FROM sensing_device d
    WHERE d.status = 'active' AND d.online
      AND coalesce(d.last_seen_at, d.created_at) < :earliest_cutoff
    ORDER BY d.id
    FOR UPDATE SKIP LOCKED
""")
OPEN_OFFLINE = text("""
    SELECT sc.device_id FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
    WHERE sc.device_id = ANY(:ids) AND sc.reason = 'offline' AND c.status = ANY(:open)
""")


@dataclass
class OfflineResult:
    offline: int = 0
    cases_filed: int = 0
    unfiled: int = 0


def check_offline(
    session: Session, now: datetime, *, settings: Settings | None = None
) -> OfflineResult:
    """Mark silent devices offline and file one offline case each (flushes; the caller commits)."""
    settings = settings or get_settings()
    factor = settings.sensing_offline_after_heartbeats
    shortest = min(kind.heartbeat_s for kind in device_types().values())
    earliest_cutoff = now - _seconds(shortest * factor)
    candidates = session.execute(SILENT, {"earliest_cutoff": earliest_cutoff}).all()
    silent = []
    for row in candidates:
        heartbeat = row.heartbeat_s or device_types()[row.device_type].heartbeat_s
        if row.seen < now - _seconds(heartbeat * factor):
            silent.append(row.id)
    result = OfflineResult()
    if not silent:
        return result
    session.execute(
        text("UPDATE sensing_device SET online = false WHERE id = ANY(:ids)"), {"ids": silent}
    )
    result.offline = len(silent)
    already = set(
        session.scalars(OPEN_OFFLINE, {"ids": silent, "open": filing.OPEN_STATUS_VALUES}).all()
    )
    devices = filing.load_devices(session, [i for i in silent if i not in already])
    for device in devices.values():
        category_id = filing.category_for(session, device)
        if category_id is None:
            result.unfiled += 1
            continue
        stamp = now.isoformat(timespec="seconds")
        try:
            with session.begin_nested():
                filing.file_case(
                    session,
                    device,
                    report_uuid=filing.report_uuid_of(device.id, f"offline@{stamp}"),
                    category_id=category_id,
                    # The case's text is the city's (Chinese), like a person's report.
                    description=f"{device.type.zh} {device.id} 离线：超过心跳周期未上报。",
                    reason="offline",
                    at=now,
                    now=now,
                    settings=settings,
                )
        except CitygridError:
            result.unfiled += 1
            continue
        result.cases_filed += 1
    session.flush()
    return result


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
