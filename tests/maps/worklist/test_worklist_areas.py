"""GET /api/map/areas: the base layer's named outlines by zoom and box, bounded; the city's tiles
instead when configured; bad input named."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings, settings_dependency
from maps.worklist import base_layer
from maps.worklist.base_layer import LevelRule, UnitLevel
from tests.conftest import token_for
from tests.maps.city import (
    DISTRICT,
    EAST_STREET,
    SIDE,
    SOUTH,
    STEP,
    WEST,
    WEST_COMMUNITY,
    WEST_STREET,
    seed_city,
)

URL = "/api/map/areas"
WHOLE_CITY = f"{WEST},{SOUTH},{WEST + SIDE * STEP},{SOUTH + SIDE * STEP}"
# Two cells by two, in the south-west corner (boxes touching their neighbours count those too).
CORNER = f"{WEST + 0.0002},{SOUTH + 0.0002},{WEST + 0.0018},{SOUTH + 0.0018}"


@pytest.fixture
def city(session: Session) -> None:
    seed_city(session)


def headers(role: Role = Role.INSPECTOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


def get_areas(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "FeatureCollection"
    return body


def levels_of(body: dict[str, Any]) -> Counter[str]:
    return Counter(feature["properties"]["level"] for feature in body["features"])


def named(body: dict[str, Any], code: str) -> dict[str, Any]:
    features: list[dict[str, Any]] = body["features"]
    (feature,) = (f for f in features if f["properties"]["code"] == code)
    return feature


@pytest.mark.usefixtures("city")
def test_zoomed_out_the_streets_are_drawn_with_their_names(client: TestClient) -> None:
    body = get_areas(client, zoom="12")
    assert levels_of(body) == {"district": 1, "street": 2}
    summary = body["properties"]
    assert summary["levels"] == ["district", "street"] and summary["omitted"] == []
    assert summary["label_min_zoom"] == {"street": 0, "community": 14, "cell": 17}
    assert summary["tiles_url"] is None
    assert summary["extent"] == pytest.approx(
        [WEST, SOUTH, WEST + SIDE * STEP, SOUTH + SIDE * STEP]
    )
    street = named(body, WEST_STREET)
    assert street["properties"]["name"] == f"street {WEST_STREET}"
    outline = shape(street["geometry"])
    assert outline.contains(Point(street["properties"]["label"]))
    assert named(body, EAST_STREET)["properties"]["name"] == f"street {EAST_STREET}"
    assert named(body, DISTRICT)["geometry"]["type"] in {"Polygon", "MultiPolygon"}


@pytest.mark.usefixtures("city")
def test_communities_from_zoom_13_cells_from_zoom_16_within_the_box(client: TestClient) -> None:
    assert levels_of(get_areas(client, zoom="13")) == {"district": 1, "street": 2, "community": 2}
    corner = get_areas(client, zoom="17", bbox=CORNER)
    # The box meets the west street and community only, and the cells it touches.
    assert levels_of(corner) == {"district": 1, "street": 1, "community": 1, "cell": 4}
    assert named(corner, WEST_COMMUNITY)["properties"]["name"] == f"community {WEST_COMMUNITY}"
    cell_names = {
        f["properties"]["name"] for f in corner["features"] if f["properties"]["level"] == "cell"
    }
    assert cell_names == {"cell 0,0", "cell 0,1", "cell 1,0", "cell 1,1"}
    for feature in corner["features"]:
        assert shape(feature["geometry"]).contains(Point(feature["properties"]["label"]))


@pytest.mark.usefixtures("city")
def test_names_go_where_the_user_looks(client: TestClient) -> None:
    west, south = WEST + 0.015, SOUTH + 0.015  # a view in the east street's north-east
    view = (west, south, west + 0.002, south + 0.002)
    body = get_areas(client, zoom="16", bbox=WHOLE_CITY, view=",".join(map(str, view)))
    lon, lat = named(body, EAST_STREET)["properties"]["label"]
    assert view[0] < lon < view[2] and view[1] < lat < view[3]
    # The west street is out of view: named inside itself.
    street = named(body, WEST_STREET)
    assert shape(street["geometry"]).contains(Point(street["properties"]["label"]))


@pytest.mark.usefixtures("city")
def test_a_level_with_too_many_units_in_the_box_is_left_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        base_layer.LEVEL_RULES,
        UnitLevel.CELL,
        LevelRule(outline_min_zoom=16, label_min_zoom=17, cap=100),
    )
    body = get_areas(client, zoom="16", bbox=WHOLE_CITY)  # 400 cells
    assert body["properties"]["omitted"] == ["cell"]
    assert "cell" not in levels_of(body)
    assert levels_of(get_areas(client, zoom="16", bbox=CORNER))["cell"] == 4


@pytest.mark.usefixtures("city")
def test_a_box_beyond_the_globe_is_the_whole_globe(client: TestClient) -> None:
    body = get_areas(client, zoom="13", bbox="-1e300,-1e300,1e300,1e300")
    assert levels_of(body) == {"district": 1, "street": 2, "community": 2}


@pytest.mark.usefixtures("city")
def test_the_citys_tiles_replace_the_outlines_when_configured(
    client: TestClient, served: tuple[FastAPI, TestClient]
) -> None:
    app, _ = served
    tiles = "https://tiles.city.example/{z}/{x}/{y}.png"
    settings = get_settings().model_copy(update={"map_tiles_url": tiles})
    app.dependency_overrides[settings_dependency] = lambda: settings
    body = get_areas(client, zoom="15", bbox=WHOLE_CITY)
    assert body["properties"]["tiles_url"] == tiles
    assert body["features"] == [] and body["properties"]["levels"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "116,39"}, "bbox"),
        ({"bbox": "116,39,east,north"}, "bbox"),
        ({"bbox": "116.1,39,116,39.1"}, "bbox"),
        ({"bbox": "116,39,inf,40"}, "bbox"),
        ({"view": "116,39,116"}, "view"),
        ({"view": "116.1,39,116,39.1"}, "view"),
        ({"zoom": "23"}, "zoom"),
        ({"zoom": "near"}, "zoom"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get(URL, params=params, headers=headers())
    assert response.status_code == 422
    body = response.json()
    named_fields = {body.get("field")} | {
        entry["loc"][-1] for entry in body.get("detail", []) if isinstance(entry, dict)
    }
    assert field in named_fields


def test_signing_in_is_required(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
