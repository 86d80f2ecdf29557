"""Intake matches a component report to the nearest inventoried component of its category."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.db import session_fetcher
from components import matching
from components.models import Component
from events.models import Case, Category
from tests.events.intake.support import configure_app, headers_for
from tests.events.seed import add_user
from tests.grid.places import CELL_NW, centre_of, seed_block

GEOD = Geod(ellps="WGS84")
STANDARD = "GB/T 30428.2-2013"
LAMP, MANHOLE, FENCE, GREEN_SPACE = "0118", "0101", "0408", "0405"
REPORTED_AT = centre_of(CELL_NW)
SEQUENCE = count(1)


def moved(point: tuple[float, float], *, azimuth: float, distance_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(point[0], point[1], azimuth, distance_m)
    return float(lon), float(lat)


def category(session: Session, code: str) -> Category:
    found = session.scalar(
        select(Category).where(
            Category.kind == "component", Category.code == code, Category.standard == STANDARD
        )
    )
    assert found is not None
    return found


def add_component(
    session: Session, code: str, wkt: str, *, status: str = "in_use", **columns: Any
) -> Component:
    """A component of category `code` with a fresh identifier in the demo district."""
    component = Component(
        code=f"110101{code}{next(SEQUENCE):06d}",
        category_id=category(session, code).id,
        geom=func.ST_GeomFromText(wkt, 4326),
        status=status,
        **columns,
    )
    session.add(component)
    session.flush()
    return component


def point_wkt(point: tuple[float, float]) -> str:
    return f"POINT({point[0]} {point[1]})"


def lamp_at(
    session: Session, distance_m: float, azimuth: float = 90.0, **columns: Any
) -> Component:
    where = moved(REPORTED_AT, azimuth=azimuth, distance_m=distance_m)
    return add_component(session, LAMP, point_wkt(where), **columns)


@pytest.fixture
def report(session: Session, client: TestClient, tmp_path: Path) -> Callable[..., Response]:
    """POST a report of a category (component kind) at a point as an inspector."""
    seed_block(session)
    configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]
    headers = headers_for(add_user(session, Role.INSPECTOR))

    def post(code: str = LAMP, point: tuple[float, float] = REPORTED_AT, **extra: Any) -> Response:
        body = {
            "report_uuid": str(uuid.uuid4()),
            "category_code": code,
            "kind": "component",
            "lon": point[0],
            "lat": point[1],
            "description": "路灯不亮 the lamp is out",
            **extra,
        }
        response: Response = client.post("/api/reports", json=body, headers=headers)
        return response

    return post


def case_of(session: Session, response: Response) -> Case:
    assert response.status_code == 201, response.text
    case = session.get(Case, response.json()["case_id"])
    assert case is not None
    session.refresh(case)
    return case


def test_the_nearest_component_of_the_category_is_suggested_with_its_distance(
    session: Session, report: Callable[..., Response]
) -> None:
    add_component(session, MANHOLE, point_wkt(moved(REPORTED_AT, azimuth=0, distance_m=3)))
    nearest = lamp_at(session, 10.0, name="东四北大街路灯12号")
    lamp_at(session, 12.0, azimuth=180.0)
    response = report()
    component = response.json()["component"]
    assert component["code"] == nearest.code
    assert component["name"] == "东四北大街路灯12号"
    assert component["match"] == "suggested"
    assert component["distance_m"] == pytest.approx(10.0, abs=0.05)
    case = case_of(session, response)
    assert (case.component_id, case.component_match) == (nearest.id, "suggested")
    assert case.component_distance_m == pytest.approx(10.0, abs=0.05)


def test_no_component_beyond_the_radius(session: Session, report: Callable[..., Response]) -> None:
    lamp_at(session, 16.0)  # the default radius is 15 m
    response = report()
    assert response.json()["component"] is None
    case = case_of(session, response)
    assert (case.component_id, case.component_match) == (None, None)


def test_event_reports_are_not_matched(session: Session, report: Callable[..., Response]) -> None:
    add_component(session, "0102", point_wkt(REPORTED_AT))  # a sewage cover, right there
    response = report(code="0102", kind="event")  # event 0102: exposed garbage
    assert response.json()["component"] is None


def test_a_category_radius_overrides_the_default(
    session: Session, report: Callable[..., Response]
) -> None:
    far = lamp_at(session, 20.0)
    category(session, LAMP).component_radius_m = 25.0
    session.flush()
    assert report().json()["component"]["code"] == far.code
    category(session, LAMP).component_radius_m = 5.0
    session.flush()
    lamp_at(session, 8.0)
    assert report().json()["component"] is None


def test_removed_components_are_ignored(session: Session, report: Callable[..., Response]) -> None:
    lamp_at(session, 2.0, status="removed")
    damaged = lamp_at(session, 9.0, status="damaged")
    assert report().json()["component"]["code"] == damaged.code


@pytest.mark.parametrize(
    ("code", "shape", "expected_m"),
    [
        # A fence 200 m long, 8 m north of the report: near its middle, far from its ends.
        (FENCE, "line", 8.0),
        # A green belt whose southern edge is 6 m north of the report.
        (GREEN_SPACE, "polygon_beside", 6.0),
        # The report inside the green space.
        (GREEN_SPACE, "polygon_around", 0.0),
    ],
)
def test_lines_and_polygons_match_by_their_nearest_point(
    session: Session, report: Callable[..., Response], code: str, shape: str, expected_m: float
) -> None:
    lon, _ = REPORTED_AT
    north = moved(
        REPORTED_AT, azimuth=0, distance_m=expected_m if shape != "polygon_around" else -5
    )
    west, east = lon - 0.0012, lon + 0.0012  # ~100 m each way
    top = moved(REPORTED_AT, azimuth=0, distance_m=40)[1]
    if shape == "line":
        wkt = f"LINESTRING({west} {north[1]}, {east} {north[1]})"
    else:
        south = north[1]
        ring = f"{west} {south}, {east} {south}, {east} {top}, {west} {top}, {west} {south}"
        wkt = f"POLYGON(({ring}))"
    component = add_component(session, code, wkt)
    matched = report(code=code).json()["component"]
    assert matched["code"] == component.code
    assert matched["distance_m"] == pytest.approx(expected_m, abs=0.05)


def test_a_component_named_by_the_reporter_is_used_when_it_is_of_the_category(
    session: Session, report: Callable[..., Response]
) -> None:
    lamp_at(session, 5.0)
    named = lamp_at(session, 60.0)  # beyond the radius: the reporter knows better
    response = report(component_code=named.code)
    assert response.json()["component"]["code"] == named.code
    assert response.json()["component"]["match"] == "confirmed"
    assert response.json()["component"]["distance_m"] == pytest.approx(60.0, abs=0.05)
    assert case_of(session, response).component_id == named.id


def test_a_named_component_that_cannot_be_the_one_refuses_the_report(
    session: Session, report: Callable[..., Response]
) -> None:
    cover = add_component(session, MANHOLE, point_wkt(REPORTED_AT))
    removed = lamp_at(session, 3.0, status="removed")
    cases_before = session.scalar(select(func.count()).select_from(Case))
    refusals = {
        cover.code: "is of category 0101, not of the report's category 0118",
        removed.code: "was removed",
        "1101010118999999": "no component has code 1101010118999999",
        "11010101": "component_code",
    }
    for code, message in refusals.items():
        response = report(component_code=code)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "component_code"
        assert message in response.json()["detail"]
    assert session.scalar(select(func.count()).select_from(Case)) == cases_before


def test_open_cases_on_one_component_are_duplicates_however_far_apart(
    session: Session, report: Callable[..., Response]
) -> None:
    _, lat = REPORTED_AT
    fence = add_component(session, FENCE, f"LINESTRING(116.3991 {lat}, 116.4009 {lat})")
    west_end = moved((116.3992, lat), azimuth=180, distance_m=5)
    east_end = moved((116.4008, lat), azimuth=0, distance_m=5)
    first = report(code=FENCE, point=west_end).json()
    second = report(code=FENCE, point=east_end).json()  # beyond the 50 m duplicate radius
    assert first["component"]["code"] == second["component"]["code"] == fence.code
    candidates = second["duplicate_candidates"]
    assert [(c["id"], c["same_component"]) for c in candidates] == [(first["case_id"], True)]
    assert candidates[0]["distance_m"] == pytest.approx(137.0, abs=3.0)
    closed = session.get(Case, first["case_id"])
    assert closed is not None
    closed.status = "closed"
    session.flush()
    third = report(code=FENCE).json()
    assert [(c["id"], c["same_component"]) for c in third["duplicate_candidates"]] == [
        (second["case_id"], True)
    ]


def test_the_matcher_runs_alone_async_and_sync(session: Session) -> None:
    seed_block(session)
    near = lamp_at(session, 7.0)
    lamp_id = category(session, LAMP).id
    lon, lat = REPORTED_AT
    found = asyncio.run(
        matching.nearest_component(
            session_fetcher(session), category_id=lamp_id, lon=lon, lat=lat, radius_m=15.0
        )
    )
    assert found is not None and found.id == near.id
    assert found.distance_m == pytest.approx(7.0, abs=0.05)
    assert (
        matching.nearest_component_sync(
            session, category_id=lamp_id, lon=lon, lat=lat, radius_m=6.9
        )
        is None
    )


@pytest.mark.parametrize(
    ("category_radius_m", "default_m", "expected_m"),
    [(None, 15.0, 15.0), (40.0, 15.0, 40.0), (0.0, 15.0, 0.0)],
)
def test_radius_of(category_radius_m: float | None, default_m: float, expected_m: float) -> None:
    assert matching.radius_of(category_radius_m, default_m) == expected_m
