"""The component layer of the map pages: drawn for a small area (or when asked), never more than
the marker cap, with a notice when the area has too many."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from citygrid.settings import Settings, get_settings, settings_dependency
from events.component_cases.schemas import MapComponent
from maps import render
from tests.maps.city import EAST_COMMUNITY, WEST_COMMUNITY, WEST_STREET, cell_code, seed_city

Auth = Callable[[Role], dict[str, str]]
PERIOD = {"period_from": "2026-11-01T00:00:00+00:00", "period_to": "2026-11-20T00:00:00+00:00"}
IN_PERIOD = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
BEFORE_PERIOD = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)
PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots")
EAST_CELLS = 200  # one component in each cell of the east community
SMALL_CAP = 50
WEST = {  # code: (category, cell, geometry kind, status)
    "1101020101000001": ("0101", (2, 2), "point", "in_use"),
    "1101020101000002": ("0101", (2, 3), "point", "damaged"),
    "1101020408000001": ("0408", (5, 5), "line", "in_use"),
    "1101020101000003": ("0101", (6, 6), "point", "removed"),  # never drawn
}
DRAWN_IN_WEST = {code for code, (*_, status) in WEST.items() if status != "removed"}


def category_id(session: Session, code: str) -> int:
    found = session.scalar(
        text(
            "SELECT id FROM category WHERE kind = 'component' AND code = :code "
            "AND standard = 'GB/T 30428.2-2013'"
        ),
        {"code": code},
    )
    assert found is not None
    return int(found)


def add_west_component(
    session: Session, code: str, category: str, cell: tuple[int, int], kind: str, status: str,
    maintainer_id: int,
) -> None:  # fmt: skip
    geometry = (
        "ST_PointOnSurface(c.geom)"
        if kind == "point"
        else "ST_MakeLine(ST_PointOnSurface(c.geom), ST_Translate(ST_PointOnSurface(c.geom), "
        "0.0003, 0))"
    )
    session.execute(
        text(
            "INSERT INTO component (code, category_id, geom, cell_id, status, "
            f"maintainer_department_id) SELECT :code, :category_id, {geometry}, c.id, :status, "
            ":maintainer FROM grid_cell c WHERE c.code = :cell"
        ),
        {"code": code, "category_id": category_id(session, category), "status": status,
         "maintainer": maintainer_id, "cell": cell_code(cell)},
    )  # fmt: skip


def add_east_components(session: Session) -> None:
    """One lamp-less manhole cover at the centre of every cell of the east community."""
    session.execute(
        text(
            "INSERT INTO component (code, category_id, geom, cell_id) "
            "SELECT '1101020102' || lpad(row_number() OVER (ORDER BY c.code)::text, 6, '0'), "
            ":category_id, ST_PointOnSurface(c.geom), c.id "
            "FROM grid_cell c JOIN grid_region m ON m.id = c.community_id WHERE m.code = :code"
        ),
        {"category_id": category_id(session, "0102"), "code": EAST_COMMUNITY},
    )


def add_component_cases(session: Session, code: str, created: list[datetime]) -> None:
    session.execute(
        text(
            "INSERT INTO event_case (number, status, category_id, description, geom, cell_id, "
            "component_id, created_at) "
            "SELECT 'C' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 19), 'filed', "
            "c.category_id, 'lamp', ST_PointOnSurface(c.geom), c.cell_id, c.id, t.at "
            "FROM component c, unnest(CAST(:created AS timestamptz[])) t(at) WHERE c.code = :code"
        ),
        {"code": code, "created": created},
    )


@pytest.fixture
def components(session: Session) -> None:
    """The 20×20 test city with 4 components in the west (one removed), 200 in the east; the
    first west cover has 3 cases in the period and 1 before it."""
    seed_city(session)
    maintainer = Department(code="LAMP-01", name="路灯所 <b>&", kind="lighting")
    session.add(maintainer)
    session.flush()
    for code, (category, cell, kind, status) in WEST.items():
        add_west_component(session, code, category, cell, kind, status, maintainer.id)
    add_east_components(session)
    add_component_cases(
        session, "1101020101000001", [IN_PERIOD, IN_PERIOD, IN_PERIOD, BEFORE_PERIOD]
    )
    session.flush()


@pytest.fixture
def small_cap(client: TestClient) -> Iterator[None]:
    """Pages draw at most SMALL_CAP markers or components."""
    settings = get_settings().model_copy(update={"map_markers_cap": SMALL_CAP})

    async def capped() -> Settings:
        return settings

    overrides: dict[Any, Any] = client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[settings_dependency] = capped
    yield
    overrides.pop(settings_dependency)


def get_page(
    client: TestClient, auth: Auth, path: str, *, language: str = "en", **params: str
) -> str:
    headers = {**auth(Role.MANAGER), "Accept-Language": language}
    response = client.get(path, params={**PERIOD, **params}, headers=headers)
    assert response.status_code == 200, response.text
    page: str = response.text
    return page


def component_layer(page: str) -> list[dict[str, Any]] | None:
    """The features of the page's component layer, None when it has none."""
    for found in re.findall(r"_add\((\{\"type\":\"FeatureCollection\".*?\})\);\n", page):
        collection = json.loads(found)
        features: list[dict[str, Any]] = collection["features"]
        if features and "maintainer" in features[0]["properties"]:
            return features
    return None


