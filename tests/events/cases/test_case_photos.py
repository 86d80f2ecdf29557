"""Photos for an action: uploaded to the case, then named by the action that uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.settings import get_settings, settings_dependency
from tests.events.cases.world import (
    World,
    accepted_case,
    act,
    handled_case,
    headers_of,
    history,
    ok,
)
from tests.events.photos.images import image_bytes


@pytest.fixture(autouse=True)
def media_in_tmp(client: TestClient, tmp_path: Path) -> None:
    settings = get_settings().model_copy(update={"media_dir": tmp_path / "media"})
    assert isinstance(client.app, FastAPI)
    client.app.dependency_overrides[settings_dependency] = lambda: settings


def upload(client: TestClient, case_id: int, user: User, *contents: bytes) -> Response:
    files = [("photos", (f"p{i}.jpg", content, "image/jpeg")) for i, content in enumerate(contents)]
    response: Response = client.post(
        f"/api/cases/{case_id}/photos", files=files, headers=headers_of(user)
    )
    return response


def test_the_department_hands_in_feedback_photos_with_its_handling(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    uploaded = upload(client, case_id, world.worker, image_bytes(), image_bytes("PNG"))
    assert uploaded.status_code == 201, uploaded.text
    photo_ids = uploaded.json()["photo_ids"]
    assert len(photo_ids) == 2
    ok(act(client, case_id, "handle", world.worker, reason="cleared", photo_ids=photo_ids))
    handled = history(client, case_id, world.dispatcher)[-1]
    assert handled["action"] == "handle"
    assert sorted(handled["details"]["photo_ids"]) == sorted(photo_ids)
    public = client.get(f"/api/photos/{photo_ids[0]}", headers=headers_of(world.dispatcher))
    assert public.status_code == 200
    assert public.headers["content-type"] == "image/jpeg"


def test_the_inspector_adds_a_verification_photo(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = handled_case(session, client, world)
    uploaded = upload(client, case_id, world.inspector, image_bytes())
    assert uploaded.status_code == 201
    photo_ids = uploaded.json()["photo_ids"]
    ok(act(client, case_id, "verify_pass", world.inspector, photo_ids=photo_ids))


def test_no_photos_without_an_action_to_take(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    other_department = upload(client, case_id, world.road_worker, image_bytes())
    assert other_department.status_code == 404  # another department's case is hidden from it


def test_a_file_that_is_not_an_image_is_refused(
    session: Session, client: TestClient, world: World
) -> None:
    case_id = accepted_case(session, client, world)
    refused = upload(client, case_id, world.worker, b"%PDF-1.4 not an image")
    assert refused.status_code == 422
    assert refused.json()["field"] == "photos"
