"""Duplicates: merging a case into another keeps reporters, photos and history; split undoes it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from events.lifecycle import CaseStatus
from events.models import Case, Report
from tests.events.cases.world import (
    TEST_STANDARD,
    World,
    act,
    add_photo,
    headers_of,
    history,
    ok,
)
from tests.events.seed import add_case, add_category, add_user


def merge(
    client: TestClient, case_id: int, into_case_id: int, user: User, reason: str = "same garbage"
) -> Response:
    response: Response = client.post(
        f"/api/cases/{case_id}/merge",
        json={"into_case_id": into_case_id, "reason": reason},
        headers=headers_of(user),
    )
    return response


def split(client: TestClient, case_id: int, user: User) -> Response:
    response: Response = client.post(
        f"/api/cases/{case_id}/split", json={"reason": "not the same"}, headers=headers_of(user)
    )
    return response


def detail(client: TestClient, case_id: int, user: User) -> dict[str, Any]:
    return ok(client.get(f"/api/cases/{case_id}", headers=headers_of(user)))


@pytest.fixture
def duplicate(session: Session, world: World) -> tuple[Case, Case, User]:
    """A survivor reported by the world's citizen and a duplicate reported by another, filed."""
    survivor = add_case(
        session, category=world.category, status=CaseStatus.FILED, reporter=world.citizen
    )
    second = add_user(session, Role.CITIZEN)
    duplicate = add_case(session, category=world.category, status=CaseStatus.FILED, reporter=second)
    return survivor, duplicate, second


def test_merge_moves_reports_and_shows_photos_and_history_on_the_survivor(
    session: Session, client: TestClient, world: World, duplicate: tuple[Case, Case, User]
) -> None:
    survivor, merged, _ = duplicate
    photo_id = add_photo(session, merged)
    body = ok(merge(client, merged.id, survivor.id, world.dispatcher))
    assert body["id"] == survivor.id
    assert body["merged_case_ids"] == [merged.id]
    assert photo_id in body["photo_ids"]
    assert [(r["original_case_id"]) for r in body["reports"]] == [survivor.id, merged.id]
    rows = history(client, survivor.id, world.dispatcher)
    from_merged = [(r["action"], r["merged_case"]) for r in rows if r["case_id"] == merged.id]
    assert from_merged == [("report", True), ("merge", True)]
    merge_in = rows[-1]
    assert merge_in["action"] == "merge_in" and merge_in["case_id"] == survivor.id
    assert merge_in["details"] == {"merged_case_id": merged.id, "same_category": True}
    assert merge_in["reason"] == "same garbage"
    merged_detail = detail(client, merged.id, world.dispatcher)
    assert merged_detail["status"] == "filed"  # kept, for a split to restore
    assert merged_detail["merged_into"] == {
        "id": survivor.id,
        "number": survivor.number,
        "status": "filed",
    }
    assert merged_detail["allowed_actions"] == []


def test_status_changes_of_the_survivor_reach_every_reporter(
    session: Session, client: TestClient, world: World, duplicate: tuple[Case, Case, User]
) -> None:
    survivor, merged, second = duplicate
    ok(merge(client, merged.id, survivor.id, world.dispatcher))
    ok(act(client, survivor.id, "dispatch", world.dispatcher, department_code="HW-01"))
    for reporter in (world.citizen, second):
        seen = detail(client, survivor.id, reporter)
        assert seen["status"] == "dispatched"
        mine = [r for r in seen["reports"] if r["reporter_id"] == reporter.id]
        assert len(mine) == 1
        assert len(seen["reports"]) == 2  # the other reporter's report, anonymously
    # The duplicate's reporter following their own case's link sees where it went.
    assert detail(client, merged.id, second)["merged_into"]["status"] == "dispatched"
    assert history(client, survivor.id, second)[-1]["action"] == "dispatch"


