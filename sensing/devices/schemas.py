"""Shapes of the devices API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from citygrid.api_types import text_matching
from sensing.device_types import device_types

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
DeviceId = Annotated[
    str, *text_matching(DEVICE_ID_PATTERN, "1-64 letters, digits or . _ : - (starting with one)")
]
DeviceStatus = Literal["active", "maintenance", "retired"]
DEVICE_TYPE_PATTERN = "^(" + "|".join(device_types()) + ")$"
DeviceTypeCode = Annotated[
    str, *text_matching(DEVICE_TYPE_PATTERN, "one of " + ", ".join(device_types()))
]
Datum = Literal["WGS-84", "GCJ-02", "BD-09"]
MetricName = Annotated[str, Field(min_length=1, max_length=64)]


class DeviceCreate(BaseModel):
    id: DeviceId
    device_type: DeviceTypeCode
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    datum: Datum = "WGS-84"
    name: str | None = Field(default=None, max_length=200)
    component_code: str | None = Field(default=None, pattern=r"^[0-9]{16,17}$")
    thresholds: dict[MetricName, Annotated[float, Field(ge=-1e9, le=1e9)]] = Field(
        default={}, description="overrides of the type's thresholds, by metric"
    )
    hold_s: Annotated[float, Field(ge=0, le=86_400)] | None = None
    heartbeat_s: Annotated[int, Field(ge=1, le=2_592_000)] | None = None
    status: DeviceStatus = "active"


class DeviceStatusChange(BaseModel):
    status: DeviceStatus


class DeviceRead(BaseModel):
    id: str
    device_type: str
    name: str | None
    lon: float
    lat: float
    cell_code: str | None
    component_code: str | None
    category_id: int | None
    thresholds: dict[str, float]
    hold_s: float | None
    heartbeat_s: int | None
    status: str
    online: bool
    last_seen_at: datetime | None
    open_case_id: int | None = Field(description="the device's newest open case, if any")
    open_alarm_count: int = Field(description="alarms folded into that case")


class DevicePage(BaseModel):
    devices: list[DeviceRead]
    next_after: str | None = Field(description="give it as `after` for the next page")
