"""The closed loop of a case (pure): which role may take which action from which state.

reported → filed (立案) | not filed (不予立案) → dispatched (派遣) → accepted | returned (退回,
back to the dispatchers) → handled (处置) → verified on site (核查): pass → closed (结案), fail →
rework (返工, same department). A hotline ticket's case (接诉即办) has a return that a dispatcher
decides: the unit requests it (退单申请), a dispatcher approves (back to dispatch) or refuses
(the unit keeps it); the hotline's callback closes it or sends it back for rework. Beside the
main line: postponement (延期) requested by the
department and approved or refused by a dispatcher; suspension (挂账) requested by the department,
approved by a dispatcher and later resumed to where the case was; cancellation (作废); reopening
a closed case within a window. One table, `RULES`, is the whole policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from citygrid.accounts.roles import Role
from citygrid.errors import Conflict, InvalidInput


class CaseStatus(enum.StrEnum):
    REPORTED = "reported"  # 上报, waiting for a dispatcher to file it
    FILED = "filed"  # 立案, waiting for dispatch
    NOT_FILED = "not_filed"  # 不予立案
    DISPATCHED = "dispatched"  # 派遣, waiting for the department to accept
    RETURNED = "returned"  # 退回 by the department, back in the dispatchers' queue
    ACCEPTED = "accepted"  # the department is on it
    HANDLED = "handled"  # 处置 done, waiting for on-site verification
    REWORK = "rework"  # 返工: verification failed, the department works again
    SUSPENDED = "suspended"  # 挂账
    CLOSED = "closed"  # 结案
    CANCELLED = "cancelled"  # 作废


class CaseAction(enum.StrEnum):
    FILE = "file"
    NOT_FILE = "not_file"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    HANDLE = "handle"
    VERIFY_PASS = "verify_pass"
    VERIFY_FAIL = "verify_fail"
    REQUEST_POSTPONEMENT = "request_postponement"
    APPROVE_POSTPONEMENT = "approve_postponement"
    REFUSE_POSTPONEMENT = "refuse_postponement"
    REQUEST_SUSPENSION = "request_suspension"
    APPROVE_SUSPENSION = "approve_suspension"
    REFUSE_SUSPENSION = "refuse_suspension"
    RESUME = "resume"
    CANCEL = "cancel"
    REOPEN = "reopen"
    # Hotline ticket cases (dispatch/hotline): a return needs a dispatcher's approval, and the
    # callback (回访), not an inspector, closes the case or sends it back for rework.
    REQUEST_RETURN = "request_return"
    APPROVE_RETURN = "approve_return"
    REFUSE_RETURN = "refuse_return"
    CALLBACK_CLOSE = "callback_close"
    CALLBACK_REWORK = "callback_rework"


OPEN_STATUSES = frozenset(CaseStatus) - {
    CaseStatus.NOT_FILED,
    CaseStatus.CLOSED,
    CaseStatus.CANCELLED,
}
WORKING_STATUSES = frozenset({CaseStatus.DISPATCHED, CaseStatus.ACCEPTED, CaseStatus.REWORK})
DEPARTMENT_WORKING = frozenset({CaseStatus.ACCEPTED, CaseStatus.REWORK})
# Filed or returned: the dispatch queue's cases, which routing may send somewhere else.
WAITING_FOR_DISPATCH = frozenset({CaseStatus.FILED, CaseStatus.RETURNED})
DISPATCHERS = frozenset({Role.DISPATCHER, Role.ADMIN})
DEPARTMENT = frozenset({Role.DEPARTMENT})
INSPECTORS = frozenset({Role.INSPECTOR})


@dataclass(frozen=True)
class Rule:
    """An action: from which states, by which roles, to which state (None: the state stays)."""

    sources: frozenset[CaseStatus]
    roles: frozenset[Role]
    target: CaseStatus | None
    needs_reason: bool = False


RULES: dict[CaseAction, Rule] = {
    CaseAction.FILE: Rule(frozenset({CaseStatus.REPORTED}), DISPATCHERS, CaseStatus.FILED),
    CaseAction.NOT_FILE: Rule(
        frozenset({CaseStatus.REPORTED}), DISPATCHERS, CaseStatus.NOT_FILED, needs_reason=True
    ),
    CaseAction.DISPATCH: Rule(
        frozenset({CaseStatus.FILED, CaseStatus.RETURNED, CaseStatus.DISPATCHED}),
        DISPATCHERS,
        CaseStatus.DISPATCHED,
    ),
    CaseAction.ACCEPT: Rule(frozenset({CaseStatus.DISPATCHED}), DEPARTMENT, CaseStatus.ACCEPTED),
    CaseAction.RETURN: Rule(
        frozenset({CaseStatus.DISPATCHED}), DEPARTMENT, CaseStatus.RETURNED, needs_reason=True
    ),
    CaseAction.HANDLE: Rule(DEPARTMENT_WORKING, DEPARTMENT, CaseStatus.HANDLED, needs_reason=True),
    CaseAction.VERIFY_PASS: Rule(frozenset({CaseStatus.HANDLED}), INSPECTORS, CaseStatus.CLOSED),
    CaseAction.VERIFY_FAIL: Rule(
        frozenset({CaseStatus.HANDLED}), INSPECTORS, CaseStatus.REWORK, needs_reason=True
    ),
    CaseAction.REQUEST_POSTPONEMENT: Rule(DEPARTMENT_WORKING, DEPARTMENT, None, needs_reason=True),
    CaseAction.APPROVE_POSTPONEMENT: Rule(DEPARTMENT_WORKING, DISPATCHERS, None),
    CaseAction.REFUSE_POSTPONEMENT: Rule(DEPARTMENT_WORKING, DISPATCHERS, None, needs_reason=True),
    CaseAction.REQUEST_SUSPENSION: Rule(WORKING_STATUSES, DEPARTMENT, None, needs_reason=True),
    CaseAction.APPROVE_SUSPENSION: Rule(WORKING_STATUSES, DISPATCHERS, CaseStatus.SUSPENDED),
    CaseAction.REFUSE_SUSPENSION: Rule(WORKING_STATUSES, DISPATCHERS, None, needs_reason=True),
    CaseAction.RESUME: Rule(frozenset({CaseStatus.SUSPENDED}), DISPATCHERS, None),
    CaseAction.CANCEL: Rule(OPEN_STATUSES, DISPATCHERS, CaseStatus.CANCELLED, needs_reason=True),
    CaseAction.REOPEN: Rule(
        frozenset({CaseStatus.CLOSED}),
        DISPATCHERS | {Role.MANAGER},
        CaseStatus.FILED,
        needs_reason=True,
    ),
    CaseAction.REQUEST_RETURN: Rule(
        frozenset({CaseStatus.DISPATCHED}), DEPARTMENT, None, needs_reason=True
    ),
    CaseAction.APPROVE_RETURN: Rule(
        frozenset({CaseStatus.DISPATCHED}), DISPATCHERS, CaseStatus.RETURNED
    ),
    CaseAction.REFUSE_RETURN: Rule(
        frozenset({CaseStatus.DISPATCHED}), DISPATCHERS, None, needs_reason=True
    ),
    CaseAction.CALLBACK_CLOSE: Rule(
        frozenset({CaseStatus.HANDLED}), DISPATCHERS, CaseStatus.CLOSED
    ),
    CaseAction.CALLBACK_REWORK: Rule(
        frozenset({CaseStatus.HANDLED}), DISPATCHERS, CaseStatus.REWORK, needs_reason=True
    ),
}


class TransitionRefused(Conflict):
    """The action is not allowed for this role in this state; says what is."""

    def __init__(self, message: str, *, status: CaseStatus, allowed: list[CaseAction]) -> None:
        super().__init__(message, field="action")
        self.status = status
        self.allowed = allowed

    def payload(self) -> dict[str, Any]:
        allowed = [action.value for action in self.allowed]
        return {**super().payload(), "status": self.status.value, "allowed_actions": allowed}


def allowed_actions(status: CaseStatus, role: Role) -> list[CaseAction]:
    """The actions `role` may take on a case in `status`, in the table's order."""
    return [
        action for action, rule in RULES.items() if status in rule.sources and role in rule.roles
    ]


def next_status(
    status: CaseStatus,
    action: CaseAction,
    role: Role,
    *,
    reason: str | None = None,
    suspended_from: CaseStatus | None = None,
) -> CaseStatus:
    """The state after `action`, or TransitionRefused naming the state and the allowed actions."""
    rule = RULES[action]
    if status not in rule.sources or role not in rule.roles:
        allowed = allowed_actions(status, role)
        names = ", ".join(allowed) or "none"
        raise TransitionRefused(
            f"{role} cannot {action} a case that is {status} (allowed: {names})",
            status=status,
            allowed=allowed,
        )
    if rule.needs_reason and not (reason and reason.strip()):
        raise InvalidInput(f"{action} needs a reason", field="reason")
    if action is CaseAction.RESUME:
        if suspended_from is None:
            raise ValueError("a suspended case must remember the state it was suspended from")
        return suspended_from
    return rule.target or status