def test_a_merged_case_takes_no_actions(
    session: Session, client: TestClient, world: World, duplicate: tuple[Case, Case, User]
) -> None:
    survivor, merged, _ = duplicate
    ok(merge(client, merged.id, survivor.id, world.dispatcher))
    refused = act(client, merged.id, "dispatch", world.dispatcher, department_code="HW-01")
    assert refused.status_code == 409
    assert f"merged into case {survivor.id}" in refused.json()["detail"]
    assert refused.json()["allowed_actions"] == []


def test_split_brings_the_reports_back(
    session: Session, client: TestClient, world: World, duplicate: tuple[Case, Case, User]
) -> None:
    survivor, merged, second = duplicate
    ok(merge(client, merged.id, survivor.id, world.dispatcher))
    ok(act(client, survivor.id, "dispatch", world.dispatcher, department_code="HW-01"))
    body = ok(split(client, merged.id, world.dispatcher))
    assert body["id"] == merged.id
    assert body["merged_into"] is None
    assert body["status"] == "filed"
    assert "dispatch" in body["allowed_actions"]
    assert [r["reporter_id"] for r in body["reports"]] == [second.id]
    reports = session.scalars(select(Report).where(Report.case_id == survivor.id)).all()
    assert [r.reporter_id for r in reports] == [world.citizen.id]
    survivor_detail = detail(client, survivor.id, world.dispatcher)
    assert survivor_detail["merged_case_ids"] == []
    survivor_actions = [r["action"] for r in history(client, survivor.id, world.dispatcher)]
    assert survivor_actions == ["report", "merge_in", "dispatch", "split_out"]
    merged_actions = [r["action"] for r in history(client, merged.id, second)]
    assert merged_actions == ["report", "merge", "split"]
    assert split(client, merged.id, world.dispatcher).status_code == 409  # not merged any more


def test_merging_records_a_different_category(
    session: Session, client: TestClient, world: World
) -> None:
    other = add_category(session, code="9902", standard=TEST_STANDARD, name_en="Other")
    survivor = add_case(session, category=world.category, status=CaseStatus.FILED)
    merged = add_case(session, category=other, status=CaseStatus.REPORTED)
    ok(merge(client, merged.id, survivor.id, world.dispatcher))
    merge_row = history(client, merged.id, world.dispatcher)[-1]
    assert merge_row["details"] == {"into_case_id": survivor.id, "same_category": False}


@pytest.mark.parametrize(
    ("setup", "status_code", "says"),
    [
        ("itself", 422, "into itself"),
        ("closed_survivor", 409, "only open cases merge"),
        ("already_merged", 409, "already merged"),
        ("has_merged_cases", 409, "cases are merged into case"),
    ],
)
def test_merge_refusals(
    session: Session, client: TestClient, world: World, setup: str, status_code: int, says: str
) -> None:
    first = add_case(session, category=world.category, status=CaseStatus.FILED)
    second = add_case(
        session,
        category=world.category,
        status=CaseStatus.CLOSED if setup == "closed_survivor" else CaseStatus.FILED,
    )
    third = add_case(session, category=world.category, status=CaseStatus.FILED)
    if setup in ("already_merged", "has_merged_cases"):
        ok(merge(client, third.id, first.id, world.dispatcher))
    source = {"itself": first, "already_merged": third}.get(setup, first)
    target = first if setup == "itself" else second
    response = merge(client, source.id, target.id, world.dispatcher)
    assert response.status_code == status_code, response.text
    assert says in response.json()["detail"]


def test_only_dispatchers_merge_and_split(
    session: Session, client: TestClient, world: World, duplicate: tuple[Case, Case, User]
) -> None:
    survivor, merged, _ = duplicate
    for user in (world.worker, world.manager, world.inspector, world.citizen):
        assert merge(client, merged.id, survivor.id, user).status_code == 403
    ok(merge(client, merged.id, survivor.id, world.dispatcher))
    assert split(client, merged.id, world.manager).status_code == 403
