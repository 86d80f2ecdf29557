"""The closed loop (pure): the table decides who may do what from where."""

from __future__ import annotations

import pytest

from citygrid.accounts.roles import Role
from citygrid.errors import InvalidInput
from events.lifecycle import (
    RULES,
    CaseAction,
    CaseStatus,
    TransitionRefused,
    allowed_actions,
    next_status,
)

MAIN_LINE = [
    (CaseStatus.REPORTED, CaseAction.FILE, Role.DISPATCHER, CaseStatus.FILED),
    (CaseStatus.FILED, CaseAction.DISPATCH, Role.DISPATCHER, CaseStatus.DISPATCHED),
    (CaseStatus.DISPATCHED, CaseAction.ACCEPT, Role.DEPARTMENT, CaseStatus.ACCEPTED),
    (CaseStatus.ACCEPTED, CaseAction.HANDLE, Role.DEPARTMENT, CaseStatus.HANDLED),
    (CaseStatus.HANDLED, CaseAction.VERIFY_PASS, Role.INSPECTOR, CaseStatus.CLOSED),
]
SIDE_LINES = [
    (CaseStatus.REPORTED, CaseAction.NOT_FILE, Role.DISPATCHER, CaseStatus.NOT_FILED),
    (CaseStatus.DISPATCHED, CaseAction.RETURN, Role.DEPARTMENT, CaseStatus.RETURNED),
    (CaseStatus.RETURNED, CaseAction.DISPATCH, Role.DISPATCHER, CaseStatus.DISPATCHED),
    (
        CaseStatus.DISPATCHED,
        CaseAction.DISPATCH,
        Role.DISPATCHER,
        CaseStatus.DISPATCHED,
    ),  # reassign
    (CaseStatus.HANDLED, CaseAction.VERIFY_FAIL, Role.INSPECTOR, CaseStatus.REWORK),
    (CaseStatus.REWORK, CaseAction.HANDLE, Role.DEPARTMENT, CaseStatus.HANDLED),
    (CaseStatus.ACCEPTED, CaseAction.REQUEST_POSTPONEMENT, Role.DEPARTMENT, CaseStatus.ACCEPTED),
    (CaseStatus.ACCEPTED, CaseAction.APPROVE_POSTPONEMENT, Role.DISPATCHER, CaseStatus.ACCEPTED),
    (CaseStatus.ACCEPTED, CaseAction.APPROVE_SUSPENSION, Role.DISPATCHER, CaseStatus.SUSPENDED),
    (CaseStatus.FILED, CaseAction.CANCEL, Role.DISPATCHER, CaseStatus.CANCELLED),
    (CaseStatus.CLOSED, CaseAction.REOPEN, Role.MANAGER, CaseStatus.FILED),
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
        (CaseStatus.REPORTED, CaseAction.DISPATCH, Role.DISPATCHER),  # must be filed first
        (CaseStatus.DISPATCHED, CaseAction.ACCEPT, Role.DISPATCHER),  # only the department accepts
        (
            CaseStatus.HANDLED,
            CaseAction.VERIFY_PASS,
            Role.DEPARTMENT,
        ),  # a department cannot verify itself
        (CaseStatus.CLOSED, CaseAction.HANDLE, Role.DEPARTMENT),
        (CaseStatus.CANCELLED, CaseAction.REOPEN, Role.DISPATCHER),
        (CaseStatus.NOT_FILED, CaseAction.FILE, Role.DISPATCHER),
        (CaseStatus.REPORTED, CaseAction.FILE, Role.CITIZEN),
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
        CaseStatus.NOT_FILED,
        CaseStatus.CANCELLED,
    }


@pytest.mark.parametrize("action", [a for a, rule in RULES.items() if rule.needs_reason])
def test_actions_that_need_a_reason_refuse_without_one(action: CaseAction) -> None:
    rule = RULES[action]
    source, role = sorted(rule.sources)[0], sorted(rule.roles)[0]
    with pytest.raises(InvalidInput, match="needs a reason"):
        next_status(source, action, role, reason="  ")


def test_resume_returns_to_where_the_case_was_suspended_from() -> None:
    back = next_status(
        CaseStatus.SUSPENDED, CaseAction.RESUME, Role.DISPATCHER, suspended_from=CaseStatus.REWORK
    )
    assert back == CaseStatus.REWORK
