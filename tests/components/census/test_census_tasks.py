"""Census tasks: listed, done with the surveyed component, or dismissed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.events.cases.component_support import World, act, build_world, case_filer


@pytest.fixture
def world(session: Session, client: TestClient, tmp_path: Path) -> World:
    return build_world(session, client, tmp_path / "media")


@pytest.fixture
def new_case(client: TestClient, world: World) -> Callable[..., int]:
    """A lamp report at REPORTED_AT (the near lamp is suggested); its case id."""
    return case_filer(client, world)


def test_a_census_task_is_done_with_the_new_component_or_dismissed(
    client: TestClient, world: World, new_case: Callable[..., int]
) -> None:
    tasks = []
    for _ in range(2):
        case_id = new_case()
        answer = act(client, case_id, world.reporter, action="not_in_inventory").json()
        tasks.append(answer["census_task_id"])
    url = f"/api/census-tasks/{tasks[0]}"
    missing = client.post(url, json={"outcome": "done"}, headers=world.dispatcher)
    assert (missing.status_code, missing.json()["field"]) == (422, "component_code")
    body = {"outcome": "done", "component_code": world.far.code, "note": "已普查"}
    done = client.post(url, json=body, headers=world.dispatcher)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["component_code"]) == ("done", world.far.code)
    assert done.json()["resolved_at"] is not None
    assert client.post(url, json=body, headers=world.dispatcher).status_code == 409
    dismissed = client.post(
        f"/api/census-tasks/{tasks[1]}", json={"outcome": "dismissed"}, headers=world.dispatcher
    )
    assert dismissed.json()["status"] == "dismissed"
    assert client.get("/api/census-tasks", headers=world.dispatcher).json() == []
    every = client.get("/api/census-tasks?status=done", headers=world.dispatcher).json()
    assert [t["id"] for t in every] == [tasks[0]]
