"""The review queue of low-confidence video alarms and the detectors' precision:
/api/sensing/review, /api/sensing/precision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId, text_matching
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from sensing.alarms.schemas import AlarmRead
from sensing.models import SensingAlarm
from sensing.review import precision as precision_service
from sensing.review import service
from sensing.review.schemas import PrecisionRead, PrecisionReport, Rejection, ReviewPage

router = APIRouter(prefix="/api/sensing", tags=["sensing"], route_class=RoleCheckedRoute)
Dispatcher = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.ADMIN))]
READERS = Depends(Allow(Role.DISPATCHER, Role.ADMIN, Role.MANAGER))
Month = Annotated[str, *text_matching(r"^[0-9]{4}-(0[1-9]|1[0-2])$", "YYYY-MM")]
PAGE_MAX = 200


def alarm_read(alarm: SensingAlarm) -> AlarmRead:
    return AlarmRead(
        id=alarm.id,
        device_id=alarm.device_id,
        source_id=alarm.source_id,
        alarm_id=alarm.message_id,
        event_type=alarm.event_type,
        algorithm=alarm.algorithm,
        algorithm_version=alarm.algorithm_version,
        confidence=alarm.confidence,
        at=alarm.at,
        bbox=alarm.bbox,
        has_snapshot=alarm.snapshot_key is not None,
        outcome=alarm.outcome,
        case_id=alarm.case_id,
    )


@router.get("/review")
def review_queue(
    session: SessionDep,
    principal: Dispatcher,
    after: Annotated[BigRowId | None, Query(description="next_after of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> ReviewPage:
    """Alarms below their source's threshold, oldest first."""
    alarms = service.pending(session, after=after, limit=limit + 1)
    more = len(alarms) > limit
    alarms = alarms[:limit]
    return ReviewPage(
        alarms=[alarm_read(alarm) for alarm in alarms],
        next_after=alarms[-1].id if more and alarms else None,
    )


@router.post("/review/{alarm_id}/confirm")
def confirm(
    alarm_id: Annotated[BigRowId, Path()],
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
) -> AlarmRead:
    """A true alarm: it files a case with its snapshot (or folds into the camera's open one)."""
    alarm = service.confirm(
        session, alarm_id, by=principal, now=datetime.now(UTC), settings=settings
    )
    session.commit()
    return alarm_read(alarm)


@router.post("/review/{alarm_id}/reject")
def reject(
    alarm_id: Annotated[BigRowId, Path()],
    body: Rejection,
    session: SessionDep,
    principal: Dispatcher,
) -> AlarmRead:
    """A false alarm, recorded with its reason (precision counts it)."""
    alarm = service.reject(
        session, alarm_id, by=principal, reason=body.reason, now=datetime.now(UTC)
    )
    session.commit()
    return alarm_read(alarm)


@router.get("/precision", dependencies=[READERS])
def precision(
    session: SessionDep,
    settings: SettingsDep,
    month: Annotated[
        Month | None, Query(description="YYYY-MM in the city's time; all if absent")
    ] = None,
) -> PrecisionReport:
    """Confirmed, rejected, verified and pending alarms and the precision per algorithm
    (and version), device type and month."""
    rows = precision_service.precision(session, month=month, zone=settings.city_time_zone)
    return PrecisionReport(
        month=month,
        rows=[
            PrecisionRead(
                algorithm=row.algorithm,
                algorithm_version=row.algorithm_version,
                device_type=row.device_type,
                month=row.month,
                confirmed=row.confirmed,
                rejected=row.rejected,
                verified=row.verified,
                pending=row.pending,
                precision=row.precision,
            )
            for row in rows
        ],
    )
