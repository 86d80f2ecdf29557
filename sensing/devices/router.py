"""Admin JSON API of the devices registry: list (keyset pages by id), read, register, change
status. /api/sensing/devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import Settings, SettingsDep
from sensing.devices import service
from sensing.devices.queries import read_devices
from sensing.devices.schemas import (
    DeviceCreate,
    DeviceId,
    DevicePage,
    DeviceRead,
    DeviceStatus,
    DeviceStatusChange,
    DeviceTypeCode,
)

router = APIRouter(prefix="/api/sensing/devices", tags=["sensing"], route_class=RoleCheckedRoute)
ADMIN = Depends(Allow(Role.ADMIN))
READERS = Depends(Allow(Role.ADMIN, Role.DISPATCHER, Role.MANAGER))
PAGE_MAX: int = Settings.model_fields["sensing_devices_page_max"].default


@router.get("", dependencies=[READERS])
def list_devices(
    session: SessionDep,
    settings: SettingsDep,
    after: Annotated[DeviceId | None, Query(description="next_after of the previous page")] = None,
    device_type: Annotated[DeviceTypeCode | None, Query()] = None,
    status: Annotated[DeviceStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
) -> DevicePage:
    """Devices in id order, one page after `after`, with their open case and alarm count."""
    if limit > settings.sensing_devices_page_max:
        raise InvalidInput(
            f"limit may be at most {settings.sensing_devices_page_max}", field="limit"
        )
    devices = read_devices(
        session, after=after, device_type=device_type, status=status, limit=limit + 1
    )
    more = len(devices) > limit
    devices = devices[:limit]
    return DevicePage(devices=devices, next_after=devices[-1].id if more and devices else None)


@router.get("/{device_id}", dependencies=[READERS])
def get_device(device_id: Annotated[DeviceId, Path()], session: SessionDep) -> DeviceRead:
    found = read_devices(session, one=device_id)
    if not found:
        raise NotFound(f"no device has id {device_id}", field="device_id")
    return found[0]


@router.post("", status_code=201, dependencies=[ADMIN])
def create_device(body: DeviceCreate, session: SessionDep, settings: SettingsDep) -> DeviceRead:
    """Register a device: located in its cell, bound to its component by code."""
    spec = service.DeviceSpec(**body.model_dump())
    service.create_device(session, spec, snap_m=settings.locate_snap_m)
    session.commit()
    return read_devices(session, one=body.id)[0]


@router.patch("/{device_id}", dependencies=[ADMIN])
def change_status(
    device_id: Annotated[DeviceId, Path()], body: DeviceStatusChange, session: SessionDep
) -> DeviceRead:
    """Active, maintenance (alarms stored, no case filed) or retired (messages refused)."""
    service.set_status(session, device_id, body.status, now=datetime.now(UTC))
    session.commit()
    return read_devices(session, one=device_id)[0]
