"""Reading devices with their place, component and open case (one statement per page)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from events.lifecycle import OPEN_STATUSES
from sensing.devices.schemas import DeviceRead

OPEN = sorted(status.value for status in OPEN_STATUSES)
DEVICES = text("""
    SELECT d.id, d.device_type, d.name, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat,
           g.code AS cell_code, cp.code AS component_code, d.category_id, d.thresholds,
           d.hold_s, d.heartbeat_s, d.status, d.online, d.last_seen_at,
           oc.case_id AS open_case_id, coalesce(oc.alarm_count, 0) AS open_alarm_count
    FROM sensing_device d
    LEFT JOIN grid_cell g ON g.id = d.cell_id
    LEFT JOIN component cp ON cp.id = d.component_id
    LEFT JOIN LATERAL (
        SELECT sc.case_id, sc.alarm_count
        FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
        WHERE sc.device_id = d.id AND c.status = ANY(:open)
        ORDER BY sc.case_id DESC LIMIT 1
    ) oc ON true
    WHERE (CAST(:one AS text) IS NULL OR d.id = CAST(:one AS text))
      AND (CAST(:after AS text) IS NULL OR d.id > CAST(:after AS text))
      AND (CAST(:device_type AS text) IS NULL OR d.device_type = CAST(:device_type AS text))
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
    ORDER BY d.id
    LIMIT :limit
""")


def read_devices(
    session: Session,
    *,
    one: str | None = None,
    after: str | None = None,
    device_type: str | None = None,
    status: str | None = None,
    limit: int = 1,
) -> list[DeviceRead]:
    params = {
        "one": one,
        "after": after,
        "device_type": device_type,
        "status": status,
        "limit": limit,
        "open": OPEN,
    }
    return [DeviceRead.model_validate(row._asdict()) for row in session.execute(DEVICES, params)]
