"""Locating points in the grid: one at a time in PostGIS, in bulk through the in-process index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import Settings, settings_dependency
from grid.geometry import gcj02_to_bd09, wgs84_to_gcj02
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    COMMUNITY,
    DISTRICT,
    EDGE_NE_SE,
    EDGE_NW_NE,
    EDGE_SW_SE,
    STREET,
    VERTEX_OF_ALL_FOUR,
    Place,
    centre_of,
    east_of_block,
    seed_block,
)

Headers = dict[str, str]
Point = tuple[float, float]

# Points on shared boundaries and the cell that must win: the lowest code among those touching.
BOUNDARY_POINTS: dict[str, tuple[Point, Place]] = {
    "edge NW|NE": (EDGE_NW_NE, CELL_NW),
    "edge NE|SE": (EDGE_NE_SE, CELL_NE),
    "edge SW|SE": (EDGE_SW_SE, CELL_SW),
    "vertex of all four": (VERTEX_OF_ALL_FOUR, CELL_NW),
}


@pytest.fixture
def grid(session: Session) -> None:
    seed_block(session)


@pytest.fixture
def headers(auth: Callable[[Role], Headers]) -> Headers:
    return auth(Role.INSPECTOR)


def locate_one(client: TestClient, headers: Headers, point: Point, **params: str) -> Any:
    lon, lat = point
    return client.get(
        "/api/grid/locate", params={"lon": lon, "lat": lat, **params}, headers=headers
    )


def locate_bulk(
    client: TestClient, headers: Headers, points: list[Point], crs: str = "EPSG:4326"
) -> Any:
    return client.post("/api/grid/locate", json={"crs": crs, "points": points}, headers=headers)


@pytest.mark.usefixtures("grid")
def test_locate_names_the_cell_and_the_units_above_it(client: TestClient, headers: Headers) -> None:
    response = locate_one(client, headers, centre_of(CELL_SE))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cell"]["code"] == CELL_SE.code
    assert body["cell"]["name"] == CELL_SE.name
    assert body["cell"]["area_m2"] == pytest.approx(111_320 * 0.001 * 85_390 * 0.001, rel=0.01)
    assert body["community"] == {"code": COMMUNITY.code, "name": COMMUNITY.name}
    assert body["street"] == {"code": STREET.code, "name": STREET.name}
    assert body["district"] == {"code": DISTRICT.code, "name": DISTRICT.name}
    assert (body["snapped"], body["distance_m"]) == (False, 0.0)


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize("cell", [CELL_NW, CELL_NE, CELL_SW, CELL_SE], ids=lambda c: c.code)
def test_each_cell_centre_lands_in_its_cell(
    client: TestClient, headers: Headers, cell: Place
) -> None:
    assert locate_one(client, headers, centre_of(cell)).json()["cell"]["code"] == cell.code


def gcj02_of(point: Point) -> Point:
    shifted = wgs84_to_gcj02(np.array([point]))
    return float(shifted[0, 0]), float(shifted[0, 1])


def bd09_of(point: Point) -> Point:
    shifted = gcj02_to_bd09(wgs84_to_gcj02(np.array([point])))
    return float(shifted[0, 0]), float(shifted[0, 1])


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize(("crs", "shift"), [("GCJ-02", gcj02_of), ("BD-09", bd09_of)])
def test_offset_datum_input_lands_in_the_right_cell(
    client: TestClient, headers: Headers, crs: str, shift: Callable[[Point], Point]
) -> None:
    shifted = shift(centre_of(CELL_NE))
    as_wgs84 = locate_one(client, headers, shifted)
    assert as_wgs84.status_code == 422  # hundreds of metres off when the datum is ignored
    response = locate_one(client, headers, shifted, crs=crs)
    assert response.status_code == 200, response.text
    assert response.json()["cell"]["code"] == CELL_NE.code
    assert response.json()["lon"] == pytest.approx(centre_of(CELL_NE)[0], abs=1e-5)


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize(("point", "winner"), BOUNDARY_POINTS.values(), ids=BOUNDARY_POINTS)
def test_shared_boundary_goes_to_the_lowest_code(
    client: TestClient, headers: Headers, point: Point, winner: Place
) -> None:
    one = locate_one(client, headers, point).json()
    bulk = locate_bulk(client, headers, [point]).json()["results"][0]
    assert one["cell"]["code"] == winner.code
    assert bulk == one


@pytest.mark.usefixtures("grid")
def test_bulk_and_single_agree_on_every_boundary_point_at_once(
    client: TestClient, headers: Headers
) -> None:
    points = [point for point, _ in BOUNDARY_POINTS.values()]
    bulk = locate_bulk(client, headers, points).json()["results"]
    assert bulk == [locate_one(client, headers, point).json() for point in points]


@pytest.mark.usefixtures("grid")
def test_a_point_just_outside_snaps_to_the_nearest_cell(
    client: TestClient, headers: Headers
) -> None:
    response = locate_one(client, headers, east_of_block(10.0))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cell"]["code"] == CELL_NE.code
    assert body["snapped"] is True
    assert body["distance_m"] == pytest.approx(10.0, abs=1.0)


@pytest.mark.usefixtures("grid")
def test_a_point_far_outside_is_refused_with_the_distance(
    client: TestClient, headers: Headers
) -> None:
    response = locate_one(client, headers, east_of_block(100.0))
    assert response.status_code == 422
    body = response.json()
    assert "outside the managed area" in body["detail"]
    assert body["nearest_cell_distance_m"] == pytest.approx(100.0, abs=1.0)


def test_without_any_grid_every_point_is_outside(client: TestClient, headers: Headers) -> None:
    response = locate_one(client, headers, centre_of(CELL_NW))
    assert response.status_code == 422
    assert "outside the managed area" in response.json()["detail"]
    assert response.json()["nearest_cell_distance_m"] is None


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize(("lon", "lat"), [("nan", "39.9"), ("116.4", "inf"), ("-inf", "nan")])
def test_non_finite_coordinates_are_refused(
    client: TestClient, headers: Headers, lon: str, lat: str
) -> None:
    response = client.get("/api/grid/locate", params={"lon": lon, "lat": lat}, headers=headers)
    assert response.status_code == 422
    assert response.json()["field"] == "lon/lat"


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_coordinates_in_bulk_are_refused(
    client: TestClient, headers: Headers, bad: str
) -> None:
    content = f'{{"points": [[116.4, 39.9], [{bad}, 39.9]]}}'
    response = client.post(
        "/api/grid/locate",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "point 1 is not finite once converted from EPSG:4326 to WGS-84",
        "field": "points",
    }


# Finite input that is no place on Earth once converted: out of range, or overflowing to inf/NaN.
OFF_THE_GLOBE = {
    "latitude 95": ((116.4, 95.0), "EPSG:4326", "outside lon ±180"),
    "longitude 200": ((200.0, 39.9), "EPSG:4326", "outside lon ±180"),
    "huge UTM x/y": ((1e300, 1e300), "EPSG:32650", "is not finite"),
    "huge BD-09": ((1e300, 1e300), "BD-09", "is not finite"),
}


@pytest.mark.usefixtures("grid")
@pytest.mark.parametrize(("point", "crs", "problem"), OFF_THE_GLOBE.values(), ids=OFF_THE_GLOBE)
def test_points_off_the_globe_are_refused_not_located(
    client: TestClient, headers: Headers, point: Point, crs: str, problem: str
) -> None:
    single = locate_one(client, headers, point, crs=crs)
    bulk = locate_bulk(client, headers, [centre_of(CELL_NE), point], crs=crs)
    assert (single.status_code, single.json()["field"]) == (422, "lon/lat")
    assert problem in single.json()["detail"]
    assert (bulk.status_code, bulk.json()["field"]) == (422, "points")
    assert bulk.json()["detail"].startswith("point 1 ")


@pytest.mark.usefixtures("grid")
def test_unknown_crs_is_refused_naming_crs(client: TestClient, headers: Headers) -> None:
    single = locate_one(client, headers, centre_of(CELL_NE), crs="EPSG:999999")
    bulk = locate_bulk(client, headers, [centre_of(CELL_NE)], crs="EPSG:999999")
    assert (single.status_code, single.json()["field"]) == (422, "crs")
    assert (bulk.status_code, bulk.json()["field"]) == (422, "crs")


@pytest.mark.usefixtures("grid")
def test_bulk_keeps_the_order_of_a_mix_of_inside_and_outside(
    client: TestClient, headers: Headers
) -> None:
    points = [
        centre_of(CELL_SE),
        east_of_block(100.0),
        centre_of(CELL_NW),
        east_of_block(10.0),
        centre_of(CELL_SW),
    ]
    response = locate_bulk(client, headers, points)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["located"], body["not_located"]) == (4, 1)
    codes = [result.get("cell", {}).get("code") for result in body["results"]]
    assert codes == [CELL_SE.code, None, CELL_NW.code, CELL_NE.code, CELL_SW.code]
    assert body["results"][1]["nearest_cell_distance_m"] == pytest.approx(100.0, abs=1.0)
    assert body["results"][3]["snapped"] is True


@pytest.mark.usefixtures("grid")
def test_bulk_refuses_more_than_locate_bulk_max_points(
    client: TestClient, headers: Headers
) -> None:
    assert isinstance(client.app, FastAPI)
    client.app.dependency_overrides[settings_dependency] = lambda: Settings(locate_bulk_max=3)
    response = locate_bulk(client, headers, [centre_of(CELL_NE)] * 4)
    assert response.status_code == 422
    assert response.json()["field"] == "points"
    assert "at most 3 points" in response.json()["detail"]
    assert locate_bulk(client, headers, [centre_of(CELL_NE)] * 3).status_code == 200


def test_bulk_sees_a_grid_change_in_the_same_transaction(
    client: TestClient, headers: Headers, session: Session
) -> None:
    before = locate_bulk(client, headers, [centre_of(CELL_NE)]).json()
    assert before["not_located"] == 1
    seed_block(session)
    after = locate_bulk(client, headers, [centre_of(CELL_NE)]).json()
    assert after["results"][0]["cell"]["code"] == CELL_NE.code


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_locating_needs_a_token(client: TestClient, method: str) -> None:
    if method == "GET":
        response = client.get("/api/grid/locate", params={"lon": 116.4, "lat": 39.9})
    else:
        response = client.post("/api/grid/locate", json={"points": [[116.4, 39.9]]})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
