"""Reading grid units: pages of cells (or any level) and one unit by code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import Settings, settings_dependency
from tests.citygrid.refusals import refused_field
from tests.grid.places import (
    BLOCK_EAST,
    BLOCK_NORTH,
    BLOCK_SOUTH,
    BLOCK_WEST,
    CELL_NE,
    CELL_SE,
    CELLS_IN_CODE_ORDER,
    COMMUNITY,
    DISTRICT,
    ORIGIN_LAT,
    ORIGIN_LON,
    STREET,
    Place,
    seed_block,
)

Headers = dict[str, str]
ALL_CODES = [cell.code for cell in CELLS_IN_CODE_ORDER]


@pytest.fixture(autouse=True)
def grid(session: Session) -> None:
    seed_block(session)


@pytest.fixture
def headers(auth: Callable[[Role], Headers]) -> Headers:
    return auth(Role.CITIZEN)


def cells(client: TestClient, headers: Headers, **params: Any) -> Any:
    return client.get("/api/grid/cells", params=params, headers=headers)


def codes_of(page: dict[str, Any]) -> list[str]:
    return [feature["id"] for feature in page["features"]]


def bbox(west: float, south: float, east: float, north: float) -> str:
    return f"{west},{south},{east},{north}"


def test_default_page_has_every_cell_in_code_order(client: TestClient, headers: Headers) -> None:
    page = cells(client, headers).json()
    assert page["type"] == "FeatureCollection"
    assert codes_of(page) == ALL_CODES
    assert (page["number_matched"], page["number_returned"], page["next_page"]) == (4, 4, None)


def test_page_size_one_walks_every_cell_in_code_order(client: TestClient, headers: Headers) -> None:
    seen: list[str] = []
    page_number: int | None = 1
    while page_number is not None:
        page = cells(client, headers, page=page_number, page_size=1).json()
        assert (page["page"], page["number_matched"], page["number_returned"]) == (
            page_number,
            4,
            1,
        )
        seen += codes_of(page)
        page_number = page["next_page"]
        assert page_number is None or page_number == page["page"] + 1
    assert seen == ALL_CODES


def test_a_page_past_the_end_is_empty(client: TestClient, headers: Headers) -> None:
    page = cells(client, headers, page=3, page_size=2).json()
    assert (codes_of(page), page["number_matched"], page["next_page"]) == ([], 4, None)


def test_cell_feature_carries_its_properties(client: TestClient, headers: Headers) -> None:
    feature = cells(client, headers, page_size=1).json()["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "MultiPolygon"
    properties = feature["properties"]
    assert properties["code"] == CELLS_IN_CODE_ORDER[0].code
    assert properties["name"] == CELLS_IN_CODE_ORDER[0].name
    assert (properties["level"], properties["parent_code"]) == ("cell", COMMUNITY.code)
    assert properties["area_m2"] == pytest.approx(9_495, rel=0.01)  # 0.001° square at 39.9° N


BBOX_CASES = {
    "inside NE only": (
        bbox(ORIGIN_LON + 0.0002, ORIGIN_LAT + 0.0002, BLOCK_EAST - 0.0002, BLOCK_NORTH - 0.0002),
        [CELL_NE.code],
    ),
    "east half": (
        bbox(ORIGIN_LON + 0.0001, BLOCK_SOUTH, BLOCK_EAST, BLOCK_NORTH),
        [CELL_NE.code, CELL_SE.code],
    ),
    "tiny box on the shared vertex": (
        bbox(ORIGIN_LON - 1e-7, ORIGIN_LAT - 1e-7, ORIGIN_LON + 1e-7, ORIGIN_LAT + 1e-7),
        ALL_CODES,
    ),
    "whole block": (bbox(BLOCK_WEST, BLOCK_SOUTH, BLOCK_EAST, BLOCK_NORTH), ALL_CODES),
    "far away": (bbox(0.0, 0.0, 1.0, 1.0), []),
}


@pytest.mark.parametrize(("box", "expected"), BBOX_CASES.values(), ids=BBOX_CASES)
def test_bbox_keeps_the_cells_it_touches(
    client: TestClient, headers: Headers, box: str, expected: list[str]
) -> None:
    page = cells(client, headers, bbox=box).json()
    assert codes_of(page) == expected
    assert page["number_matched"] == len(expected)


def test_bbox_and_paging_together(client: TestClient, headers: Headers) -> None:
    east_half = BBOX_CASES["east half"][0]
    first = cells(client, headers, bbox=east_half, page_size=1).json()
    second = cells(client, headers, bbox=east_half, page_size=1, page=2).json()
    assert (codes_of(first), first["next_page"]) == ([CELL_NE.code], 2)
    assert (codes_of(second), second["next_page"]) == ([CELL_SE.code], None)


@pytest.mark.parametrize(
    ("level", "place", "parent"),
    [("community", COMMUNITY, STREET), ("street", STREET, DISTRICT), ("district", DISTRICT, None)],
)
def test_other_levels_are_listed_with_their_parent(
    client: TestClient, headers: Headers, level: str, place: Place, parent: Place | None
) -> None:
    page = cells(client, headers, level=level).json()
    assert codes_of(page) == [place.code]
    properties = page["features"][0]["properties"]
    assert (properties["level"], properties["name"]) == (level, place.name)
    assert properties["parent_code"] == (parent.code if parent else None)


@pytest.mark.parametrize(
    "box", ["1,2,3", "a,b,c,d", "1,2,3,4,5", "", "116.401,39.9,116.399,39.901", "nan,0,1,1"]
)
def test_bad_bbox_is_refused_naming_bbox(client: TestClient, headers: Headers, box: str) -> None:
    response = cells(client, headers, bbox=box)
    assert response.status_code == 422
    assert refused_field(response) == "bbox"


def use_settings(client: TestClient, settings: Settings) -> None:
    assert isinstance(client.app, FastAPI)
    client.app.dependency_overrides[settings_dependency] = lambda: settings


def test_page_size_above_the_limit_is_refused(client: TestClient, headers: Headers) -> None:
    use_settings(client, Settings(cells_page_max=2))
    response = cells(client, headers, page_size=3)
    assert response.status_code == 422
    assert response.json() == {"detail": "page_size may be at most 2", "field": "page_size"}
    assert cells(client, headers, page_size=2).json()["next_page"] == 2


def test_default_page_size_respects_a_small_limit(client: TestClient, headers: Headers) -> None:
    use_settings(client, Settings(cells_page_max=3))
    page = cells(client, headers).json()
    assert (page["page_size"], page["number_returned"], page["next_page"]) == (3, 3, 2)


@pytest.mark.parametrize("params", [{"page": 0}, {"page_size": 0}, {"level": "province"}])
def test_out_of_range_paging_and_unknown_level_are_refused(
    client: TestClient, headers: Headers, params: dict[str, Any]
) -> None:
    assert cells(client, headers, **params).status_code == 422


@pytest.mark.parametrize("page", [10**17, 10**30])
def test_a_page_far_past_the_end_is_empty_not_a_server_error(
    client: TestClient, headers: Headers, page: int
) -> None:
    response = cells(client, headers, page=page, page_size=1000)
    assert response.status_code == 200, response.text
    assert (codes_of(response.json()), response.json()["next_page"]) == ([], None)


@pytest.mark.parametrize(
    ("place", "level", "parent"),
    [(CELL_SE, "cell", COMMUNITY), (COMMUNITY, "community", STREET), (DISTRICT, "district", None)],
)
def test_one_unit_by_code(
    client: TestClient, headers: Headers, place: Place, level: str, parent: Place | None
) -> None:
    response = client.get(f"/api/grid/cells/{place.code}", headers=headers)
    assert response.status_code == 200, response.text
    feature = response.json()
    assert (feature["type"], feature["id"]) == ("Feature", place.code)
    assert feature["geometry"]["type"] == "MultiPolygon"
    properties = feature["properties"]
    assert (properties["level"], properties["name"]) == (level, place.name)
    assert properties["parent_code"] == (parent.code if parent else None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("110101001001009", "no cell with code 110101001001009"),
        ("110102", "no district with code 110102"),
        ("110101001002", "no community with code 110101001002"),
    ],
)
def test_unknown_code_is_404(client: TestClient, headers: Headers, code: str, message: str) -> None:
    response = client.get(f"/api/grid/cells/{code}", headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": message, "field": "code"}


@pytest.mark.parametrize("code", ["abc", "1101", "11010100100100199", "11010a"])
def test_not_a_code_is_404_saying_so(client: TestClient, headers: Headers, code: str) -> None:
    response = client.get(f"/api/grid/cells/{code}", headers=headers)
    assert response.status_code == 404
    assert "is not a grid code (6, 9, 12 or 15 digits)" in response.json()["detail"]


def test_cells_need_a_token(client: TestClient) -> None:
    assert client.get("/api/grid/cells").status_code == 401
    assert client.get(f"/api/grid/cells/{CELL_NE.code}").status_code == 401
