"""In headless Chromium: each map page draws its layer and asks no host but ours for anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid import db
from citygrid.accounts.roles import Role
from citygrid.app import create_app
from tests.conftest import token_for
from tests.maps.city import add_cases, block, every_cell, seed_city, two_minor_categories
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    chromium,
    non_local,
    requested_urls,
    script_errors,
    serve,
)

pytestmark = pytest.mark.browser

PERIOD = "period_from=2026-11-01T00:00:00%2B00:00&period_to=2026-11-20T00:00:00%2B00:00"

# Whether the page's map holds a drawn layer of the given kind, and how many features it has.
LAYER_PROBE = """
const kind = arguments[0];
const map = Object.keys(window).filter(k => k.startsWith('map_')).map(k => window[k])
    .find(v => v instanceof L.Map);
if (!map) return null;
let count = 0;
map.eachLayer(layer => {
    if (kind === 'heat' && layer._heat) count += layer._latlngs.length;
    if (kind === 'geojson' && layer instanceof L.GeoJSON && layer.getLayers().length
        && layer.getLayers()[0].feature.properties.z === undefined
        && layer.getLayers()[0].feature.properties.value !== undefined)
        count += layer.getLayers().length;
    if (kind === 'hotspots' && layer instanceof L.GeoJSON && layer.getLayers().length
        && layer.getLayers()[0].feature.properties.z !== undefined)
        count += layer.getLayers().length;
});
return count;
"""
# How many pixels of the map's canvases are painted (the layer was really drawn, not only added).
PAINTED_PIXELS = """
let painted = 0;
for (const canvas of document.querySelectorAll('.leaflet-container canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
}
return painted;
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(DESKTOP) as driver:
        yield driver


@pytest.fixture
def server(session: Session) -> Iterator[str]:
    """The application on a free local port, sharing the test's session; its base URL."""
    app = create_app()
    app.dependency_overrides[db.get_session] = lambda: session
    with serve(app) as server:
        yield server


@pytest.fixture
def city(session: Session) -> None:
    seed_city(session)
    (category, _, _), _ = two_minor_categories(session)
    created_at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    add_cases(session, dict.fromkeys(every_cell(), 1), created_at=created_at, category_id=category)
    add_cases(
        session, dict.fromkeys(block((8, 3)), 30), created_at=created_at, category_id=category
    )
    session.flush()


def open_and_wait(driver: webdriver.Chrome, url: str, kind: str) -> int:
    """Load a page, wait until its layer is on the map and painted; the layer's feature count."""
    requested_urls(driver)
    driver.get_log("browser")  # type: ignore[no-untyped-call]
    driver.get(url)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: (
            (d.execute_script(LAYER_PROBE, kind) or 0) > 0 and d.execute_script(PAINTED_PIXELS) > 0
        )
    )
    count: int = driver.execute_script(LAYER_PROBE, kind)
    return count


@pytest.mark.parametrize(
    ("path", "kind", "features"),
    [
        ("/maps/heatmap", "heat", 400),
        ("/maps/choropleth", "geojson", 400),
        ("/maps/hotspots", "hotspots", 400),
    ],
)
def test_each_page_draws_its_layer_from_local_assets_only(
    browser: webdriver.Chrome, server: str, city: None, path: str, kind: str, features: int
) -> None:
    token = token_for(Role.MANAGER)
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
    )
    assert open_and_wait(browser, f"{server}{path}?{PERIOD}", kind) == features
    urls = requested_urls(browser)
    assert any(url.endswith("/maps/assets/leaflet/leaflet.js") for url in urls), urls
    assert non_local(urls) == []
    assert script_errors(browser) == []


def test_an_exported_file_opens_with_no_network_at_all(
    browser: webdriver.Chrome,
    city: None,
    run_cli: Callable[..., Result],
    tmp_path: Path,
) -> None:
    out = tmp_path / "hotspots.html"
    result = run_cli(
        "maps",
        "export",
        "hotspots",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-20",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert open_and_wait(browser, out.as_uri(), "hotspots") == 400
    urls: list[Any] = requested_urls(browser)
    assert [url for url in urls if not url.startswith(("file:", "data:"))] == []
    assert script_errors(browser) == []


def test_the_request_check_catches_another_host(browser: webdriver.Chrome) -> None:
    """The checks above would fail on a CDN link: a page with one is caught."""
    requested_urls(browser)
    browser.get('data:text/html,<img src="https://cdn.example.org/leaflet.js">')
    assert non_local(requested_urls(browser)) == ["https://cdn.example.org/leaflet.js"]
