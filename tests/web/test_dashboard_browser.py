"""In headless Chromium at 390×844: the case page draws its map with the cell outline, shows the
timeline and takes an action with the API's error beside the field; the manager's dashboard shows
the three maps and the evaluation table with the seeded case counted.

The server runs in a thread on a throwaway database the test commits to, each request with its
own session, as in production."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.app import create_app
from citygrid.auth import Role
from citygrid.cli import migrate
from citygrid.i18n import translations
from citygrid.settings import PROJECT_DIR
from events.models import Case
from tests.conftest import throwaway_database
from tests.events.seed import PASSWORD, add_case, add_category, add_department, add_user
from tests.grid.places import COMMUNITY

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
WAIT_S = 20
ZH = translations("zh-CN").gettext
# The case map's drawn layers: the cell outline (a Leaflet GeoJSON layer with a painted path).
CELL_OUTLINE_DRAWN = """
const drawn = window.caseMap;
if (!drawn) return 0;
return drawn.cell.getLayers().filter(layer => layer._path && layer._path.getAttribute('d')).length;
"""


@dataclass(frozen=True)
class City:
    engine: Engine
    case_id: int


@pytest.fixture(scope="module")
def city(server_url: str) -> Iterator[City]:
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = db.make_engine(url, pool_size=4)
        with Session(engine, expire_on_commit=False) as session:
            category = add_category(session)
            add_department(session, code="HW-01")
            reporter = add_user(session, Role.CITIZEN, username="reporter")
            case = add_case(session, category=category, reporter=reporter)
            for role in (Role.DISPATCHER, Role.MANAGER):
                add_user(session, role, username=f"browser-{role}")
            session.commit()
            case_id = case.id
        yield City(engine, case_id)
        engine.dispose()


@pytest.fixture(scope="module")
def server(city: City) -> Iterator[str]:
    """The application on a free local port over the committed database; its base URL."""
    factory = sessionmaker(bind=city.engine, expire_on_commit=False)

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    app = create_app()
    app.dependency_overrides[db.get_session] = own_session
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    runner = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not runner.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        runner.should_exit = True
        thread.join(timeout=5)
        listener.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--disable-background-networking")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        yield driver
    finally:
        driver.quit()


def artifacts() -> Path:
    folder = Path(
        os.environ.get("CITYGRID_TEST_ARTIFACTS") or PROJECT_DIR / ".citygrid" / "test-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(driver: webdriver.Chrome, server: str, username: str, page: str) -> None:
    """Log in through the form, pages in Chinese, and land on `page`."""
    driver.delete_all_cookies()
    driver.get(f"{server}/language?set=zh-CN&next=/login%3Fnext%3D{page}")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    WebDriverWait(driver, WAIT_S).until(lambda d: d.current_url.endswith(page))


def script_errors(driver: webdriver.Chrome) -> list[str]:
    """Severe console messages, except the browser's own favicon probe and refused API calls
    (a 4xx answer the page shows beside its field)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry["level"] == "SEVERE"
        and "favicon.ico" not in entry["message"]
        and "status of 422" not in entry["message"]
    ]


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (the log is drained)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def only_local_requests(driver: webdriver.Chrome, server: str, expected_path: str) -> bool:
    """Whether the page asked our server for `expected_path` and no other host for anything."""
    urls = requested_urls(driver)
    others = [url for url in urls if not url.startswith((server, "data:", "blob:", "about:"))]
    return not others and any(url.split("?")[0].endswith(expected_path) for url in urls)


def case_status(city: City) -> str:
    with Session(city.engine) as session:
        return session.get_one(Case, city.case_id).status


def test_case_page_draws_the_cell_and_takes_an_action(
    browser: webdriver.Chrome, server: str, city: City
) -> None:
    sign_in(browser, server, "browser-dispatcher", f"/cases/{city.case_id}")
    WebDriverWait(browser, WAIT_S).until(lambda d: d.execute_script(CELL_OUTLINE_DRAWN) == 1)
    timeline = browser.find_elements(By.CSS_SELECTOR, "#case-timeline li")
    assert len(timeline) == 1 and ZH("Reported") in timeline[0].text
    assert browser.find_element(By.ID, "case-status").text == ZH("Reported")
    browser.save_screenshot(str(artifacts() / "case-page.png"))

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
    assert only_local_requests(browser, server, "/maps/assets/leaflet/leaflet.js")


def test_dashboard_shows_three_maps_and_counts_the_case(
    browser: webdriver.Chrome, server: str, city: City
) -> None:
    sign_in(browser, server, "browser-manager", "/dashboard?by=community")
    row = browser.find_element(
        By.CSS_SELECTOR, f'#evaluation-table tr[data-key="{COMMUNITY.code}"]'
    )
    cells = [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
    assert cells[:3] == [COMMUNITY.code, COMMUNITY.name, "1"]
    browser.save_screenshot(str(artifacts() / "dashboard-top.png"))
    for layer in ("heatmap", "choropleth", "hotspots"):
        frame = browser.find_element(By.ID, f"map-{layer}")
        browser.execute_script("arguments[0].scrollIntoView()", frame)
        browser.switch_to.frame(frame)
        try:
            WebDriverWait(browser, WAIT_S).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-container")
            )
        finally:
            browser.switch_to.default_content()
    browser.save_screenshot(str(artifacts() / "dashboard-maps.png"))
    assert script_errors(browser) == []
    assert only_local_requests(browser, server, "/dashboard/maps/hotspots")
