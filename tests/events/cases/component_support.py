"""The world of the case-component tests: the block, two lamps, and who acts on a case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from components.models import Component
from events.models import CaseTransition, Category
from tests.events.intake.support import configure_app, headers_for
from tests.events.seed import add_department, add_user
from tests.grid.places import CELL_NW, centre_of, seed_block

GEOD = Geod(ellps="WGS84")
REPORTED_AT = centre_of(CELL_NW)
LAMP = "0118"
Headers = dict[str, str]


@dataclass(frozen=True)
class World:
    """The block, two lamps (the far one maintained by LD), and who acts."""

    near: Component
    far: Component
    lighting: Department
    reporter: Headers
    other_inspector: Headers
    citizen: Headers
    dispatcher: Headers
    department: Headers


def lamp(session: Session, sequence: int, distance_m: float, **columns: Any) -> Component:
    category = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == LAMP)
    )
    assert category is not None
    lon, lat, _ = GEOD.fwd(*REPORTED_AT, 90.0, distance_m)
    component = Component(
        code=f"11010101180000{sequence:02d}",
        category_id=category.id,
        geom=func.ST_GeomFromText(f"POINT({lon} {lat})", 4326),
        **columns,
    )
    session.add(component)
    session.flush()
    return component


def build_world(session: Session, client: TestClient, media_dir: Path) -> World:
    """The block, the two lamps and who acts; the app's media under `media_dir`."""
    seed_block(session)
    configure_app(client.app, media_dir)  # type: ignore[arg-type]
    lighting = add_department(session, code="LD", kind="street_lighting_office")
    return World(
        near=lamp(session, 1, 4.0),
        far=lamp(session, 2, 40.0, maintainer_department_id=lighting.id),
        lighting=lighting,
        reporter=headers_for(add_user(session, Role.INSPECTOR)),
        other_inspector=headers_for(add_user(session, Role.INSPECTOR)),
        citizen=headers_for(add_user(session, Role.CITIZEN)),
        dispatcher=headers_for(add_user(session, Role.DISPATCHER)),
        department=headers_for(add_user(session, Role.DEPARTMENT, department=lighting)),
    )


def case_filer(client: TestClient, world: World) -> Callable[..., int]:
    """A function filing a lamp report at REPORTED_AT (the near lamp is suggested), by the
    reporter unless other headers are given; it returns the case id."""

    def file(headers: Headers | None = None, **extra: Any) -> int:
        lon, lat = REPORTED_AT
        body = {"report_uuid": str(uuid.uuid4()), "category_code": LAMP, "kind": "component",
                "lon": lon, "lat": lat, "description": "路灯不亮", **extra}  # fmt: skip
        response = client.post("/api/reports", json=body, headers=headers or world.reporter)
        assert response.status_code == 201, response.text
        case_id: int = response.json()["case_id"]
        return case_id

    return file


def act(client: TestClient, case_id: int, headers: Headers, **body: Any) -> Response:
    response: Response = client.post(f"/api/cases/{case_id}/component", json=body, headers=headers)
    return response


def last_history_row(session: Session, case_id: int) -> CaseTransition:
    row = session.scalar(
        select(CaseTransition)
        .where(CaseTransition.case_id == case_id)
        .order_by(CaseTransition.id.desc())
        .limit(1)
    )
    assert row is not None
    return row
