"""POST /api/sensing/alarms: video-analytics platforms post detections (X-Api-Key per source)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response

from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.error_responses import error_response
from citygrid.errors import InvalidInput
from citygrid.settings import SettingsDep
from sensing.alarms import video
from sensing.alarms.schemas import VideoAlarmAccepted, VideoAlarmIn
from sensing.sources import service as sources

router = APIRouter(prefix="/api/sensing/alarms", tags=["sensing"], route_class=RoleCheckedRoute)


ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": VideoAlarmAccepted, "description": "A retry: the alarm stored before"},
    403: error_response("The X-Api-Key is missing, unknown or revoked"),
}


@router.post("", status_code=201, dependencies=[Depends(PUBLIC)], responses=ANSWERS)
def post_alarm(
    body: VideoAlarmIn,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    x_api_key: Annotated[
        str | None, Header(max_length=200, description="the source's API key")
    ] = None,
) -> VideoAlarmAccepted:
    """Store a detection once per (source, alarm_id): at or above the source's confidence
    threshold it files a case (or folds into the camera's open one); below it waits for review.
    201 when new, 200 for a retry."""
    source = sources.admitted(session, x_api_key)
    snapshot = None
    if body.snapshot is not None:
        try:
            snapshot = base64.b64decode(body.snapshot, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidInput("snapshot is not base64", field="snapshot") from error
    alarm = video.VideoAlarm(
        alarm_id=body.alarm_id,
        camera_id=body.camera_id,
        algorithm=body.algorithm,
        algorithm_version=body.algorithm_version,
        event_type=body.event_type,
        confidence=body.confidence,
        at=body.time,
        bbox=body.bbox,
        snapshot=snapshot,
    )
    answer = video.receive(session, source, alarm, now=datetime.now(UTC), settings=settings)
    session.commit()
    if answer.replayed:
        response.status_code = 200
    return VideoAlarmAccepted.model_validate(answer, from_attributes=True)
