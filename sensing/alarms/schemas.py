"""The HTTP alarm a video-analytics platform posts, and the answer."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from citygrid.api_types import AwareDateTime, text_matching
from citygrid.settings import Settings
from sensing.device_types import device_types
from sensing.devices.schemas import DeviceId

EVENT_TYPES = sorted({name for kind in device_types().values() for name in kind.event_types})
EventType = Annotated[
    str, *text_matching("^(" + "|".join(EVENT_TYPES) + ")$", "one of " + ", ".join(EVENT_TYPES))
]
PHOTO_MAX: int = Settings.model_fields["photo_max_bytes"].default
BASE64_MAX = 4 * math.ceil(PHOTO_MAX / 3)
BASE64_PATTERN = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Fraction = Annotated[float, Field(ge=0, le=1)]


class VideoAlarmIn(BaseModel):
    """One detection of a video-analytics platform (JSON; the snapshot in base64)."""

    alarm_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="the platform's id of the alarm: a retry sends it again (stored once)",
    )
    camera_id: DeviceId = Field(description="the camera as registered (a device of type camera)")
    algorithm: str = Field(min_length=1, max_length=64)
    algorithm_version: str = Field(min_length=1, max_length=32)
    event_type: EventType
    confidence: Fraction
    time: AwareDateTime = Field(description="when the camera saw it")
    bbox: list[Fraction] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="x, y, width, height as fractions of the snapshot",
    )
    snapshot: str | None = Field(
        default=None,
        max_length=BASE64_MAX,
        pattern=BASE64_PATTERN,
        description="the snapshot, a JPEG, PNG or WebP image in base64 (EXIF is removed from "
        "the copy shown to the public)",
    )


class VideoAlarmAccepted(BaseModel):
    id: int
    outcome: Literal[
        "filed", "folded", "review", "confirmed", "rejected", "unfiled", "damped", "maintenance"
    ]
    case_id: int | None
    replayed: bool = Field(description="true when this (source, alarm_id) was received before")


class AlarmRead(BaseModel):
    """An alarm in the review queue."""

    id: int
    device_id: str
    source_id: int | None
    alarm_id: str
    event_type: str | None
    algorithm: str | None
    algorithm_version: str | None
    confidence: float | None
    at: datetime
    bbox: list[float] | None
    has_snapshot: bool
    outcome: str
    case_id: int | None
