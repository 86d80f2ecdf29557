"""Searching the component inventory over HTTP: by box and filters, paged, and who may ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from components import service
from tests.citygrid.refusals import refused_field
from tests.components.inventory_support import Inventory, seed_inventory
from tests.grid.places import BLOCK_EAST, BLOCK_NORTH, BLOCK_SOUTH, BLOCK_WEST, CELL_NE, centre_of

Auth = Callable[[Role], dict[str, str]]


@pytest.fixture
def inventory(session: Session) -> Inventory:
    """The seeded inventory (see seed_inventory)."""
    return seed_inventory(session)


def search(client: TestClient, auth: Auth, **params: Any) -> dict[str, Any]:
    response = client.get("/api/components", params=params, headers=auth(Role.DISPATCHER))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes_of(collection: dict[str, Any]) -> set[str]:
    return {feature["properties"]["code"] for feature in collection["features"]}


NW_BOX = f"{BLOCK_WEST},{BLOCK_SOUTH + 0.001},{BLOCK_WEST + 0.001},{BLOCK_NORTH}"
BLOCK_BOX = f"{BLOCK_WEST},{BLOCK_SOUTH},{BLOCK_EAST},{BLOCK_NORTH}"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"nw_cover", "ne_cover", "sw_parking", "se_fence", "far_cover"}),
        ({"bbox": NW_BOX}, {"nw_cover"}),
        ({"bbox": BLOCK_BOX}, {"nw_cover", "ne_cover", "sw_parking", "se_fence"}),
        ({"category": "0101"}, {"nw_cover", "far_cover"}),
        ({"category": "01"}, {"nw_cover", "ne_cover", "far_cover"}),
        ({"category": "01", "bbox": BLOCK_BOX}, {"nw_cover", "ne_cover"}),
        ({"status": "damaged"}, {"ne_cover"}),
        ({"status": ["damaged", "removed"]}, {"ne_cover", "se_fence"}),
        ({"status": "in_use,removed", "bbox": BLOCK_BOX}, {"nw_cover", "sw_parking", "se_fence"}),
    ],
)
def test_search_filters(
    client: TestClient,
    auth: Auth,
    inventory: Inventory,
    params: dict[str, Any],
    expected: set[str],
) -> None:
    collection = search(client, auth, **params)
    code_of = {
        name: feature["properties"]["code"]
        for name, feature in features_by_name(client, auth, inventory).items()
    }
    assert codes_of(collection) == {code_of[name] for name in expected}
    assert collection["total"] == len(expected)
    assert collection["total_capped"] is False


def features_by_name(client: TestClient, auth: Auth, inventory: Inventory) -> dict[str, Any]:
    everything = search(client, auth)
    by_id = {feature["properties"]["id"]: feature for feature in everything["features"]}
    return {name: by_id[component_id] for name, component_id in inventory.ids.items()}


def test_search_answers_geojson_with_names(
    client: TestClient, auth: Auth, inventory: Inventory
) -> None:
    collection = search(client, auth, bbox=BLOCK_BOX)
    assert collection["type"] == "FeatureCollection"
    by_code = {feature["id"]: feature for feature in collection["features"]}
    cover = by_code["1101010102000001"]
    assert cover["type"] == "Feature"
    assert cover["geometry"]["type"] == "Point"
    lon, lat = centre_of(CELL_NE)
    assert cover["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    assert cover["properties"] == {
        "id": inventory.ids["ne_cover"],
        "code": "1101010102000001",
        "category_code": "0102",
        "category_name": "污水井盖",
        "status": "damaged",
        "maintainer_department_id": inventory.roads_id,
        "maintainer_name": "roads ROADS-01",
    }
    assert by_code["1101010408000001"]["geometry"]["type"] == "LineString"
    assert by_code["1101010408000001"]["properties"]["maintainer_name"] is None


def test_search_by_maintainer(client: TestClient, auth: Auth, inventory: Inventory) -> None:
    collection = search(client, auth, maintainer=inventory.roads_id)
    assert [f["properties"]["id"] for f in collection["features"]] == [inventory.ids["ne_cover"]]


def test_search_pages_with_a_total(client: TestClient, auth: Auth, inventory: Inventory) -> None:
    first = search(client, auth, limit=2)
    assert len(first["features"]) == 2
    assert (first["total"], first["limit"]) == (5, 2)
    second = search(client, auth, limit=2, after=first["next_after"])
    third = search(client, auth, limit=2, after=second["next_after"])
    assert third["next_after"] is None
    ids = [f["properties"]["id"] for page in (first, second, third) for f in page["features"]]
    assert ids == sorted(inventory.ids.values())
    assert second["total"] == 5


def test_search_count_is_capped(session: Session, inventory: Inventory) -> None:
    result = service.search_components(session, service.ComponentSearch(limit=1), count_cap=3)
    assert (result.total, result.total_capped) == (3, True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "116.5,39,116.4,40"}, "bbox"),
        ({"bbox": "116,95,117,96"}, "bbox"),
        ({"bbox": "nan,39,116,40"}, "bbox"),
        ({"category": "9999"}, "category"),
        ({"status": "broken"}, "status"),
        ({"maintainer": "999999"}, "maintainer"),
        ({"limit": "5001"}, "limit"),
    ],
)
def test_search_refuses_bad_parameters(
    client: TestClient, auth: Auth, inventory: Inventory, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/components", params=params, headers=auth(Role.MANAGER))
    assert response.status_code == 422, response.text
    assert refused_field(response) == field


def test_search_refuses_a_limit_that_is_no_number(client: TestClient, auth: Auth) -> None:
    response = client.get("/api/components", params={"limit": "0"}, headers=auth(Role.MANAGER))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


PATHS = ("/api/components",)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", list(Role))
def test_staff_may_read_citizens_may_not(
    client: TestClient, auth: Auth, inventory: Inventory, path: str, role: Role
) -> None:
    url = path.replace("{id}", str(inventory.ids["nw_cover"]))
    response = client.get(url, headers=auth(role))
    assert response.status_code == (403 if role is Role.CITIZEN else 200), response.text


def test_anonymous_caller_is_401(client: TestClient) -> None:
    assert client.get("/api/components").status_code == 401
