"""POST /api/cases/{id}/component: confirm, change, not in the inventory (which opens a census
task), who may act, and the refusals."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from components.models import CensusTask
from events.models import Case, Category
from tests.events.cases.component_support import (
    LAMP,
    REPORTED_AT,
    World,
    act,
    build_world,
    case_filer,
    lamp,
    last_history_row,
)
from tests.events.seed import add_category


@pytest.fixture
def world(session: Session, client: TestClient, tmp_path: Path) -> World:
    return build_world(session, client, tmp_path / "media")


@pytest.fixture
def new_case(client: TestClient, world: World) -> Callable[..., int]:
    """A lamp report at REPORTED_AT (the near lamp is suggested); its case id."""
    return case_filer(client, world)


def test_the_reporter_confirms_the_suggested_component(
    session: Session, client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    case_id = new_case()
    response = act(client, case_id, world.reporter, action="confirm", note="就是这盏灯")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["component"]["code"] == world.near.code
    assert answer["component_match"] == answer["component"]["match"] == "confirmed"
    assert answer["version"] == 2 and answer["rerouted"] is False
    row = last_history_row(session, case_id)
    assert (row.action, row.from_status, row.to_status) == (
        "component_confirm",
        "reported",
        "reported",
    )
    assert row.reason == "就是这盏灯"
    assert row.details == {"previous_component_code": world.near.code}


def test_a_dispatcher_changes_the_component_and_a_filed_case_goes_to_its_maintainer(
    session: Session, client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    case_id = new_case()
    filed = client.post(f"/api/cases/{case_id}/actions/file", headers=world.dispatcher)
    assert filed.status_code == 200, filed.text
    response = act(
        client, case_id, world.dispatcher, action="change", component_code=world.far.code
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["component"]["code"] == world.far.code
    assert answer["component"]["distance_m"] == pytest.approx(40.0, abs=0.05)
    assert answer["component_match"] == "changed"
    assert answer["rerouted"] is True
    assert answer["suggested_department_code"] == "LD"
    assert answer["routing_reason"].startswith(f"component {world.far.code}'s maintainer")
    row = last_history_row(session, case_id)
    assert row.action == "component_change"
    assert row.details["previous_component_code"] == world.near.code
    assert row.details["component_code"] == world.far.code
    # The dispatch follows the suggestion: to the maintainer.
    dispatched = client.post(f"/api/cases/{case_id}/actions/dispatch", headers=world.dispatcher)
    assert dispatched.status_code == 200, dispatched.text
    case = session.get(Case, case_id)
    assert case is not None and case.department_id == world.lighting.id


def test_not_in_the_inventory_clears_the_match_and_opens_a_census_task(
    session: Session, client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    case_id = new_case(world.citizen)
    response = act(client, case_id, world.citizen, action="not_in_inventory", note="新装的灯")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["component"] is None and answer["component_match"] == "not_in_inventory"
    task = session.get(CensusTask, answer["census_task_id"])
    assert task is not None and task.status == "open" and task.case_id == case_id
    at_case = session.scalar(
        text("SELECT ST_Equals(t.geom, c.geom) FROM census_task t, event_case c"
             " WHERE t.id = :task_id AND c.id = :case_id"),
        {"task_id": task.id, "case_id": case_id},
    )  # fmt: skip
    assert at_case is True
    assert act(client, case_id, world.citizen, action="not_in_inventory").status_code == 409
    listed = client.get("/api/census-tasks", headers=world.dispatcher).json()
    assert [(t["id"], t["case_id"], t["category_code"], t["note"]) for t in listed] == [
        (task.id, case_id, LAMP, "新装的灯")
    ]
    assert listed[0]["lon"] == pytest.approx(REPORTED_AT[0])


def test_who_may_act_on_a_case_component(
    session: Session, client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    case_id = new_case()
    refused = {
        # Not their report: the case is hidden from them, as a missing one is.
        "other_inspector": (world.other_inspector, 404),
        "citizen": (world.citizen, 404),
        "department": (world.department, 403),  # the route admits no department member
    }
    for name, (headers, status) in refused.items():
        assert act(client, case_id, headers, action="confirm").status_code == status, name
    assert client.get("/api/census-tasks", headers=world.citizen).status_code == 403
    assert act(client, case_id, world.dispatcher, action="confirm").status_code == 200
    assert act(client, 10**9, world.dispatcher, action="confirm").status_code == 404


def test_refusals_name_what_is_wrong(
    session: Session, client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    case_id = new_case()
    other = lamp(session, 3, 8.0)
    cover_category = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == "0101")
    )
    assert cover_category is not None
    other.category_id = cover_category.id
    session.flush()
    wrong = act(client, case_id, world.reporter, action="change", component_code=other.code)
    assert (wrong.status_code, wrong.json()["field"]) == (422, "component_code")
    assert "not of the case's category 0118" in wrong.json()["detail"]
    without = act(client, case_id, world.reporter, action="change")
    assert (without.status_code, without.json()["field"]) == (422, "component_code")
    act(client, case_id, world.reporter, action="not_in_inventory")
    assert act(client, case_id, world.reporter, action="confirm").status_code == 409
    event = add_category(session, code="0102", kind="event")
    lon, lat = REPORTED_AT
    body = {"report_uuid": str(uuid.uuid4()), "category_id": event.id, "lon": lon, "lat": lat,
            "description": "垃圾"}  # fmt: skip
    event_case = client.post("/api/reports", json=body, headers=world.reporter).json()["case_id"]
    refused = act(client, event_case, world.reporter, action="confirm")
    assert refused.status_code == 409
    assert "not a component" in refused.json()["detail"]
