"""Editing a component (PATCH, with its permissions) and its history, oldest first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from tests.components.import_support import (
    count,
    headers_for,
    import_file,
    row,
    seed_block_and_departments,
    write_geojson,
)


@pytest.fixture
def block(session: Session) -> list[Department]:
    """The test block, and departments SZ-01 (water) and LD-01 (lighting)."""
    return seed_block_and_departments(session)


@pytest.fixture
def lamp(session: Session, block: list[Department], tmp_path: Path) -> int:
    """A component maintained by SZ-01; its id."""
    import_file(session, write_geojson(tmp_path / "lamp.geojson", [row(1, maintainer="SZ-01")]))
    return int(session.scalar(text("SELECT id FROM component")) or 0)


def test_an_admin_edits_a_component_and_the_history_keeps_before_and_after(
    client: TestClient, session: Session, block: list[Department], lamp: int
) -> None:
    water, lighting = block
    admin = headers_for(session, Role.ADMIN)
    body = {"name": "路灯 7", "maintainer_department_id": lighting.id, "status": "in_use"}
    response = client.patch(f"/api/components/{lamp}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "路灯 7"
    assert response.json()["maintainer"]["id"] == lighting.id

    history = client.get(f"/api/components/{lamp}/changes", headers=admin)
    assert history.status_code == 200, history.text
    assert [entry["action"] for entry in history.json()] == ["imported", "updated"]
    assert history.json()[1]["changes"] == {  # the status did not change: not recorded
        "name": [None, "路灯 7"],
        "maintainer_department_id": [water.id, lighting.id],
    }
    assert history.json()[1]["changed_by_name"] == "admin"


def test_the_maintaining_department_may_change_the_status_only(
    client: TestClient, session: Session, block: list[Department], lamp: int
) -> None:
    water, lighting = block
    member = headers_for(session, Role.DEPARTMENT, water)
    response = client.patch(f"/api/components/{lamp}", json={"status": "damaged"}, headers=member)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "damaged"
    renamed = client.patch(f"/api/components/{lamp}", json={"name": "x"}, headers=member)
    assert renamed.status_code == 403, renamed.text
    outsider = headers_for(session, Role.DEPARTMENT, lighting)
    refused = client.patch(f"/api/components/{lamp}", json={"status": "removed"}, headers=outsider)
    assert refused.status_code == 403, refused.text
    changes = client.get(f"/api/components/{lamp}/changes", headers=member).json()
    assert [(c["action"], c["changes"]) for c in changes] == [
        ("imported", {}),
        ("status", {"status": ["in_use", "damaged"]}),
    ]


@pytest.mark.parametrize(
    ("role", "body", "status", "field"),
    [
        (Role.DISPATCHER, {"status": "damaged"}, 403, None),
        (Role.ADMIN, {"owner_department_id": 999_999}, 422, "owner_department_id"),
        (Role.ADMIN, {"status": None}, 422, "status"),
        (Role.ADMIN, {"status": "broken"}, 422, None),
        (Role.ADMIN, {"code": "1101010101000002"}, 422, None),
    ],
    ids=["dispatcher", "unknown department", "null status", "bad status", "code is fixed"],
)
def test_bad_edits_are_refused(
    client: TestClient,
    session: Session,
    lamp: int,
    role: Role,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = client.patch(
        f"/api/components/{lamp}", json=body, headers=headers_for(session, role)
    )
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["field"] == field
    assert count(session, "component_change") == 1  # only 'imported'


def test_editing_or_reading_a_missing_component_is_404(
    client: TestClient, session: Session, block: list[Department]
) -> None:
    admin = headers_for(session, Role.ADMIN)
    assert client.patch("/api/components/999999", json={}, headers=admin).status_code == 404
    assert client.get("/api/components/999999/changes", headers=admin).status_code == 404
