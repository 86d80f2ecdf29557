"""The closed loop through HTTP, as each role: actions, refusals, side effects, history, reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.deadlines import working_hours_between
from events.lifecycle import RULES, CaseAction, CaseStatus, allowed_actions
from events.models import Case
from tests.events.cases.world import (
    World,
    accepted_case,
    act,
    add_photo,
    default_calendar,
    dispatched_case,
    handled_case,
    headers_of,
    history,
    ok,
)
from tests.events.seed import add_case, add_user


def test_the_whole_loop_from_reported_to_closed(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category, reporter=world.citizen)
    photo_id = add_photo(session, case)
    filed = ok(act(client, case.id, "file", world.dispatcher))
    assert filed["status"] == "filed"
    assert filed["allowed_actions"] == ["dispatch", "cancel"]
    dispatched = ok(act(client, case.id, "dispatch", world.dispatcher, department_code="HW-01"))
    assert dispatched["department_id"] == world.sanitation.id
    due_at = datetime.fromisoformat(dispatched["due_at"])
    dispatched_at = datetime.fromisoformat(dispatched["dispatched_at"])
    # the category's normal limit, in working hours on the default calendar
    assert working_hours_between(dispatched_at, due_at, default_calendar(session)) == (
        pytest.approx(4.0)
    )
    ok(act(client, case.id, "accept", world.worker))
    handled = ok(act(client, case.id, "handle", world.worker, reason="swept", photo_ids=[photo_id]))
    assert handled["status"] == "handled" and handled["handled_at"] is not None
    closed = ok(act(client, case.id, "verify_pass", world.inspector))
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["version"] == 6
    rows = history(client, case.id, world.citizen)
    assert [(r["action"], r["from_status"], r["to_status"]) for r in rows] == [
        ("report", None, "reported"),
        ("file", "reported", "filed"),
        ("dispatch", "filed", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("handle", "accepted", "handled"),
        ("verify_pass", "handled", "closed"),
    ]
    assert rows[4]["actor_id"] is None  # the citizen is not shown who the worker is
    handle_row = history(client, case.id, world.dispatcher)[4]
    assert handle_row["actor_id"] == world.worker.id
    assert handle_row["actor_role"] == "department"
    assert handle_row["reason"] == "swept"
    assert handle_row["details"]["photo_ids"] == [photo_id]
    assert rows[2]["details"]["department_code"] == "HW-01"
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)


def test_urgent_cases_get_the_urgent_limit(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category, status=CaseStatus.FILED)
    session.execute(update(Case).where(Case.id == case.id).values(urgency="urgent"))
    body = ok(act(client, case.id, "dispatch", world.dispatcher, department_code="HW-01"))
    due_at, dispatched_at = (datetime.fromisoformat(body[k]) for k in ("due_at", "dispatched_at"))
    # 2 working hours on the default calendar (the normal limit is 4)
    assert working_hours_between(dispatched_at, due_at, default_calendar(session)) == (
        pytest.approx(2.0)
    )
    assert body["deadline"]["limit_hours"] == 2.0


# Offered only once a request is pending (or, for reopen, while the window is open).
NEEDS_A_REQUEST = {
    CaseAction.APPROVE_POSTPONEMENT,
    CaseAction.REFUSE_POSTPONEMENT,
    CaseAction.APPROVE_SUSPENSION,
    CaseAction.REFUSE_SUSPENSION,
    CaseAction.REOPEN,
    # A hotline ticket's case only (dispatch/hotline), the decisions once a return is requested.
    CaseAction.REQUEST_RETURN,
    CaseAction.APPROVE_RETURN,
    CaseAction.REFUSE_RETURN,
    CaseAction.CALLBACK_CLOSE,
    CaseAction.CALLBACK_REWORK,
}
ACTING_ROLES = (Role.DISPATCHER, Role.DEPARTMENT, Role.INSPECTOR, Role.MANAGER)


def role_allowed_elsewhere(action: CaseAction) -> Role:
    """A role that may take the action in some state (so only the state makes it illegal)."""
    return next(role for role in ACTING_ROLES if role in RULES[action].roles)


# Every action from every state it is not allowed from, by a role that may take it elsewhere…
WRONG_STATE = [
    (status, action, role_allowed_elsewhere(action))
    for status in CaseStatus
    for action, rule in RULES.items()
    if status not in rule.sources
]
# …and a few by a role that may never take it.
ILLEGAL = [
    *WRONG_STATE,
    (CaseStatus.REPORTED, CaseAction.DISPATCH, Role.DISPATCHER),
    (CaseStatus.FILED, CaseAction.ACCEPT, Role.DEPARTMENT),
    (CaseStatus.DISPATCHED, CaseAction.HANDLE, Role.DEPARTMENT),
    (CaseStatus.DISPATCHED, CaseAction.ACCEPT, Role.DISPATCHER),
    (CaseStatus.HANDLED, CaseAction.VERIFY_PASS, Role.DEPARTMENT),
    (CaseStatus.ACCEPTED, CaseAction.VERIFY_FAIL, Role.INSPECTOR),
    (CaseStatus.CLOSED, CaseAction.HANDLE, Role.DEPARTMENT),
    (CaseStatus.CLOSED, CaseAction.CANCEL, Role.DISPATCHER),
    (CaseStatus.CANCELLED, CaseAction.REOPEN, Role.MANAGER),
    (CaseStatus.NOT_FILED, CaseAction.FILE, Role.DISPATCHER),
    (CaseStatus.SUSPENDED, CaseAction.HANDLE, Role.DEPARTMENT),
    (CaseStatus.REPORTED, CaseAction.FILE, Role.MANAGER),
]


@pytest.mark.parametrize(("status", "action", "role"), ILLEGAL, ids=str)
def test_illegal_transitions_are_409_with_status_and_allowed_actions(
    session: Session,
    client: TestClient,
    world: World,
    status: CaseStatus,
    action: CaseAction,
    role: Role,
) -> None:
    # Reported by the inspector and held by the worker's department: every role here sees it.
    case = add_case(
        session,
        category=world.category,
        status=status,
        department=world.sanitation,
        reporter=world.inspector,
    )
    user = {
        Role.DISPATCHER: world.dispatcher,
        Role.DEPARTMENT: world.worker,
        Role.INSPECTOR: world.inspector,
        Role.MANAGER: world.manager,
    }[role]
    response = act(client, case.id, action.value, user, reason="because")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["status"] == status.value
    expected = [a.value for a in allowed_actions(status, role) if a not in NEEDS_A_REQUEST]
    assert body["allowed_actions"] == expected
    assert f"cannot {action}" in body["detail"]
    unchanged = ok(client.get(f"/api/cases/{case.id}", headers=headers_of(world.dispatcher)))
    assert unchanged["version"] == 1


def test_a_citizen_cannot_act_at_all(session: Session, client: TestClient, world: World) -> None:
    case = add_case(session, category=world.category, reporter=world.citizen)
    assert act(client, case.id, "file", world.citizen).status_code == 403


def test_dispatch_names_a_known_department(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category, status=CaseStatus.FILED)
    missing = act(client, case.id, "dispatch", world.dispatcher)
    assert missing.status_code == 422 and missing.json()["field"] == "department_code"
    unknown = act(client, case.id, "dispatch", world.dispatcher, department_code="NOPE")
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": "no department has code 'NOPE'", "field": "department_code"}


def test_a_reassign_needs_a_reason(session: Session, client: TestClient, world: World) -> None:
    case_id = dispatched_case(session, client, world)
    bare = act(client, case_id, "dispatch", world.dispatcher, department_code="LD-01")
    assert bare.status_code == 422 and bare.json()["field"] == "reason"
    body = ok(
        act(client, case_id, "dispatch", world.dispatcher, department_code="LD-01", reason="roads")
    )
    assert body["department_id"] == world.roads.id
    assert history(client, case_id, world.dispatcher)[-1]["details"][
        "reassigned_from_department_id"
    ] == (world.sanitation.id)


def test_a_department_acts_only_on_its_own_cases(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = dispatched_case(session, client, world)
    # Another department's case is hidden from it: 404, as for an id that does not exist.
    refused = act(client, case_id, "accept", world.road_worker)
    assert refused.status_code == 404
    unseen = client.get(f"/api/cases/{case_id}", headers=headers_of(world.road_worker))
    assert unseen.status_code == 404
    assert ok(act(client, case_id, "accept", world.worker))["status"] == "accepted"


def test_return_goes_back_to_the_dispatchers_and_is_counted(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = dispatched_case(session, client, world)
    assert act(client, case_id, "return", world.worker).status_code == 422  # needs a reason
    returned = ok(act(client, case_id, "return", world.worker, reason="not ours: a road issue"))
    assert returned["status"] == "returned"
    assert returned["return_count"] == 1
    assert returned["department_id"] is None
    too_late = act(client, case_id, "accept", world.worker)  # not another's: 409, not 403
    assert too_late.status_code == 409 and too_late.json()["status"] == "returned"
    redispatched = ok(act(client, case_id, "dispatch", world.dispatcher, department_code="LD-01"))
    assert redispatched["department_id"] == world.roads.id
    assert ok(act(client, case_id, "accept", world.road_worker))["status"] == "accepted"


def test_an_approved_postponement_moves_the_deadline(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    due_before = datetime.fromisoformat(
        ok(client.get(f"/api/cases/{case_id}", headers=headers_of(world.dispatcher)))["due_at"]
    )
    premature = act(client, case_id, "approve_postponement", world.dispatcher)
    assert premature.status_code == 409
    assert "no postponement request is pending" in premature.json()["detail"]
    no_hours = act(client, case_id, "request_postponement", world.worker, reason="parts")
    assert no_hours.status_code == 422 and no_hours.json()["field"] == "hours"
    requested = ok(
        act(client, case_id, "request_postponement", world.worker, reason="parts", hours=48)
    )
    assert requested["postponement_hours_requested"] == 48
    assert "approve_postponement" not in requested["allowed_actions"]  # not the worker's
    too_many = act(client, case_id, "approve_postponement", world.dispatcher, hours=72)
    assert too_many.status_code == 422
    approved = ok(act(client, case_id, "approve_postponement", world.dispatcher, hours=24))
    # 24 more working hours on the default calendar
    added = working_hours_between(
        due_before, datetime.fromisoformat(approved["due_at"]), default_calendar(session)
    )
    assert added == pytest.approx(24.0)
    assert approved["deadline"]["postponed_hours"] == 24
    assert approved["postponed_hours"] == 24
    assert approved["postponement_hours_requested"] is None
    assert approved["status"] == "accepted"


def test_a_refused_postponement_leaves_the_deadline(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    before = ok(act(client, case_id, "request_postponement", world.worker, reason="x", hours=8))
    again = act(client, case_id, "request_postponement", world.worker, reason="x", hours=8)
    assert again.status_code == 409 and "already pending" in again.json()["detail"]
    refused = ok(act(client, case_id, "refuse_postponement", world.dispatcher, reason="no"))
    assert refused["due_at"] == before["due_at"]
    assert refused["postponement_hours_requested"] is None
    assert refused["postponed_hours"] == 0


@pytest.mark.parametrize("where", ["dispatched", "accepted"])
def test_suspension_and_resume_come_back_to_the_previous_state(
    session: Session, client: TestClient, world: World, where: str
) -> None:
    setups = {"dispatched": dispatched_case, "accepted": accepted_case}
    case_id = setups[where](session, client, world)
    unrequested = act(client, case_id, "approve_suspension", world.dispatcher)
    assert unrequested.status_code == 409
    ok(act(client, case_id, "request_suspension", world.worker, reason="road works first"))
    suspended = ok(act(client, case_id, "approve_suspension", world.dispatcher))
    assert suspended["status"] == "suspended"
    assert suspended["suspended_from"] == where
    assert act(client, case_id, "handle", world.worker, reason="x").status_code == 409
    resumed = ok(act(client, case_id, "resume", world.dispatcher))
    assert resumed["status"] == where
    assert resumed["suspended_from"] is None
    assert [r["action"] for r in history(client, case_id, world.dispatcher)][-3:] == [
        "request_suspension",
        "approve_suspension",
        "resume",
    ]


def test_a_refused_suspension_keeps_the_case_working(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    ok(act(client, case_id, "request_suspension", world.worker, reason="waiting"))
    refused = ok(act(client, case_id, "refuse_suspension", world.dispatcher, reason="do it now"))
    assert refused["status"] == "accepted"
    assert act(client, case_id, "approve_suspension", world.dispatcher).status_code == 409


def test_rework_goes_back_to_the_same_department_and_is_counted(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = handled_case(session, client, world)
    assert act(client, case_id, "verify_fail", world.inspector).status_code == 422  # reason
    for round_number in (1, 2):
        failed = ok(act(client, case_id, "verify_fail", world.inspector, reason="still there"))
        assert failed["status"] == "rework"
        assert failed["rework_count"] == round_number
        assert failed["department_id"] == world.sanitation.id
        ok(act(client, case_id, "handle", world.worker, reason="again"))
    assert ok(act(client, case_id, "verify_pass", world.inspector))["rework_count"] == 2


def test_cancel_needs_a_reason(session: Session, client: TestClient, world: World) -> None:
    case_id = accepted_case(session, client, world)
    assert act(client, case_id, "cancel", world.dispatcher).status_code == 422
    cancelled = ok(act(client, case_id, "cancel", world.dispatcher, reason="reported twice"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["allowed_actions"] == []
    assert history(client, case_id, world.dispatcher)[-1]["reason"] == "reported twice"


def test_not_filed_needs_a_reason_and_ends_the_case(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category)
    assert act(client, case.id, "not_file", world.dispatcher).status_code == 422
    body = ok(act(client, case.id, "not_file", world.dispatcher, reason="private property"))
    assert body["status"] == "not_filed" and body["allowed_actions"] == []


def closed_case(session: Session, client: TestClient, world: World, *, days_ago: float) -> int:
    case_id = handled_case(session, client, world)
    ok(act(client, case_id, "verify_pass", world.inspector))
    closed_at = datetime.now(UTC) - timedelta(days=days_ago)
    session.execute(update(Case).where(Case.id == case_id).values(closed_at=closed_at))
    session.expire_all()
    return case_id


def test_reopen_within_the_window(session: Session, client: TestClient, world: World) -> None:
    window_days = get_settings().reopen_window_days
    case_id = closed_case(session, client, world, days_ago=window_days - 1)
    reopened = ok(act(client, case_id, "reopen", world.manager, reason="it is back"))
    assert reopened["status"] == "filed"
    assert reopened["closed_at"] is None
    assert (
        "dispatch"
        in ok(client.get(f"/api/cases/{case_id}", headers=headers_of(world.dispatcher)))[
            "allowed_actions"
        ]
    )


def test_reopen_outside_the_window_is_409(
    session: Session, client: TestClient, world: World
) -> None:
    window_days = get_settings().reopen_window_days
    case_id = closed_case(session, client, world, days_ago=window_days + 1)
    refused = act(client, case_id, "reopen", world.dispatcher, reason="it is back")
    assert refused.status_code == 409
    assert "reopen window ended" in refused.json()["detail"]
    assert refused.json()["status"] == "closed"
    assert refused.json()["allowed_actions"] == []


def test_a_stale_expected_version_is_409(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category)
    stale = act(client, case.id, "file", world.dispatcher, expected_version=2)
    assert stale.status_code == 409
    assert "changed meanwhile" in stale.json()["detail"]
    assert stale.json()["status"] == "reported"
    assert ok(act(client, case.id, "file", world.dispatcher, expected_version=1))["version"] == 2


def test_photos_attach_only_once_and_only_to_their_case(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    other = add_case(session, category=world.category)
    foreign = add_photo(session, other)
    refused = act(client, case_id, "handle", world.worker, reason="done", photo_ids=[foreign])
    assert refused.status_code == 422 and refused.json()["field"] == "photo_ids"


def test_unknown_case_is_404(client: TestClient, world: World) -> None:
    assert act(client, 987654, "file", world.dispatcher).status_code == 404
    assert client.get("/api/cases/987654", headers=headers_of(world.citizen)).status_code == 404


def test_citizens_and_inspectors_read_the_cases_they_reported(
    session: Session, client: TestClient, world: World
) -> None:
    case = add_case(session, category=world.category, reporter=world.citizen)
    stranger = add_user(session, Role.CITIZEN)
    mine = ok(client.get(f"/api/cases/{case.id}", headers=headers_of(world.citizen)))
    assert mine["reports"][0]["reporter_id"] == world.citizen.id
    assert mine["allowed_actions"] == []
    for outsider in (stranger, world.inspector):
        response = client.get(f"/api/cases/{case.id}", headers=headers_of(outsider))
        assert response.status_code == 404  # hidden, as for an id that does not exist
        history_response = client.get(f"/api/cases/{case.id}/history", headers=headers_of(outsider))
        assert history_response.status_code == 404


def test_an_inspector_reads_a_case_waiting_for_verification(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = handled_case(session, client, world)
    detail = ok(client.get(f"/api/cases/{case_id}", headers=headers_of(world.inspector)))
    assert detail["allowed_actions"] == ["verify_pass", "verify_fail"]
