"""Map pages: what a manager or dispatcher gets from /maps/…, its table view, CSV and assets."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.auth import Role
from maps import render
from maps.pages.pages import (
    ChoroplethOptions,
    MapLimits,
    choropleth_html,
    heatmap_html,
    hotspots_html,
)
from maps.schemas import CellHotspot, HotspotClass, MapFilters, Trend, UnitValue
from tests.maps.city import (
    EAST_STREET,
    WEST_COMMUNITY,
    add_cases,
    block,
    cell_code,
    every_cell,
    seed_city,
    two_minor_categories,
)

CREATED_AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
PERIOD = {"period_from": "2026-11-01T00:00:00+00:00", "period_to": "2026-11-20T00:00:00+00:00"}
FILTERS = MapFilters(
    period_from=datetime(2026, 11, 1, tzinfo=UTC), period_to=datetime(2026, 11, 20, tzinfo=UTC)
)
PLANTED = block((8, 3))  # 9 cells in the west street
PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots")
VIEWERS = (Role.MANAGER, Role.DISPATCHER, Role.ADMIN)
OTHERS = (Role.CITIZEN, Role.INSPECTOR, Role.DEPARTMENT)
ASSET_LINK = re.compile(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"')

Auth = Callable[[Role], dict[str, str]]


@pytest.fixture
def city(session: Session) -> int:
    """The 20×20 test city: 1 case in every cell, 30 more in each planted cell; the category id."""
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    add_cases(
        session, dict.fromkeys(every_cell(), 1), created_at=CREATED_AT, category_id=category_id
    )
    add_cases(session, dict.fromkeys(PLANTED, 30), created_at=CREATED_AT, category_id=category_id)
    session.flush()
    return category_id


def get_page(client: TestClient, auth: Auth, path: str, **params: str) -> str:
    response = client.get(path, params={**PERIOD, **params}, headers=auth(Role.MANAGER))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page: str = response.text
    return page


def embedded_geojson(page: str) -> list[dict[str, Any]]:
    """The FeatureCollections a page passes to its GeoJSON layers."""
    found = re.findall(r"_add\((\{\"type\":\"FeatureCollection\".*?\})\);\n", page)
    return [json.loads(text) for text in found]


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
    client: TestClient, auth: Auth, city: int, path: str
) -> None:
    page = get_page(client, auth, path)
    links = ASSET_LINK.findall(page)
    assert "/maps/assets/leaflet/leaflet.js" in links
    assert all(link.startswith("/maps/assets/") for link in links), links
    for link in links:
        assert client.get(link).status_code == 200, link  # public: no token needed
    assert "cdn" not in page and "https://" not in page.replace("https://leafletjs.com", "")


def test_heatmap_weights_cells_and_draws_markers_under_the_cap(
    client: TestClient, auth: Auth, city: int
) -> None:
    page = get_page(client, auth, "/maps/heatmap", area=WEST_COMMUNITY)
    assert "L.heatLayer(" in page and "leaflet-heat.js" in page
    heat = json.loads(re.search(r"L\.heatLayer\(\s*(\[\[.*?\]\])", page, re.S)[1])  # type: ignore[index]
    assert len(heat) == 200  # one point per cell of the community, not one per report
    assert max(point[2] for point in heat) == 1.0
    markers = json.loads(re.search(r"var data = (\[\[.*?\]\]);", page, re.S)[1])  # type: ignore[index]
    assert len(markers) == 200 + 9 * 30  # under the default cap: every case, clustered
    assert "markerClusterGroup" in page


def test_markers_are_drawn_only_under_the_cap(session: Session, city: int) -> None:
    under = heatmap_html(session, FILTERS.model_copy(update={"area_code": EAST_STREET}),
                         MapLimits(markers_cap=200))  # fmt: skip
    assert "markerClusterGroup" in under and "L.circleMarker" in under
    over = heatmap_html(session, FILTERS, MapLimits(markers_cap=200))
    assert "markerClusterGroup" not in over
    assert "670 cases match: more than the 200 shown as markers" in over


def test_choropleth_values_legend_and_tooltips(client: TestClient, auth: Auth, city: int) -> None:
    page = get_page(client, auth, "/maps/choropleth", scheme="natural_breaks", classes="3")
    (cells,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 400]
    value_of = {f["properties"]["code"]: f["properties"]["value"] for f in cells["features"]}
    assert value_of[cell_code(PLANTED[0])] == "31"
    assert value_of[cell_code((0, 0))] == "1"
    assert 'id="map-legend"' in page and "natural_breaks" in page
    assert "GeoJsonTooltip" not in page  # rendered as Leaflet's own tooltip
    assert "bindTooltip" in page and '"Reports"' in page.replace("'", '"')


def test_choropleth_user_bounds_and_units(client: TestClient, auth: Auth, city: int) -> None:
    page = get_page(
        client, auth, "/maps/choropleth", unit="street", scheme="user", bounds="100,500"
    )
    (streets,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 2]
    values = {f["properties"]["code"]: f["properties"]["value"] for f in streets["features"]}
    assert values == {"110102001": str(200 + 9 * 30), EAST_STREET: "200"}
    assert "≤ 100<br>" in page and "100 – 500<br>" in page
    bad = client.get("/maps/choropleth", params={"scheme": "user"}, headers=auth(Role.MANAGER))
    assert bad.status_code == 422 and bad.json()["field"] == "bounds"


def test_filters_change_the_numbers(client: TestClient, auth: Auth, city: int) -> None:
    text = client.get(
        "/maps/choropleth/csv",
        params={**PERIOD, "area": EAST_STREET, "urgency": "urgent"},
        headers=auth(Role.MANAGER),
    ).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 200 and {row["reports"] for row in rows} == {"0"}


def test_too_many_cells_switch_to_communities(session: Session, city: int) -> None:
    page = choropleth_html(session, FILTERS, _options(), MapLimits(cells_drawn_max=100))
    assert "The area has 400 cells, more than the 100 a page draws: showing communities" in page
    assert any(len(fc["features"]) == 2 for fc in embedded_geojson(page))


def test_hotspot_page_shows_the_planted_cluster(client: TestClient, auth: Auth, city: int) -> None:
    page = get_page(client, auth, "/maps/hotspots")
    (cells,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 400]
    classes = {f["properties"]["code"]: f["properties"]["class"] for f in cells["features"]}
    assert classes[cell_code((9, 4))] == "hot99"  # the planted block's centre
    assert "FDR-corrected" in page and "Getis-Ord Gi*" in page


def test_hotspot_page_over_the_cap_draws_only_significant_cells(
    session: Session, city: int
) -> None:
    page = hotspots_html(session, FILTERS, MapLimits(cells_drawn_max=50))
    (cells,) = [
        fc
        for fc in embedded_geojson(page)
        if fc["features"] and "z" in fc["features"][0]["properties"]
    ]
    assert 0 < len(cells["features"]) <= 50
    assert {f["properties"]["class"] for f in cells["features"]} != {"ns"}
    assert "only hot and cold spots are drawn" in page


def test_table_view_and_csv_carry_the_same_numbers(
    client: TestClient, auth: Auth, city: int
) -> None:
    params = {**PERIOD, "area": WEST_COMMUNITY}
    table = client.get("/maps/heatmap/table", params=params, headers=auth(Role.DISPATCHER)).text
    assert "<caption>Reports per cell</caption>" in table and '<th scope="col">code</th>' in table
    assert f"<td>{cell_code(PLANTED[0])}</td><td>cell 8,3</td><td>31</td>" in table
    response = client.get("/maps/heatmap/csv", params=params, headers=auth(Role.DISPATCHER))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["code", "name", "reports"] and len(rows) == 201
    assert sum(int(row[2]) for row in rows[1:]) == 200 + 9 * 30


def test_hotspot_csv_lists_every_cell(client: TestClient, auth: Auth, city: int) -> None:
    response = client.get("/maps/hotspots/csv", params=PERIOD, headers=auth(Role.MANAGER))
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 400
    assert {row["class"] for row in rows if row["code"] == cell_code((9, 4))} == {"hot99"}


def test_table_view_pages_and_keeps_every_filter(client: TestClient, auth: Auth, city: int) -> None:
    params = [*PERIOD.items(), ("status", "reported"), ("status", "filed"), ("page", "1")]
    table = client.get("/maps/hotspots/table", params=params, headers=auth(Role.MANAGER)).text
    assert "rows 1–400 of 400" in table and "page 2" not in table
    assert "status=reported&amp;status=filed" in table  # the map and CSV links keep both
    many = client.get("/maps/heatmap/table", params=PERIOD, headers=auth(Role.MANAGER)).text
    assert "rows 1–400 of 400" in many
    refused = client.get("/maps/heatmap/table", params={"page": "0"}, headers=auth(Role.MANAGER))
    assert refused.status_code == 422


def test_unknown_area_is_404(client: TestClient, auth: Auth, city: int) -> None:
    response = client.get("/maps/heatmap", params={"area": "999"}, headers=auth(Role.MANAGER))
    assert response.status_code == 404


def test_assets_are_served_and_paths_cannot_escape(client: TestClient) -> None:
    response = client.get("/maps/assets/leaflet/leaflet.js")
    assert response.status_code == 200 and "Leaflet" in response.text[:400]
    assert client.get("/maps/assets/../router.py").status_code == 404
    assert client.get("/maps/assets/%2e%2e/router.py").status_code == 404
    assert client.get("/maps/assets/nope.js").status_code == 404


def test_every_asset_has_its_licence_beside_it() -> None:
    for folder in ("leaflet", "leaflet.heat", "leaflet.markercluster"):
        names = [p.name for p in (render.ASSETS_DIR / folder).iterdir()]
        assert any("LICEN" in name for name in names), folder


# Pure rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "k", "user_bounds", "expected"),
    [
        ("quantiles", 4, None, [2.75, 4.5, 6.25, 8.0]),
        ("natural_breaks", 2, None, [3.0, 8.0]),
        ("user", 5, [5.0, 2.0], [2.0, 5.0, 8.0]),
        ("quantiles", 5, None, [3.5, 5.0, 6.5, 8.0]),
    ],
)
def test_class_breaks(
    scheme: str, k: int, user_bounds: list[float] | None, expected: list[float]
) -> None:
    values = (
        [1, 1, 2, 2, 3, 3, 6, 7, 8, 8, 8]
        if scheme == "natural_breaks"
        else [1, 2, 3, 4, 5, 6, 7, 8]
    )
    if scheme == "quantiles" and k == 5:
        values = [2, 2, 4, 4, 6, 6, 8, 8]  # four distinct values: at most four classes
    breaks = render.class_breaks(values, scheme=scheme, k=k, user_bounds=user_bounds)
    assert breaks.upper_bounds == expected


def test_class_breaks_refuse_unknown_schemes_and_empty_user_bounds() -> None:
    with pytest.raises(ValueError, match="unknown classification scheme 'jenks'"):
        render.class_breaks([1.0], scheme="jenks", k=3)
    with pytest.raises(ValueError, match="at least one bound"):
        render.class_breaks([1.0, 2.0], scheme="user", k=3, user_bounds=[])


def test_heat_points_are_merged_when_too_many() -> None:
    points = [(39.0 + i * 1e-5, 116.0 + (i % 100) * 1e-5, 1.0) for i in range(10_000)]
    merged = render.coarsened_heat_points(points, max_points=500)
    assert len(merged) <= 500
    assert max(p[2] for p in merged) == 1.0


def test_outlines_drop_finest_levels_when_too_many_vertices() -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    features = [
        {"type": "Feature", "geometry": square, "properties": {"level": level, "code": level}}
        for level in ["district"] + ["street"] * 3 + ["community"] * 10
    ]
    outlines = {"type": "FeatureCollection", "features": features}
    kept, dropped = render.trimmed_outlines(outlines, max_positions=20)
    assert dropped == ["community"] and len(kept["features"]) == 4
    kept, dropped = render.trimmed_outlines(outlines, max_positions=100)
    assert dropped == [] and len(kept["features"]) == 14


def test_tiles_url_replaces_the_outline_base() -> None:
    base = render.BaseLayer("http://tiles.city.local/{z}/{x}/{y}.png")
    page = render.heatmap_page([(39.0, 116.0, 3.0)], base=base, header=_header())
    assert "http://tiles.city.local/{z}/{x}/{y}.png" in page
    assert "Grid outlines" not in page


def test_export_inlines_every_asset() -> None:
    page = render.heatmap_page([(39.0, 116.0, 3.0)], base=render.BaseLayer(None), header=_header())
    standalone = render.inline_assets(page)
    assert ASSET_LINK.findall(standalone) == []
    assert "L.heatLayer" in standalone and "simpleheat" in standalone


def test_worst_case_pages_stay_under_two_megabytes() -> None:
    """What the caps allow at 100,000 cells: every cell a heat point, MAP_CELLS_DRAWN_MAX cell
    polygons with long names, full base outlines and the marker cap."""
    from maps.pages.pages import MAP_CELLS_DRAWN_MAX

    heat = [
        (39.0 + (i // 316) * 9e-4, 116.0 + (i % 316) * 9e-4, float(i % 50 + 1))
        for i in range(100_000)
    ]
    base = render.BaseLayer(None, _outlines(2_000, vertices=12))
    heat_page = render.heatmap_page(heat, base=base, header=_header())
    outlines = _outlines(MAP_CELLS_DRAWN_MAX, vertices=5)
    values = [
        UnitValue(i, f"110101001001{i:03d}", "多福巷社区第一网格", float(i % 97))
        for i in range(MAP_CELLS_DRAWN_MAX)
    ]
    breaks = render.class_breaks([v.value or 0 for v in values], scheme="quantiles", k=7)
    choropleth = render.choropleth_page(
        outlines, values, breaks, metric_label="Reports", base=base, header=_header()
    )
    cells = [
        CellHotspot(
            i,
            f"110101001001{i:03d}",
            "多福巷社区第一网格",
            30,
            20,
            3.1234,
            0.00123,
            HotspotClass.HOT99,
            Trend.NEW,
        )
        for i in range(MAP_CELLS_DRAWN_MAX)
    ]
    geometries = {i: f["geometry"] for i, f in enumerate(outlines["features"])}
    hotspot_page = render.hotspots_page(cells, geometries, base=base, header=_header())
    for page in (heat_page, choropleth, hotspot_page):
        assert len(page.encode()) < 2_000_000


def _outlines(count: int, *, vertices: int) -> dict[str, Any]:
    def ring(i: int) -> list[list[float]]:
        west, south = 116.12345 + (i % 300) * 0.00123, 39.12345 + (i // 300) * 0.00123
        points = [
            [round(west + 0.00111 * (j % 2), 5), round(south + 0.0001 * j, 5)]
            for j in range(vertices - 1)
        ]
        return [*points, points[0]]

    features = [
        {"type": "Feature", "id": f"110101001001{i:03d}",
         "geometry": {"type": "Polygon", "coordinates": [ring(i)]},
         "properties": {"code": f"110101001001{i:03d}", "name": "多福巷社区第一网格",
                        "level": "community"}}
        for i in range(count)
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _header() -> render.PageHeader:
    return render.PageHeader("Test", "a period")


def _options() -> ChoroplethOptions:
    return ChoroplethOptions()


# citygrid maps export ----------------------------------------------------------------------


def test_export_writes_a_standalone_choropleth(
    run_cli: Callable[..., Result], city: int, tmp_path: Path
) -> None:
    out = tmp_path / "streets.html"
    result = run_cli(
        "maps", "export", "choropleth", "--from", "2026-11-01", "--to", "2026-11-20",
        "--unit", "street", "--scheme", "natural_breaks", "--classes", "2", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    page = out.read_text(encoding="utf-8")
    assert ASSET_LINK.findall(page) == [] and "/maps/assets/" not in page
    assert "Table view" not in page  # no application to link to
    (streets,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 2]
    assert {f["properties"]["value"] for f in streets["features"]} == {"470", "200"}


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--area", "999"], 1, "no district, street or community with code 999"),
        (["--from", "yesterday"], 2, "is not an ISO date"),
        (["--scheme", "user"], 1, "scheme=user needs bounds"),
    ],
)
def test_export_refuses_bad_filters(
    run_cli: Callable[..., Result],
    tmp_path: Path,
    arguments: list[str],
    exit_code: int,
    message: str,
) -> None:
    out = tmp_path / "map.html"
    result = run_cli("maps", "export", "choropleth", *arguments, "--out", str(out))
    assert result.exit_code == exit_code
    assert message in result.output
    assert not out.exists()


def test_unknown_confidence_is_422(client: TestClient, auth: Auth) -> None:
    response = client.get(
        "/maps/hotspots", params={"confidence": "0.5"}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 422


def test_a_resource_without_a_local_copy_is_refused() -> None:
    """A Folium plugin we have not vendored must not slip its CDN link into a page."""
    from folium.plugins import Fullscreen

    fmap = render.new_map(render.BaseLayer(None), None)
    Fullscreen().add_to(fmap)  # type: ignore[no-untyped-call]
    with pytest.raises(ValueError, match="no local copy of the map resource"):
        render.finish_page(fmap, _header(), "", render.ASSETS_URL)


def test_a_long_table_is_paged(
    client: TestClient, auth: Auth, city: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("maps.pages.pages.TABLE_ROWS_MAX", 150)
    params = {**PERIOD, "page": "2"}
    table = client.get("/maps/hotspots/table", params=params, headers=auth(Role.MANAGER)).text
    assert "rows 151–300 of 400" in table
    assert ">page 1</a>" in table and ">page 3</a>" in table
    assert table.count("<tr>") == 1 + 150
