"""The review queue: video alarms below their source's confidence threshold wait for a
dispatcher, who confirms one (it files or folds like an automatic one) or rejects it (recorded
as a false alarm with the reason; precision counts it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from citygrid.errors import Conflict, InvalidInput
from citygrid.settings import Settings
from sensing.alarms import filing, video
from sensing.models import SensingAlarm


def pending(session: Session, *, after: int | None, limit: int) -> list[SensingAlarm]:
    """Alarms waiting for review, oldest first, one page after the id `after`."""
    query = select(SensingAlarm).where(SensingAlarm.outcome == "review")
    if after is not None:
        query = query.where(SensingAlarm.id > after)
    return list(session.scalars(query.order_by(SensingAlarm.id).limit(limit)))


def waiting(session: Session, alarm_id: int) -> SensingAlarm:
    alarm = video.get_alarm(session, alarm_id)
    if alarm.outcome != "review":
        raise Conflict(
            f"alarm {alarm_id} is not waiting for review (it was {alarm.outcome})",
            field="alarm_id",
        )
    return alarm


def confirm(
    session: Session, alarm_id: int, *, by: Principal, now: datetime, settings: Settings
) -> SensingAlarm:
    alarm = waiting(session, alarm_id)
    device = filing.load_devices(session, [alarm.device_id])[alarm.device_id]
    alarm.reviewed_by, alarm.reviewed_at = by.user_id, now
    video.act(session, alarm, device, now=now, settings=settings, outcome="confirmed")
    if alarm.outcome == "folded":
        alarm.outcome = "confirmed"
    session.flush()
    return alarm


def reject(
    session: Session, alarm_id: int, *, by: Principal, reason: str, now: datetime
) -> SensingAlarm:
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason", field="reason")
    alarm = waiting(session, alarm_id)
    alarm.outcome = "rejected"
    alarm.reviewed_by, alarm.reviewed_at, alarm.review_reason = by.user_id, now, reason.strip()
    session.flush()
    return alarm
