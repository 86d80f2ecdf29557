"""GET /api/map/cases: the listed cases as points while few, counted per area when many; the
caller's scope and the listing's filters; bad input named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings, settings_dependency
from tests.citygrid.refusals import refused_field
from tests.maps.city import (
    EAST_COMMUNITY,
    SOUTH,
    STEP,
    WEST,
    WEST_COMMUNITY,
    add_cases,
    cell_code,
    every_cell,
)
from tests.maps.worklist.support import (
    CREATED_AT,
    GREEN_CELL,
    RED_CELL,
    WAITING_CELL,
    World,
    case_ids,
    seed_world,
)

URL = "/api/map/cases"


@pytest.fixture
def world(session: Session) -> World:
    return seed_world(session)


@pytest.fixture
def markers_cap(served: tuple[FastAPI, TestClient], client: TestClient) -> Iterator[Any]:
    """Set the settings' map_markers_cap for the requests of this test."""
    app, _ = served

    def set_cap(cap: int) -> None:
        settings = get_settings().model_copy(update={"map_markers_cap": cap})
        app.dependency_overrides[settings_dependency] = lambda: settings

    yield set_cap


def get_map(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "FeatureCollection"
    return body


def by_cell(body: dict[str, Any]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The point features grouped by the test city's cell (row, column) they lie in."""
    cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        cell = (int((lat - SOUTH) / STEP), int((lon - WEST) / STEP))
        cells.setdefault(cell, []).append(feature["properties"])
    return cells


def test_few_matches_come_as_points_with_what_a_marker_shows(
    client: TestClient, world: World
) -> None:
    body = get_map(client, world.headers(Role.DISPATCHER))
    assert body["properties"] == {"total": 10, "grouped_by": None, "points_max": 2000}
    cells = by_cell(body)
    assert {cell: len(cases) for cell, cases in cells.items()} == {
        GREEN_CELL: 5,
        RED_CELL: 2,
        WAITING_CELL: 3,
    }
    assert {case["light"] for case in cells[GREEN_CELL]} == {"green"}
    assert {case["light"] for case in cells[WAITING_CELL]} == {None}
    red = cells[RED_CELL][0]
    assert (red["light"], red["status"], red["urgency"]) == ("red", "accepted", "urgent")
    assert red["category_code"] == world.category_codes[1]
    assert red["category_name_zh"] and red["category_name_en"]
    assert set(red) == {
        "id",
        "number",
        "status",
        "urgency",
        "light",
        "category_code",
        "category_name_zh",
        "category_name_en",
    }


def test_many_matches_are_counted_per_cell_never_one_marker_each(
    client: TestClient, session: Session, world: World
) -> None:
    # 2,400 more: over the 2,000 markers a map draws.
    everywhere = dict.fromkeys(every_cell(), 6)
    add_cases(session, everywhere, created_at=CREATED_AT, category_id=world.category_ids[0])
    body = get_map(client, world.headers(Role.MANAGER))
    assert body["properties"] == {"total": 2410, "grouped_by": "cell", "points_max": 2000}
    features = body["features"]
    assert len(features) == 400  # one per cell
    assert sum(feature["properties"]["cases"] for feature in features) == 2410
    areas = {feature["properties"]["code"]: feature["properties"] for feature in features}
    red = areas[cell_code(RED_CELL)]
    assert (red["level"], red["cases"], red["light"]) == ("cell", 8, "red")
    assert red["name"] == "cell 0,15"
    assert areas[cell_code(GREEN_CELL)]["light"] == "green"
    assert areas[cell_code((19, 19))]["light"] is None


@pytest.mark.parametrize(
    ("cap", "level", "areas"),
    [
        (3, "cell", 3),  # ten cases, three cells
        (2, "community", 2),  # three cells are too many
        (1, "district", 1),  # two communities and two streets are too many
    ],
)
def test_the_finest_level_with_few_enough_areas_counts_them(
    client: TestClient, world: World, markers_cap: Any, cap: int, level: str, areas: int
) -> None:
    markers_cap(cap)
    body = get_map(client, world.headers(Role.DISPATCHER))
    assert body["properties"] == {"total": 10, "grouped_by": level, "points_max": cap}
    assert len(body["features"]) == areas
    assert sum(feature["properties"]["cases"] for feature in body["features"]) == 10


def test_an_area_carries_its_count_name_and_worst_light(
    client: TestClient, world: World, markers_cap: Any
) -> None:
    markers_cap(2)
    body = get_map(client, world.headers(Role.DISPATCHER))
    communities = {f["properties"]["code"]: f for f in body["features"]}
    west, east = communities[WEST_COMMUNITY], communities[EAST_COMMUNITY]
    # Green and no light in the west: green is the worst; the east's two are red.
    assert west["properties"] == {
        "level": "community",
        "code": WEST_COMMUNITY,
        "name": f"community {WEST_COMMUNITY}",
        "cases": 8,
        "light": "green",
    }
    assert (east["properties"]["cases"], east["properties"]["light"]) == (2, "red")
    # Drawn at the mean of its cases: between the green cell and the waiting one.
    lon, lat = west["geometry"]["coordinates"]
    assert WEST + 0.5 * STEP < lon < WEST + 5.5 * STEP
    assert SOUTH + 0.5 * STEP < lat < SOUTH + 5.5 * STEP


def test_a_department_sees_only_its_cases_points_and_counts(
    client: TestClient, session: Session, world: World, markers_cap: Any
) -> None:
    headers = world.headers(Role.DEPARTMENT, "A")
    body = get_map(client, headers)
    assert {f["properties"]["id"] for f in body["features"]} == case_ids(
        session, world.departments["A"]
    )
    markers_cap(1)
    (district,) = get_map(client, headers)["features"]
    assert (district["properties"]["cases"], district["properties"]["light"]) == (5, "green")
    other = get_map(client, world.headers(Role.DEPARTMENT, "B"))
    assert other["properties"]["total"] == 2


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"status": "reported"}, 3),
        ({"status": "dispatched,accepted"}, 7),
        ({"urgency": "urgent"}, 2),
        ({"area_code": EAST_COMMUNITY}, 2),
        ({"area_code": cell_code(WAITING_CELL)}, 3),
        ({"department_code": "MAP-A"}, 5),
        ({"overdue": "true"}, 2),
        ({"bbox": f"{WEST},{SOUTH},{WEST + 0.003},{SOUTH + 0.003}"}, 5),
        ({"created_from": "2026-11-03"}, 0),
    ],
)
def test_the_listings_filters_are_honoured(
    client: TestClient, world: World, params: dict[str, str], total: int
) -> None:
    body = get_map(client, world.headers(Role.DISPATCHER), **params)
    assert body["properties"]["total"] == total
    assert len(body["features"]) == total


def test_the_same_cases_as_the_listing(client: TestClient, world: World) -> None:
    headers = world.headers(Role.DISPATCHER)
    params = {"category_code": world.category_codes[0]}
    listed = client.get("/api/cases", params=params, headers=headers).json()
    mapped = get_map(client, headers, **params)
    assert {item["id"] for item in listed["items"]} == {
        feature["properties"]["id"] for feature in mapped["features"]
    }
    assert mapped["properties"]["total"] == listed["total"] == 8


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "116,39,116.1"}, "bbox"),
        ({"bbox": "116.1,39,116,39.1"}, "bbox"),
        ({"status": "lost"}, "status"),
        ({"area_code": "11"}, "area_code"),
        ({"created_from": "yesterday"}, "created_from"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    client: TestClient, world: World, params: dict[str, str], field: str
) -> None:
    response = client.get(URL, params=params, headers=world.headers(Role.DISPATCHER))
    assert response.status_code == 422
    assert refused_field(response) == field


def test_signing_in_is_required(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
