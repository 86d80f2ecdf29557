"""The Folium pages (pure): sizes under the caps, base tiles, and assets only from this site."""

from __future__ import annotations

from typing import Any

import pytest

from citygrid.settings import get_settings
from maps import render
from maps.classification import class_breaks
from maps.hotspot_classes import HotspotClass, Trend
from maps.page_assets import ASSETS_DIR, ASSETS_URL, inline_assets
from maps.schemas import CellHotspot, UnitValue
from tests.maps.page_support import ASSET_LINK


def test_every_asset_has_its_licence_beside_it() -> None:
    for folder in ("leaflet", "leaflet.heat", "leaflet.markercluster"):
        names = [p.name for p in (ASSETS_DIR / folder).iterdir()]
        assert any("LICEN" in name for name in names), folder


def test_tiles_url_replaces_the_outline_base() -> None:
    base = render.BaseLayer("http://tiles.city.local/{z}/{x}/{y}.png")
    page = render.heatmap_page([(39.0, 116.0, 3.0)], base=base, header=_header())
    assert "http://tiles.city.local/{z}/{x}/{y}.png" in page
    assert "Grid outlines" not in page


def test_export_inlines_every_asset() -> None:
    page = render.heatmap_page([(39.0, 116.0, 3.0)], base=render.BaseLayer(None), header=_header())
    standalone = inline_assets(page)
    assert ASSET_LINK.findall(standalone) == []
    assert "L.heatLayer" in standalone and "simpleheat" in standalone


def test_worst_case_pages_stay_under_two_megabytes() -> None:
    """What the caps allow at 100,000 cells: every cell a heat point, map_cells_drawn_max
    cell polygons with long names, full base outlines and the marker cap."""
    cells_drawn_max = get_settings().map_cells_drawn_max
    heat = [
        (39.0 + (i // 316) * 9e-4, 116.0 + (i % 316) * 9e-4, float(i % 50 + 1))
        for i in range(100_000)
    ]
    base = render.BaseLayer(None, _outlines(2_000, vertices=12))
    heat_page = render.heatmap_page(heat, base=base, header=_header())
    outlines = _outlines(cells_drawn_max, vertices=5)
    values = [
        UnitValue(i, f"110101001001{i:03d}", "多福巷社区第一网格", float(i % 97))
        for i in range(cells_drawn_max)
    ]
    breaks = class_breaks([v.value or 0 for v in values], scheme="quantiles", k=7)
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
        for i in range(cells_drawn_max)
    ]
    geometries = {i: f["geometry"] for i, f in enumerate(outlines["features"])}
    hotspot_page = render.hotspots_page(cells, geometries, base=base, header=_header())
    for page in (heat_page, choropleth, hotspot_page):
        assert len(page.encode()) < 2_000_000


def test_a_resource_without_a_local_copy_is_refused() -> None:
    """A Folium plugin we have not vendored must not slip its CDN link into a page."""
    from folium.plugins import Fullscreen

    fmap = render.new_map(render.BaseLayer(None), None)
    Fullscreen().add_to(fmap)  # type: ignore[no-untyped-call]
    with pytest.raises(ValueError, match="no local copy of the map resource"):
        render.finish_page(fmap, _header(), "", ASSETS_URL)


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
