"""The map page builders (`maps.pages.service`): what a page draws under its limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from maps.pages.service import (
    MapLimits,
    choropleth_html,
    heatmap_html,
    hotspots_html,
    map_limits,
)
from maps.schemas import ChoroplethOptions
from tests.maps.city import EAST_STREET
from tests.maps.page_support import FILTERS, embedded_geojson


def limits(**changes: Any) -> MapLimits:
    """The settings' map limits with some changed."""
    return replace(map_limits(get_settings()), **changes)


def test_markers_are_drawn_only_under_the_cap(session: Session, planted_city: int) -> None:
    under = heatmap_html(session, FILTERS.model_copy(update={"area_code": EAST_STREET}),
                         limits(markers_cap=200), language="en")  # fmt: skip
    assert "markerClusterGroup" in under and "L.circleMarker" in under
    over = heatmap_html(session, FILTERS, limits(markers_cap=200), language="en")
    assert "markerClusterGroup" not in over
    assert "670 cases match: more than the 200 shown as markers" in over


def test_too_many_cells_switch_to_communities(session: Session, planted_city: int) -> None:
    page = choropleth_html(
        session, FILTERS, ChoroplethOptions(), limits(cells_drawn_max=100), language="en"
    )
    assert "The area has 400 cells, more than the 100 a page draws: showing communities" in page
    assert any(len(fc["features"]) == 2 for fc in embedded_geojson(page))


def test_hotspot_page_over_the_cap_draws_only_significant_cells(
    session: Session, planted_city: int
) -> None:
    page = hotspots_html(session, FILTERS, limits(cells_drawn_max=50), language="en")
    (cells,) = [
        fc
        for fc in embedded_geojson(page)
        if fc["features"] and "z" in fc["features"][0]["properties"]
    ]
    assert 0 < len(cells["features"]) <= 50
    assert "Not significant" not in {f["properties"]["class"] for f in cells["features"]}
    assert "only hot and cold spots are drawn" in page
