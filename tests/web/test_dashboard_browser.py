"""In headless Chromium at 390×844: the case page draws its map with the cell outline, shows the
timeline and takes an action with the API's error beside the field; the manager's dashboard shows
today's tiles with the seeded case counted (linking to its list), the hot-spot map drawn large on
the page itself over the labelled grid, the other two maps in frames and the evaluation table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from events.models import Case
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import COMMUNITY
from tests.web import browser_support
from tests.web.browser_support import (
    PHONE,
    WAIT_S,
    Site,
    chromium,
    non_local,
    requested_urls,
    screenshot,
    seeded_site,
    sign_in,
)

ZH = translations("zh-CN").gettext
# The case map's drawn layers: the cell outline (a Leaflet GeoJSON layer with a painted path).
CELL_OUTLINE_DRAWN = """
const drawn = window.caseMap;
if (!drawn) return 0;
return drawn.cell.getLayers().filter(layer => layer._path && layer._path.getAttribute('d')).length;
"""
# The dashboard's own hot-spot map: loaded (its status says so), the grid's outlines painted under
# it, and how wide and tall it is against the page's main column.
HOTSPOT_MAP_STATE = """
const contentWidth = (element) => {
    const style = getComputedStyle(element);
    return element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
};
const holder = document.getElementById('hotspot-map');
const status = document.getElementById('hotspot-map-status').textContent;
const painted = holder.querySelectorAll('.leaflet-overlay-pane path[d]').length;
return {loaded: Boolean(window.dashboardMap && window.dashboardMap.cells), status: status,
        painted: painted, width: holder.offsetWidth, height: holder.offsetHeight,
        column: contentWidth(document.getElementById('main')),
        legend: document.querySelectorAll('#hotspot-map-legend li').length};
"""


City = Site[int]  # seeded: the reported case's id


def seed_case_and_staff(session: Session) -> int:
    """A reported case, a department, a dispatcher and a manager; the case's id."""
    category = add_category(session)
    add_department(session, code="HW-01")
    reporter = add_user(session, Role.CITIZEN, username="reporter")
    case = add_case(session, category=category, reporter=reporter)
    for role in (Role.DISPATCHER, Role.MANAGER):
        add_user(session, role, username=f"browser-{role}")
    session.flush()
    return case.id


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed_case_and_staff) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(PHONE) as driver:
        yield driver


def script_errors(driver: webdriver.Chrome) -> list[str]:
    """Severe console messages, except refused API calls (a 4xx answer the page shows beside its
    field)."""
    return browser_support.script_errors(driver, "status of 422")


def only_local_requests(driver: webdriver.Chrome, expected_path: str) -> bool:
    """Whether the page asked our server for `expected_path` and no other host for anything."""
    urls = requested_urls(driver)
    return not non_local(urls) and any(url.split("?")[0].endswith(expected_path) for url in urls)


def case_status(city: City) -> str:
    with Session(city.engine) as session:
        return session.get_one(Case, city.seeded).status


def test_case_page_draws_the_cell_and_takes_an_action(
    browser: webdriver.Chrome, city: City
) -> None:
    sign_in(browser, city.server, "browser-dispatcher", f"/cases/{city.seeded}")
    WebDriverWait(browser, WAIT_S).until(lambda d: d.execute_script(CELL_OUTLINE_DRAWN) == 1)
    timeline = browser.find_elements(By.CSS_SELECTOR, "#case-timeline li")
    assert len(timeline) == 1 and ZH("Reported") in timeline[0].text
    assert browser.find_element(By.ID, "case-status").text == ZH("Reported")
    screenshot(browser, "case-page")

    # Not filing without a reason: the API's refusal, in Chinese, beside the reason field.
    form = browser.find_element(By.ID, "action-not_file")
    browser.execute_script("arguments[0].scrollIntoView()", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = form.find_element(By.CSS_SELECTOR, '[data-field="reason"] .field-error')
    WebDriverWait(browser, WAIT_S).until(lambda d: error.is_displayed())
    assert error.text == ZH("Give a reason.")
    assert case_status(city) == "reported"

    form.find_element(By.ID, "not_file-reason").send_keys("重复上报")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.ID, "case-status").text == ZH("Not filed")
    )
    assert case_status(city) == "not_filed"
    entries = browser.find_elements(By.CSS_SELECTOR, "#case-timeline li")
    assert len(entries) == 2 and "重复上报" in entries[1].text
    assert script_errors(browser) == []
    assert only_local_requests(browser, "/maps/assets/leaflet/leaflet.js")


def test_dashboard_shows_tiles_the_hot_spot_map_and_counts_the_case(
    browser: webdriver.Chrome, city: City
) -> None:
    sign_in(browser, city.server, "browser-manager", "/dashboard?by=community")
    reported = browser.find_element(By.CSS_SELECTOR, '#tiles-today a[data-tile="reported"]')
    assert reported.find_element(By.CLASS_NAME, "tile-label").text == ZH("Cases reported")
    assert reported.find_element(By.CLASS_NAME, "tile-value").text == "1"
    assert str(reported.get_attribute("href")).split("?")[0].endswith("/cases")  # its case list
    screenshot(browser, "dashboard-top")

    holder = browser.find_element(By.ID, "hotspot-map")
    browser.execute_script("arguments[0].scrollIntoView()", holder)
    WebDriverWait(browser, WAIT_S).until(
        lambda d: (
            d.execute_script(HOTSPOT_MAP_STATE)["loaded"]
            and d.execute_script(HOTSPOT_MAP_STATE)["painted"] > 0
        )
    )
    state = browser.execute_script(HOTSPOT_MAP_STATE)
    assert state["width"] >= 0.9 * state["column"] and state["height"] >= 400, state
    assert state["legend"] == 6  # three hot and three cold classes
    assert ZH("No hot or cold spot in the period.") in state["status"]  # one case: none
    screenshot(browser, "dashboard-hotspots")

    row = browser.find_element(
        By.CSS_SELECTOR, f'#evaluation-table tr[data-key="{COMMUNITY.code}"]'
    )
    cells = [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
    assert cells[:3] == [COMMUNITY.code, COMMUNITY.name, "1"]
    for layer in ("heatmap", "choropleth"):
        frame = browser.find_element(By.ID, f"map-{layer}")
        browser.execute_script("arguments[0].scrollIntoView()", frame)
        browser.switch_to.frame(frame)
        try:
            WebDriverWait(browser, WAIT_S).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-container")
            )
        finally:
            browser.switch_to.default_content()
    screenshot(browser, "dashboard-maps")
    assert script_errors(browser) == []
    assert only_local_requests(browser, "/dashboard/maps/hotspots.json")
