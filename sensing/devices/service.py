"""The devices registry: register a device, read it, change its status (flushes only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.errors import Conflict, InvalidInput, NotFound
from components.models import Component
from grid import service as grid_service
from grid.geometry import normalise_crs_name
from sensing.device_types import device_types
from sensing.messages import DEVICE_ID
from sensing.models import DEVICE_STATUSES, SensingDevice


@dataclass(frozen=True)
class DeviceSpec:
    """A device to register, as an import row or the API gives it."""

    id: str
    device_type: str
    lon: float
    lat: float
    datum: str = "WGS-84"
    name: str | None = None
    component_code: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    hold_s: float | None = None
    heartbeat_s: int | None = None
    status: str = "active"


def checked(session: Session, spec: DeviceSpec, *, snap_m: float) -> dict[str, Any]:
    """The device's columns; InvalidInput naming the field at fault."""
    if not DEVICE_ID.match(spec.id):
        raise InvalidInput("1–64 letters, digits or . _ : - (starting with one)", field="id")
    kind = device_types().get(spec.device_type)
    if kind is None:
        raise InvalidInput(
            f"unknown device type; one of {', '.join(device_types())}", field="device_type"
        )
    if spec.status not in DEVICE_STATUSES:
        raise InvalidInput(f"one of {', '.join(DEVICE_STATUSES)}", field="status")
    metrics = {rule.metric for rule in kind.thresholds}
    for metric in spec.thresholds:
        if metric not in metrics:
            allowed = ", ".join(sorted(metrics)) or "none"
            raise InvalidInput(
                f"{spec.device_type} has no metric {metric!r} (allowed: {allowed})",
                field="thresholds",
            )
    located = grid_service.locate_one(
        session, spec.lon, spec.lat, crs=normalise_crs_name(spec.datum), snap_m=snap_m
    )
    component_id = None
    if spec.component_code is not None:
        component = session.scalar(select(Component).where(Component.code == spec.component_code))
        if component is None:
            raise InvalidInput(
                f"no component has code {spec.component_code}", field="component_code"
            )
        component_id = component.id
    cell_id = session.scalar(
        text("SELECT id FROM grid_cell WHERE code = :code"), {"code": located.cell.code}
    )
    return {
        "id": spec.id,
        "device_type": spec.device_type,
        "name": spec.name,
        "geom": func.ST_SetSRID(func.ST_MakePoint(located.lon, located.lat), 4326),
        "cell_id": cell_id,
        "component_id": component_id,
        "thresholds": dict(spec.thresholds),
        "hold_s": spec.hold_s,
        "heartbeat_s": spec.heartbeat_s,
        "status": spec.status,
    }


def create_device(session: Session, spec: DeviceSpec, *, snap_m: float) -> SensingDevice:
    if session.get(SensingDevice, spec.id) is not None:
        raise Conflict(f"device {spec.id} is already registered", field="id")
    device = SensingDevice(**checked(session, spec, snap_m=snap_m))
    session.add(device)
    session.flush()
    return device


def get_device(session: Session, device_id: str) -> SensingDevice:
    device = session.get(SensingDevice, device_id)
    if device is None:
        raise NotFound(f"no device has id {device_id}", field="device_id")
    return device


def set_status(session: Session, device_id: str, status: str, *, now: datetime) -> SensingDevice:
    if status not in DEVICE_STATUSES:
        raise InvalidInput(f"one of {', '.join(DEVICE_STATUSES)}", field="status")
    device = get_device(session, device_id)
    device.status = status
    device.updated_at = now
    session.flush()
    return device