def drawn_codes(page: str) -> set[str]:
    return {feature["id"] for feature in component_layer(page) or []}


@pytest.mark.parametrize("path", PAGES)
def test_small_area_shows_its_components(
    client: TestClient, auth: Auth, components: None, path: str
) -> None:
    page = get_page(client, auth, path, area=WEST_COMMUNITY)
    assert drawn_codes(page) == DRAWN_IN_WEST
    assert "Components (3)" in page
    assert "Components in use" in page and "Components damaged" in page
    assert "component layer is left out" not in page


def test_the_layer_speaks_chinese(client: TestClient, auth: Auth, components: None) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_COMMUNITY, language="zh-CN")
    assert "部件（3 个）" in page and "部件（在用）" in page and "部件（损坏）" in page
    assert '"养护单位"' in page and '"时段内案件数"' in page  # the popup's field names
    statuses = {feature["properties"]["status"] for feature in component_layer(page) or []}
    assert statuses == {"在用", "损坏"}


def test_popup_says_code_category_maintainer_and_cases(
    client: TestClient, auth: Auth, components: None
) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_STREET)
    by_code = {feature["id"]: feature for feature in component_layer(page) or []}
    cover = by_code["1101020101000001"]["properties"]
    assert cover["code"] == "1101020101000001"
    assert cover["category"] == "0101 上水井盖"
    assert cover["maintainer"] == "路灯所 &lt;b&gt;&amp;"  # escaped: the popup writes HTML
    assert (cover["status"], cover["cases"]) == ("in use", 3)
    assert by_code["1101020101000002"]["properties"]["cases"] == 0
    assert "GeoJsonPopup" in page or "bindPopup" in page
    fence = by_code["1101020408000001"]
    assert fence["geometry"]["type"] == "LineString"
    assert fence["properties"]["style"]["fill"] is False


def test_large_area_is_capped_with_a_notice(
    client: TestClient, auth: Auth, components: None, small_cap: None
) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=EAST_COMMUNITY)
    assert component_layer(page) is None
    assert f"{EAST_CELLS} components in this area: more than the {SMALL_CAP} a map draws" in page


def test_asked_for_on_the_whole_city_under_the_cap(
    client: TestClient, auth: Auth, components: None
) -> None:
    page = get_page(client, auth, "/maps/choropleth", components="1")
    layer = component_layer(page) or []
    assert len(layer) == EAST_CELLS + len(DRAWN_IN_WEST)


def test_asked_for_on_the_whole_city_over_the_cap(
    client: TestClient, auth: Auth, components: None, small_cap: None
) -> None:
    page = get_page(client, auth, "/maps/hotspots", components="1")
    assert component_layer(page) is None
    assert f"{EAST_CELLS + len(DRAWN_IN_WEST)} components in this area" in page


def test_whole_city_without_asking_has_no_layer_and_no_notice(
    client: TestClient, auth: Auth, components: None
) -> None:
    page = get_page(client, auth, "/maps/heatmap")
    assert component_layer(page) is None
    assert "components in this area" not in page


def test_components_0_turns_the_layer_off(client: TestClient, auth: Auth, components: None) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_COMMUNITY, components="0")
    assert component_layer(page) is None


def test_a_component_category_narrows_the_layer(
    client: TestClient, auth: Auth, components: None
) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_COMMUNITY, category="0408")
    assert drawn_codes(page) == {"1101020408000001"}


def test_exactly_the_cap_is_drawn(
    client: TestClient, auth: Auth, components: None, small_cap: None, session: Session
) -> None:
    session.execute(
        text(
            "DELETE FROM component WHERE code IN (SELECT code FROM component "
            "WHERE code LIKE '1101020102%' ORDER BY code OFFSET :cap)"
        ),
        {"cap": SMALL_CAP},
    )
    page = get_page(client, auth, "/maps/heatmap", area=EAST_COMMUNITY)
    assert len(component_layer(page) or []) == SMALL_CAP


def map_component(status: str, geometry_type: str) -> MapComponent:
    coordinates: Any = [116.0, 39.0] if geometry_type == "Point" else [[116.0, 39.0], [116.1, 39]]
    return MapComponent(
        1, "1101020101000001", status, "0101", "上水井盖", None, 0,
        {"type": geometry_type, "coordinates": coordinates},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "geometry_type", "colour", "filled"),
    [
        ("in_use", "Point", "#1a9850", True),
        ("damaged", "Point", "#d73027", True),
        ("in_use", "LineString", "#1a9850", False),
        ("damaged", "LineString", "#d73027", False),
    ],
)
def test_component_style_by_status_and_shape(
    status: str, geometry_type: str, colour: str, filled: bool
) -> None:
    (feature,) = render.component_features([map_component(status, geometry_type)])["features"]
    style = feature["properties"]["style"]
    assert (style["color"], style["fill"]) == (colour, filled)
    assert feature["properties"]["maintainer"] == "–"


def test_legend_lists_only_the_statuses_drawn() -> None:
    legend = render.component_legend([map_component("damaged", "Point")])
    assert "Components damaged" in legend
    assert "Components in use" not in legend
    assert render.component_legend([]) == ""
