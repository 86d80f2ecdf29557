"""What, beside status and role, an action on a case needs right now (pure).

The lifecycle table (events.lifecycle) says which role may take which action in which status.
Some actions also need a moment that the status does not show: a postponement can be approved
only while one is requested, a closed case reopens only within its window. Each such action has
one named check here that answers why it is impossible, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from events.lifecycle import CaseAction


@dataclass(frozen=True)
class Situation:
    """What, beside status and role, decides whether an action is possible right now."""

    postponement_pending: bool
    suspension_pending: bool
    reopen_until: datetime | None
    now: datetime


def postponement_not_yet_requested(situation: Situation) -> str | None:
    return "a postponement request is already pending" if situation.postponement_pending else None


def postponement_requested(situation: Situation) -> str | None:
    return None if situation.postponement_pending else "no postponement request is pending"


def suspension_not_yet_requested(situation: Situation) -> str | None:
    return "a suspension request is already pending" if situation.suspension_pending else None


def suspension_requested(situation: Situation) -> str | None:
    return None if situation.suspension_pending else "no suspension request is pending"


def within_reopen_window(situation: Situation) -> str | None:
    until = situation.reopen_until
    if until is None:
        return "the case has no closing time to count the reopen window from"
    return None if situation.now <= until else f"the reopen window ended at {until.isoformat()}"


# Each returns why the action is impossible in this situation, or None.
PREREQUISITES: dict[CaseAction, Callable[[Situation], str | None]] = {
    CaseAction.REQUEST_POSTPONEMENT: postponement_not_yet_requested,
    CaseAction.APPROVE_POSTPONEMENT: postponement_requested,
    CaseAction.REFUSE_POSTPONEMENT: postponement_requested,
    CaseAction.REQUEST_SUSPENSION: suspension_not_yet_requested,
    CaseAction.APPROVE_SUSPENSION: suspension_requested,
    CaseAction.REFUSE_SUSPENSION: suspension_requested,
    CaseAction.REOPEN: within_reopen_window,
}


def refusal(action: CaseAction, situation: Situation) -> str | None:
    """Why the action is impossible in this situation; None when nothing stands in its way."""
    check = PREREQUISITES.get(action)
    return check(situation) if check is not None else None
