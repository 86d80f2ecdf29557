"""In headless Chromium, at 1280×900 and 390×844: a page that includes the work-list map shows
the listed cases as clustered markers over the grid with its street names, counts per cell when
too many match, shows the cases again when zoomed in, follows the list's filters and links each
case; the inspector's phone map names streets and communities too. No request leaves the host.

The page is a tiny route added for the test (the console and desk include the same macro)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid import app as citygrid_app
from citygrid import web
from citygrid.accounts.roles import Role
from tests.events.seed import add_category, add_user
from tests.maps.city import (
    EAST_COMMUNITY,
    EAST_STREET,
    SOUTH,
    STEP,
    WEST,
    WEST_COMMUNITY,
    WEST_STREET,
    add_cases,
    every_cell,
)
from tests.maps.worklist.support import CREATED_AT, seed_world
from tests.web import browser_support
from tests.web.browser_support import (
    DESKTOP,
    PHONE,
    WAIT_S,
    Site,
    chromium,
    non_local,
    requested_urls,
    seeded_site,
    sign_in,
    text_of,
)

pytestmark = pytest.mark.browser

PAGE_PATH = "/test/worklist-map"
PAGE = """{% extends "base.html" %}
{% block content %}
{% import "maps/_worklist_map.html" as wm %}
<h1>工作清单</h1>
{{ wm.worklist_map("/api/map/cases", 480) }}
{% endblock %}"""
NAMES = {
    WEST_STREET: "东华门街道",
    EAST_STREET: "景山街道",
    WEST_COMMUNITY: "多福巷社区",
    EAST_COMMUNITY: "银闸社区",
}
DISPATCHER, INSPECTOR = "map-dispatcher", "map-inspector"
EVERY_CELL_CASES = 6  # 2,400 more than the world's ten: over the 2,000 markers a map draws


def seed(session: Session) -> None:
    # The committed database has no taxonomy: two categories under two major ones.
    add_category(session, code="0102", standard="browser")
    add_category(session, code="0201", name_zh="井盖", name_en="Manhole cover", standard="browser")
    seed_world(session)
    for code, name in NAMES.items():
        session.execute(
            text("UPDATE grid_region SET name = :name WHERE code = :code"),
            {"name": name, "code": code},
        )
    category_id = session.scalar(text("SELECT category_id FROM event_case LIMIT 1"))
    everywhere = dict.fromkeys(every_cell(), EVERY_CELL_CASES)
    add_cases(session, everywhere, created_at=CREATED_AT, category_id=category_id)
    add_user(session, Role.DISPATCHER, username=DISPATCHER)
    add_user(session, Role.INSPECTOR, username=INSPECTOR)


def with_test_page() -> FastAPI:
    """The application plus a page that includes the work-list map as the lists do."""
    app = citygrid_app.create_app()

    @app.get(PAGE_PATH, response_class=HTMLResponse)
    def worklist_page(request: Request) -> HTMLResponse:
        language = web.page_language(request)
        template = web.template_environment(language).from_string(PAGE)
        context: dict[str, object] = {
            "language": language,
            "principal": None,
            "navigation": (),
            "js_messages": {},
        }
        return HTMLResponse(template.render(request=request, **context))

    return app


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[None]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser_support, "create_app", with_test_page)
        with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
            yield site


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    browser_support.screenshot(driver, f"worklist-map-{name}")


def wait_for_status(driver: webdriver.Chrome, *expected: str) -> str:
    """The map's status line once it holds every `expected` text."""
    selector = ".worklist-map-status"

    def status(d: webdriver.Chrome) -> str:
        return str(d.find_element(By.CSS_SELECTOR, selector).text)

    wait(driver).until(lambda d: all(part in status(d) for part in expected))
    return status(driver)


# The names of one level drawn inside the map's frame and not hidden as overlapping (one script:
# the labels are redrawn as the map moves, so elements found one by one could go stale).
SHOWN_LABELS = """
const frame = document.querySelector('.leaflet-container').getBoundingClientRect();
return Array.from(document.querySelectorAll('.wm-label-' + arguments[0] + ' span'))
  .filter((span) => !span.classList.contains('wm-hidden'))
  .filter((span) => {
    const box = span.getBoundingClientRect();
    return box.left < frame.right && box.right > frame.left
      && box.top < frame.bottom && box.bottom > frame.top;
  })
  .map((span) => span.textContent);
"""


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException])


def shown_labels(driver: webdriver.Chrome, level: str) -> set[str]:
    return set(driver.execute_script(SHOWN_LABELS, level))


def wait_for_labels(driver: webdriver.Chrome, level: str) -> set[str]:
    wait(driver).until(lambda d: shown_labels(d, level))
    return shown_labels(driver, level)


