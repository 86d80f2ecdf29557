"""What, beside status and role, an action on a case needs right now (pure).

The lifecycle table (events.lifecycle) says which role may take which action in which status.
Some actions also need a moment that the status does not show: a postponement can be approved
only while one is requested, a closed case reopens only within its window. Each such action has
one named check here that answers why it is impossible, or None.

A hotline ticket's case (dispatch/hotline) is returned only through a request a dispatcher
decides, and closed or sent back by the hotline's callback; a case with summoned units
(吹哨报到, dispatch/summons) closes only once every summoned unit has reported in and answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from events.lifecycle import CaseAction


@dataclass(frozen=True)
class CaseGates:
    """What dispatch's work on a case (a hotline ticket's replies, summoned units) holds back:
    the part of the situation dispatch answers through events.cases.workflow."""

    ticket_case: bool = False  # the case of a hotline ticket
    summons_open: int = 0  # summoned units that have not yet reported in and answered
    lead_reply_ready: bool = False  # its lead unit's four-element reply of this round is in


@dataclass(frozen=True)
class Situation:
    """What, beside status and role, decides whether an action is possible right now."""

    postponement_pending: bool
    suspension_pending: bool
    reopen_until: datetime | None
    now: datetime
    ticket_case: bool = False  # the case of a hotline ticket
    return_pending: bool = False  # its unit asked to return it; a dispatcher has not decided
    summons_open: int = 0  # summoned units that have not yet reported in and answered
    lead_reply_ready: bool = False  # its lead unit's four-element reply of this round is in


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


def not_a_ticket_case(situation: Situation) -> str | None:
    if situation.ticket_case:
        return "a hotline ticket's case is returned by request_return, which a dispatcher decides"
    return None


def handled_by_reply(situation: Situation) -> str | None:
    if situation.ticket_case and not situation.lead_reply_ready:
        return (
            "a hotline ticket's case is handled by its lead unit's four-element reply "
            "(POST /api/hotline/tickets/{id}/replies)"
        )
    return None


def ticket_case(situation: Situation) -> str | None:
    return None if situation.ticket_case else "only a hotline ticket's case takes this action"


def return_not_yet_requested(situation: Situation) -> str | None:
    if situation.return_pending:
        return "a return request is already pending"
    return ticket_case(situation)


def return_requested(situation: Situation) -> str | None:
    return None if situation.return_pending else "no return request is pending"


def every_summoned_unit_done(situation: Situation) -> str | None:
    if situation.summons_open:
        return f"{situation.summons_open} summoned unit(s) have not yet reported in and answered"
    return None


def ticket_case_without_open_summons(situation: Situation) -> str | None:
    return ticket_case(situation) or every_summoned_unit_done(situation)


# Each returns why the action is impossible in this situation, or None.
PREREQUISITES: dict[CaseAction, Callable[[Situation], str | None]] = {
    CaseAction.REQUEST_POSTPONEMENT: postponement_not_yet_requested,
    CaseAction.APPROVE_POSTPONEMENT: postponement_requested,
    CaseAction.REFUSE_POSTPONEMENT: postponement_requested,
    CaseAction.REQUEST_SUSPENSION: suspension_not_yet_requested,
    CaseAction.APPROVE_SUSPENSION: suspension_requested,
    CaseAction.REFUSE_SUSPENSION: suspension_requested,
    CaseAction.REOPEN: within_reopen_window,
    CaseAction.RETURN: not_a_ticket_case,
    CaseAction.HANDLE: handled_by_reply,
    CaseAction.REQUEST_RETURN: return_not_yet_requested,
    CaseAction.APPROVE_RETURN: return_requested,
    CaseAction.REFUSE_RETURN: return_requested,
    CaseAction.VERIFY_PASS: every_summoned_unit_done,
    CaseAction.CALLBACK_CLOSE: ticket_case_without_open_summons,
    CaseAction.CALLBACK_REWORK: ticket_case,
}


def refusal(action: CaseAction, situation: Situation) -> str | None:
    """Why the action is impossible in this situation; None when nothing stands in its way."""
    check = PREREQUISITES.get(action)
    return check(situation) if check is not None else None
