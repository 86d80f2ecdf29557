"""Devices and their state as a map layer: online, offline, alarm (an open case they filed) or
maintenance; retired devices are left out. Capped like the component layer: an area with
more devices than the cap draws none (the page says so)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from components.service import AREA_CELLS
from events.lifecycle import OPEN_STATUSES


def N_(message: str) -> str:
    """Mark a message for the catalogue (translated where it is shown)."""
    return message


OPEN = sorted(status.value for status in OPEN_STATUSES)
# Drawn in this order in the legend.
DEVICE_STATE_COLOURS = {
    "alarm": "#d73027",
    "offline": "#636363",
    "maintenance": "#fdae61",
    "online": "#1a9850",
}
DEVICE_STATE_LABELS = {
    "alarm": N_("Devices in alarm"),
    "offline": N_("Devices offline"),
    "maintenance": N_("Devices in maintenance"),
    "online": N_("Devices online"),
}
DEVICE_TYPE_LABELS = {
    "manhole_tilt": N_("Manhole-cover tilt sensor"),
    "water_level": N_("Water-level sensor (underpass)"),
    "bin_fill": N_("Litter-bin fill sensor"),
    "lamp_fault": N_("Street-lamp fault monitor"),
    "smoke": N_("Smoke / cooking-fume monitor"),
    "camera": N_("Video-analytics camera"),
}


@dataclass(frozen=True)
class MapDevice:
    id: str
    device_type: str
    name: str | None
    state: str  # a key of DEVICE_STATE_COLOURS
    lon: float
    lat: float
    case_number: str | None  # the open case it filed, if any


def where(area_code: str | None) -> str:
    shown = "d.status <> 'retired'"
    return shown if area_code is None else f"{shown} AND d.cell_id IN ({AREA_CELLS})"


def devices_on_map(
    session: Session, area_code: str | None, *, cap: int
) -> tuple[int, list[MapDevice]]:
    """How many devices the area has, and when that is at most `cap`, each with its state."""
    params = {"area_code": area_code, "open": OPEN, "limit": cap + 1}
    total = int(
        session.scalar(
            text(
                f"SELECT count(*) FROM (SELECT 1 FROM sensing_device d WHERE {where(area_code)}"
                " LIMIT :limit) n"
            ),
            params,
        )
        or 0
    )
    if total > cap or total == 0:
        return total, []
    rows = session.execute(
        text(f"""
            SELECT d.id, d.device_type, d.name, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat,
                   oc.number AS case_number,
                   CASE WHEN d.status = 'maintenance' THEN 'maintenance'
                        WHEN oc.number IS NOT NULL THEN 'alarm'
                        WHEN NOT d.online THEN 'offline' ELSE 'online' END AS state
            FROM sensing_device d
            LEFT JOIN LATERAL (
                SELECT c.number FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
                WHERE sc.device_id = d.id AND sc.reason = 'alarm' AND c.status = ANY(:open)
                ORDER BY sc.case_id DESC LIMIT 1
            ) oc ON true
            WHERE {where(area_code)}
            ORDER BY d.id
        """),
        params,
    ).all()
    return total, [MapDevice(**row._asdict()) for row in rows]
