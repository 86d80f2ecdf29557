"""Map pages: what a manager or dispatcher gets from /maps/…, its table view, CSV and assets."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from citygrid.accounts.roles import Role
from tests.maps.city import EAST_STREET, PLANTED, WEST_COMMUNITY, cell_code
from tests.maps.page_support import ASSET_LINK, PERIOD, embedded_geojson

PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots")
VIEWERS = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
OTHERS = (Role.CITIZEN, Role.INSPECTOR, Role.DEPARTMENT)

Auth = Callable[[Role], dict[str, str]]


def get_page(client: TestClient, auth: Auth, path: str, **params: str) -> str:
    response = client.get(path, params={**PERIOD, **params}, headers=auth(Role.MANAGER))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page: str = response.text
    return page


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", VIEWERS)
def test_viewers_get_each_page(client: TestClient, auth: Auth, path: str, role: Role) -> None:
    response = client.get(path, headers=auth(role))
    assert response.status_code == 200, response.text
    assert 'class="folium-map"' in response.text


@pytest.mark.parametrize(
    "path", [*PAGES, *(f"{p}/table" for p in PAGES), *(f"{p}/csv" for p in PAGES)]
)
@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_are_refused(client: TestClient, auth: Auth, path: str, role: Role) -> None:
    assert client.get(path, headers=auth(role)).status_code == 403
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_pages_link_only_the_applications_own_assets(
    client: TestClient, auth: Auth, planted_city: int, path: str
) -> None:
    page = get_page(client, auth, path)
    links = ASSET_LINK.findall(page)
    assert "/maps/assets/leaflet/leaflet.js" in links
    assert all(link.startswith("/maps/assets/") for link in links), links
    for link in links:
        assert client.get(link).status_code == 200, link  # public: no token needed
    assert "cdn" not in page and "https://" not in page.replace("https://leafletjs.com", "")


def test_heatmap_weights_cells_and_draws_markers_under_the_cap(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_COMMUNITY)
    assert "L.heatLayer(" in page and "leaflet-heat.js" in page
    heat = json.loads(re.search(r"L\.heatLayer\(\s*(\[\[.*?\]\])", page, re.S)[1])  # type: ignore[index]
    assert len(heat) == 200  # one point per cell of the community, not one per report
    assert max(point[2] for point in heat) == 1.0
    markers = json.loads(re.search(r"var data = (\[\[.*?\]\]);", page, re.S)[1])  # type: ignore[index]
    assert len(markers) == 200 + 9 * 30  # under the default cap: every case, clustered
    assert "markerClusterGroup" in page


def test_choropleth_values_legend_and_tooltips(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    page = get_page(client, auth, "/maps/choropleth", scheme="natural_breaks", classes="3")
    (cells,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 400]
    value_of = {f["properties"]["code"]: f["properties"]["value"] for f in cells["features"]}
    assert value_of[cell_code(PLANTED[0])] == "31"
    assert value_of[cell_code((0, 0))] == "1"
    assert 'id="map-legend"' in page and "（自然断点）" in page  # a Chinese session by default
    assert "GeoJsonTooltip" not in page  # rendered as Leaflet's own tooltip
    assert "bindTooltip" in page and '"上报数"' in page.replace("'", '"')


def test_choropleth_user_bounds_and_units(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    page = get_page(
        client, auth, "/maps/choropleth", unit="street", scheme="user", bounds="100,500"
    )
    (streets,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 2]
    values = {f["properties"]["code"]: f["properties"]["value"] for f in streets["features"]}
    assert values == {"110102001": str(200 + 9 * 30), EAST_STREET: "200"}
    assert "≤ 100<br>" in page and "101–500<br>" in page  # user-set classes kept, no overlap
    bad = client.get("/maps/choropleth", params={"scheme": "user"}, headers=auth(Role.MANAGER))
    assert bad.status_code == 422 and bad.json()["field"] == "bounds"


def test_filters_change_the_numbers(client: TestClient, auth: Auth, planted_city: int) -> None:
    text = client.get(
        "/maps/choropleth/csv",
        params={**PERIOD, "area": EAST_STREET, "urgency": "urgent"},
        headers=auth(Role.MANAGER),
    ).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 200 and {row["reports"] for row in rows} == {"0"}


def test_hotspot_page_shows_the_planted_cluster(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    page = get_page(client, auth, "/maps/hotspots")
    (cells,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 400]
    classes = {f["properties"]["code"]: f["properties"]["class"] for f in cells["features"]}
    assert classes[cell_code((9, 4))] == "热点（置信度 99%）"  # the planted block's centre
    assert "经错误发现率校正" in page and "Getis-Ord Gi*" in page


def test_table_view_and_csv_carry_the_same_numbers(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    params = {**PERIOD, "area": WEST_COMMUNITY}
    table = client.get("/maps/heatmap/table", params=params, headers=auth(Role.DISPATCHER)).text
    assert "<caption>各网格上报数</caption>" in table and '<th scope="col">代码</th>' in table
    assert f"<td>{cell_code(PLANTED[0])}</td><td>cell 8,3</td><td>31</td>" in table
    response = client.get("/maps/heatmap/csv", params=params, headers=auth(Role.DISPATCHER))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["code", "name", "reports"] and len(rows) == 201
    assert sum(int(row[2]) for row in rows[1:]) == 200 + 9 * 30


def test_hotspot_csv_lists_every_cell(client: TestClient, auth: Auth, planted_city: int) -> None:
    response = client.get("/maps/hotspots/csv", params=PERIOD, headers=auth(Role.MANAGER))
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 400
    assert {row["class"] for row in rows if row["code"] == cell_code((9, 4))} == {"hot99"}


def test_table_view_pages_and_keeps_every_filter(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    params = [*PERIOD.items(), ("status", "reported"), ("status", "filed"), ("page", "1")]
    table = client.get("/maps/hotspots/table", params=params, headers=auth(Role.MANAGER)).text
    assert "第 1–400 行，共 400 行" in table and "第 2 页" not in table
    assert "status=reported&amp;status=filed" in table  # the map and CSV links keep both
    many = client.get("/maps/heatmap/table", params=PERIOD, headers=auth(Role.MANAGER)).text
    assert "第 1–400 行，共 400 行" in many
    refused = client.get("/maps/heatmap/table", params={"page": "0"}, headers=auth(Role.MANAGER))
    assert refused.status_code == 422


def test_unknown_area_is_404(client: TestClient, auth: Auth, planted_city: int) -> None:
    response = client.get("/maps/heatmap", params={"area": "999"}, headers=auth(Role.MANAGER))
    assert response.status_code == 404


def test_assets_are_served_and_paths_cannot_escape(client: TestClient) -> None:
    response = client.get("/maps/assets/leaflet/leaflet.js")
    assert response.status_code == 200 and "Leaflet" in response.text[:400]
    assert client.get("/maps/assets/../router.py").status_code == 404
    assert client.get("/maps/assets/%2e%2e/router.py").status_code == 404
    assert client.get("/maps/assets/nope.js").status_code == 404


def test_unknown_confidence_is_422(client: TestClient, auth: Auth) -> None:
    response = client.get(
        "/maps/hotspots", params={"confidence": "0.5"}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 422


def test_a_long_table_is_paged(
    client: TestClient, auth: Auth, planted_city: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("maps.pages.tables.TABLE_ROWS_MAX", 150)
    params = {**PERIOD, "page": "2"}
    table = client.get("/maps/hotspots/table", params=params, headers=auth(Role.MANAGER)).text
    assert "第 151–300 行，共 400 行" in table
    assert ">第 1 页</a>" in table and ">第 3 页</a>" in table
    assert table.count("<tr>") == 1 + 150
