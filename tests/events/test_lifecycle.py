"""The closed loop (pure): the table decides who may do what from where."""

from __future__ import annotations

import pytest

from citygrid.accounts.auth import Role
from citygrid.errors import InvalidInput
from events.lifecycle import (
    RULES,
    CaseAction,
    CaseStatus,
    TransitionRefused,
    allowed_actions,
    next_status,
)

S, A = CaseStatus, CaseAction
MAIN_LINE = [
    (S.REPORTED, A.FILE, Role.DISPATCHER, S.FILED),
    (S.FILED, A.DISPATCH, Role.DISPATCHER, S.DISPATCHED),
    (S.DISPATCHED, A.ACCEPT, Role.DEPARTMENT, S.ACCEPTED),
    (S.ACCEPTED, A.HANDLE, Role.DEPARTMENT, S.HANDLED),
    (S.HANDLED, A.VERIFY_PASS, Role.INSPECTOR, S.CLOSED),
]
SIDE_LINES = [
    (S.REPORTED, A.NOT_FILE, Role.DISPATCHER, S.NOT_FILED),
    (S.DISPATCHED, A.RETURN, Role.DEPARTMENT, S.RETURNED),
    (S.RETURNED, A.DISPATCH, Role.DISPATCHER, S.DISPATCHED),
    (S.DISPATCHED, A.DISPATCH, Role.DISPATCHER, S.DISPATCHED),  # reassign
    (S.HANDLED, A.VERIFY_FAIL, Role.INSPECTOR, S.REWORK),
    (S.REWORK, A.HANDLE, Role.DEPARTMENT, S.HANDLED),
    (S.ACCEPTED, A.REQUEST_POSTPONEMENT, Role.DEPARTMENT, S.ACCEPTED),
    (S.ACCEPTED, A.APPROVE_POSTPONEMENT, Role.DISPATCHER, S.ACCEPTED),
    (S.ACCEPTED, A.APPROVE_SUSPENSION, Role.DISPATCHER, S.SUSPENDED),
    (S.FILED, A.CANCEL, Role.DISPATCHER, S.CANCELLED),
    (S.CLOSED, A.REOPEN, Role.MANAGER, S.FILED),
]


@pytest.mark.parametrize(("source", "action", "role", "target"), MAIN_LINE + SIDE_LINES)
def test_allowed_transitions(
    source: CaseStatus, action: CaseAction, role: Role, target: CaseStatus
) -> None:
    assert next_status(source, action, role, reason="because") == target
    assert action in allowed_actions(source, role)


@pytest.mark.parametrize(
    ("source", "action", "role"),
    [
        (S.REPORTED, A.DISPATCH, Role.DISPATCHER),  # must be filed first
        (S.DISPATCHED, A.ACCEPT, Role.DISPATCHER),  # only the department accepts
        (S.HANDLED, A.VERIFY_PASS, Role.DEPARTMENT),  # a department cannot verify itself
        (S.CLOSED, A.HANDLE, Role.DEPARTMENT),
        (S.CANCELLED, A.REOPEN, Role.DISPATCHER),
        (S.NOT_FILED, A.FILE, Role.DISPATCHER),
        (S.REPORTED, A.FILE, Role.CITIZEN),
    ],
)
def test_refused_transitions_name_the_state_and_what_is_allowed(
    source: CaseStatus, action: CaseAction, role: Role
) -> None:
    with pytest.raises(
        TransitionRefused, match=f"cannot {action} a case that is {source}"
    ) as refused:
        next_status(source, action, role, reason="because")
    assert refused.value.status == source
    assert refused.value.allowed == allowed_actions(source, role)
    assert refused.value.payload()["allowed_actions"] == [a.value for a in refused.value.allowed]


def test_every_state_except_the_terminal_ones_has_a_way_out() -> None:
    reachable_from = {status: False for status in CaseStatus}
    for rule in RULES.values():
        for status in rule.sources:
            reachable_from[status] = True
    assert {s for s, has_way in reachable_from.items() if not has_way} == {
        S.NOT_FILED,
        S.CANCELLED,
    }


@pytest.mark.parametrize("action", [a for a, rule in RULES.items() if rule.needs_reason])
def test_actions_that_need_a_reason_refuse_without_one(action: CaseAction) -> None:
    rule = RULES[action]
    source, role = sorted(rule.sources)[0], sorted(rule.roles)[0]
    with pytest.raises(InvalidInput, match="needs a reason"):
        next_status(source, action, role, reason="  ")


def test_resume_returns_to_where_the_case_was_suspended_from() -> None:
    back = next_status(S.SUSPENDED, A.RESUME, Role.DISPATCHER, suspended_from=S.REWORK)
    assert back == S.REWORK