def visible(driver: webdriver.Chrome, selector: str) -> list[WebElement]:
    return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def change_filters(driver: webdriver.Chrome, query: str) -> None:
    """What a list does when its filters change."""
    driver.execute_script(
        "document.dispatchEvent("
        "new CustomEvent('worklist:changed', {detail: {query: arguments[0]}}))",
        query,
    )


def open_a_red_case(driver: webdriver.Chrome) -> str:
    """Click the red cluster (its cases share a point: it spreads them), then a red case; the
    popup's link."""

    def spread(d: webdriver.Chrome) -> bool:
        if len(visible(d, ".wm-dot.wm-red")) == 2:
            return True
        for cluster in visible(d, ".wm-cluster.wm-red"):
            cluster.click()  # again if the first click came while the map was still moving
        return False

    wait(driver).until(spread)
    visible(driver, ".wm-dot.wm-red")[0].click()
    wait(driver).until(lambda d: visible(d, ".wm-popup a"))
    popup = visible(driver, ".wm-popup")[0]
    assert "已受理" in popup.text and "紧急" in popup.text and "已超时" in popup.text
    link = popup.find_element(By.TAG_NAME, "a")
    return f"{link.get_attribute('href')} {link.text}"


def test_the_worklist_map_at_desk_and_phone_sizes(city: Site[None], tmp_path: Path) -> None:
    with chromium(DESKTOP) as driver:
        sign_in(driver, city.server, DISPATCHER, PAGE_PATH)
        # 2,410 matches: counted per cell, over the streets' and communities' names.
        status = wait_for_status(driver, "2,410", "按单元网格汇总")
        assert "符合条件的案件共" in status
        assert wait_for_labels(driver, "street") == {NAMES[WEST_STREET], NAMES[EAST_STREET]}
        assert visible(driver, ".wm-area, .wm-cluster")
        assert "已超时" in text_of_legend(driver) and "未计时" in text_of_legend(driver)
        screenshot(driver, "1-desk-counted")

        # Zoomed in on the south-west corner: the cases themselves, cells named.
        driver.execute_script(
            "document.getElementById('worklist-map').worklistMap.map"
            ".setView([arguments[0], arguments[1]], 18)",
            SOUTH + STEP,
            WEST + STEP,
        )
        wait_for_status(driver, "当前地图范围内")
        wait(driver).until(lambda d: visible(d, ".wm-cluster"))
        assert not visible(driver, ".wm-area")
        assert "cell 0,0" in wait_for_labels(driver, "cell")
        screenshot(driver, "2-desk-zoomed-in")

        # The list narrows to the cases being handled: two, overdue, linked.
        change_filters(driver, "status=accepted")
        wait_for_status(driver, "地图上显示符合条件的案件 2 件")
        href, number = open_a_red_case(driver).split(" ")
        assert href.startswith(f"{city.server}/cases/") and number.startswith("M")
        screenshot(driver, "3-desk-popup")

        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        driver.get(f"{city.server}{PAGE_PATH}")
        wait_for_status(driver, "2,410")
        canvas = driver.find_element(By.ID, "worklist-map")
        assert canvas.size["width"] <= 390 and canvas.size["height"] >= 300
        assert wait_for_labels(driver, "street")
        change_filters(driver, "?status=accepted")
        wait_for_status(driver, "2 件")
        assert open_a_red_case(driver)
        screenshot(driver, "4-phone-popup")

        assert non_local(requested_urls(driver)) == []
        assert browser_support.script_errors(driver) == []


def text_of_legend(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, ".worklist-map-legend").text)


def test_the_inspectors_phone_map_names_the_grid(city: Site[None]) -> None:
    with chromium(PHONE) as driver:
        sign_in(driver, city.server, INSPECTOR, "/m/report")
        # Zoom 16 at the grid's middle: streets named, communities and cells outlined. (This
        # city's communities are as large as their streets: their names, at the same points as
        # the streets', are drawn but hidden as overlapping.)
        assert wait_for_labels(driver, "street") == {NAMES[WEST_STREET], NAMES[EAST_STREET]}
        communities = driver.find_elements(By.CSS_SELECTOR, ".wm-label-community span")
        assert {span.get_attribute("textContent") for span in communities} == {
            NAMES[WEST_COMMUNITY],
            NAMES[EAST_COMMUNITY],
        }
        assert len(driver.find_elements(By.CSS_SELECTOR, "#report-map path")) > 10
        screenshot(driver, "5-inspector-map")
        # The outlines ignore taps: a tap sets the place, in its cell.
        report_map = driver.find_element(By.ID, "report-map")
        ActionChains(driver).move_to_element(report_map).click().perform()
        WebDriverWait(driver, WAIT_S).until(lambda d: "110102" in text_of(d, "place-status"))
        assert non_local(requested_urls(driver)) == []
        # Chromium's own note that it has no network location service (no position is given).
        assert browser_support.script_errors(driver, "Network location provider") == []
