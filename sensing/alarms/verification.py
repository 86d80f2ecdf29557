"""Video re-detection as the on-site check (核查) of a case a camera filed.

When such a case is handled, the camera's next detection window (from the handling, for
`sensing_redetection_window_minutes`) decides the verification where the event type allows it
(device_types.yaml, `redetection`): a detection of the same type by the same camera within the
window fails it at once (rework, the detection as evidence); a window that ends without one
passes it (closed, the empty window as evidence). Nothing in the case workflow was changed for
this: `settle_windows` (run by the worker or the scheduler) opens a window for each handled
camera case it finds, and settles the windows that ended; a detection that arrives meanwhile
fails the check through `fail_on_detection`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from citygrid.settings import Settings, get_settings
from dispatch.actions import service as actions
from events.cases import service as cases
from events.cases.schemas import CaseActionBody
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, CaseTransition
from sensing.alarms.filing import ACTOR_ROLE
from sensing.models import SensingCase

# The effects of verify_pass / verify_fail read only the clock and the calendar from the
# context; the history row names no user (actor_role 'sensing').
SYSTEM = Principal(0, "sensing", Role.INSPECTOR, None)

OPEN_WINDOWS = text("""
    UPDATE sensing_case sc SET window_start = c.handled_at,
           window_end = c.handled_at + make_interval(secs => :window_s), verification = 'pending'
    FROM event_case c
    WHERE c.id = sc.case_id AND sc.redetection AND c.status = 'handled'
      AND c.handled_at IS NOT NULL
      AND (sc.verification IS NULL OR sc.window_start IS DISTINCT FROM c.handled_at)
    RETURNING sc.case_id
""")
ENDED = text("""
    SELECT sc.case_id, sc.device_id, sc.event_type, sc.window_start, sc.window_end
    FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
    WHERE sc.verification = 'pending' AND sc.window_end <= :now AND c.status = 'handled'
    ORDER BY sc.case_id
""")
DETECTIONS = text("""
    SELECT id FROM sensing_alarm
    WHERE device_id = :device_id AND kind = 'alarm' AND event_type IS NOT DISTINCT FROM :event_type
      AND at >= :start AND at < :end AND outcome <> 'rejected'
    ORDER BY at, id
""")


@dataclass
class SettleResult:
    opened: int = 0
    passed: int = 0
    failed: int = 0


def settle_windows(
    session: Session, now: datetime, *, settings: Settings | None = None
) -> SettleResult:
    """Open the windows of newly handled camera cases and decide those that ended (flushes)."""
    settings = settings or get_settings()
    window_s = settings.sensing_redetection_window_minutes * 60
    result = SettleResult(opened=len(session.execute(OPEN_WINDOWS, {"window_s": window_s}).all()))
    for row in session.execute(ENDED, {"now": now}).all():
        detections = session.scalars(
            DETECTIONS,
            {
                "device_id": row.device_id,
                "event_type": row.event_type,
                "start": row.window_start,
                "end": row.window_end,
            },
        ).all()
        evidence = {
            "device_id": row.device_id,
            "event_type": row.event_type,
            "window_start": row.window_start.isoformat(),
            "window_end": row.window_end.isoformat(),
            "detections": len(detections),
            "alarm_ids": list(detections),
        }
        if detections:
            decide(
                session, row.case_id, passed=False, evidence=evidence, now=now, settings=settings
            )
            result.failed += 1
        else:
            decide(session, row.case_id, passed=True, evidence=evidence, now=now, settings=settings)
            result.passed += 1
    session.flush()
    return result


def fail_on_detection(
    session: Session,
    case_id: int,
    *,
    alarm_id: int,
    at: datetime,
    now: datetime,
    settings: Settings,
) -> bool:
    """A detection by the camera of a handled case, within (or opening) its window: rework now.
    Whether the verification was decided by it."""
    sensing_case = session.get(SensingCase, case_id)
    case = session.get(Case, case_id)
    if sensing_case is None or case is None or not sensing_case.redetection:
        return False
    if case.status != CaseStatus.HANDLED or case.handled_at is None or at < case.handled_at:
        return False
    end = case.handled_at + timedelta(minutes=settings.sensing_redetection_window_minutes)
    if at >= end:
        return False
    evidence = {
        "device_id": sensing_case.device_id,
        "event_type": sensing_case.event_type,
        "window_start": case.handled_at.isoformat(),
        "window_end": end.isoformat(),
        "detections": 1,
        "alarm_ids": [alarm_id],
    }
    sensing_case.window_start, sensing_case.window_end = case.handled_at, end
    decide(session, case_id, passed=False, evidence=evidence, now=now, settings=settings)
    return True


def decide(
    session: Session,
    case_id: int,
    *,
    passed: bool,
    evidence: dict[str, Any],
    now: datetime,
    settings: Settings,
) -> None:
    """Verify the case as the camera saw it: the lifecycle's verify_pass / verify_fail with
    their effects (assignment ended or reworked), a history row with the evidence, the webhook."""
    case = session.get(Case, case_id)
    assert case is not None
    action = CaseAction.VERIFY_PASS if passed else CaseAction.VERIFY_FAIL
    target = CaseStatus.CLOSED if passed else CaseStatus.REWORK
    ctx = actions.ActionContext(SYSTEM, now, settings.default_calendar_code, auto=True)
    reason = (
        "视频复检窗口内未再检出，核查通过 (no re-detection in the window: verified)"
        if passed
        else "视频复检窗口内再次检出，返工 (detected again in the window: rework)"
    )
    body = CaseActionBody(reason=reason)
    effect = actions.EFFECTS[action](session, case, body, ctx)
    if not cases.write_state(
        session, case, seen=case.version, target=target, now=now, effect=effect
    ):
        return  # someone verified it meanwhile: theirs stands
    transition = CaseTransition(
        case_id=case.id,
        action=action.value,
        from_status=CaseStatus.HANDLED.value,
        to_status=target.value,
        actor_id=None,
        actor_role=ACTOR_ROLE,
        reason=reason,
        details={**effect.details, "redetection": json.loads(json.dumps(evidence))},
        at=now,
    )
    session.add(transition)
    session.flush()
    actions.announce(session, case, transition, ctx)
    session.execute(
        text("""UPDATE sensing_case SET verification = :outcome, verification_at = :now
                WHERE case_id = :case_id"""),
        {"outcome": "passed" if passed else "failed", "now": now, "case_id": case_id},
    )


def pending_cases(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(SensingCase.case_id).where(SensingCase.verification == "pending")
        ).all()
    )
