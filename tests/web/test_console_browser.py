"""In headless Chromium: a dispatcher dispatches a case from the console's queue (desktop size),
then a department member accepts and handles it with a photo from the desk (390×844), checked in
the database after each step. Pages in Chinese, keyboard tabs, errors beside the fields.

The server runs in a thread on a throwaway database the test commits to, each request with its
own session, as in production."""

from __future__ import annotations

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
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.i18n import translations
from citygrid.settings import PROJECT_DIR, get_settings, settings_dependency
from events.models import Case, CasePhoto, CaseTransition
from tests.conftest import throwaway_database
from tests.events.images import image_bytes
from tests.events.seed import PASSWORD
from tests.web.test_console_pages import World, seed_world

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
WAIT_S = 20
ZH = translations("zh-CN").gettext


@dataclass(frozen=True)
class City:
    engine: Engine
    world: World


@pytest.fixture(scope="module")
def city(server_url: str) -> Iterator[City]:
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = db.make_engine(url, pool_size=4)
        with Session(engine, expire_on_commit=False) as session:
            world = seed_world(session)
            session.commit()
        yield City(engine, world)
        engine.dispose()


@pytest.fixture(scope="module")
def server(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The application on a free local port over the committed database; its base URL."""
    factory = sessionmaker(bind=city.engine, expire_on_commit=False)

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    settings = get_settings().model_copy(update={"media_dir": tmp_path_factory.mktemp("media")})
    app = create_app()
    app.dependency_overrides[db.get_session] = own_session
    app.dependency_overrides[settings_dependency] = lambda: settings
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
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


def click_and_wait_for_reload(driver: webdriver.Chrome, button: WebElement, region_id: str) -> None:
    """Click an action's button; wait for the reload that success causes, and for the page's
    live region to say it is done."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))
    expected = ZH("Done. The list is up to date.")
    WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.ID, region_id).text == expected)


def case_now(city: City, case_id: int) -> Case:
    with Session(city.engine) as session:
        case = session.get_one(Case, case_id)
        session.expunge(case)
        return case


def script_errors(driver: webdriver.Chrome) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]


def visible_error(scope: WebElement, field: str) -> str:
    element = scope.find_element(By.CSS_SELECTOR, f'[data-field="{field}"] .field-error')
    WebDriverWait(scope.parent, WAIT_S).until(lambda d: element.is_displayed())
    return str(element.text)


def test_a_dispatcher_dispatches_and_the_department_handles_with_a_photo(
    browser: webdriver.Chrome, server: str, city: City, tmp_path: Path
) -> None:
    world = city.world
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    sign_in(browser, server, world.dispatcher.username, "/console")

    # The tabs work with the keyboard: arrows move between sections.
    browser.find_element(By.ID, "tab-queue").send_keys(Keys.ARROW_RIGHT)
    assert browser.switch_to.active_element.get_attribute("id") == "tab-filing"
    assert browser.find_element(By.ID, "panel-filing").is_displayed()
    browser.switch_to.active_element.send_keys(Keys.HOME)
    assert browser.find_element(By.ID, "panel-queue").is_displayed()

    # Bulk dispatch with nothing ticked says so, in Chinese.
    bulk = browser.find_element(By.ID, "bulk-form")
    bulk.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = bulk.find_element(By.CSS_SELECTOR, ".form-error")
    WebDriverWait(browser, WAIT_S).until(lambda d: error.is_displayed())
    assert error.text == ZH("Select at least one case.")

    row = browser.find_element(By.CSS_SELECTOR, f'#queue-table tr[data-case-id="{world.filed.id}"]')
    assert "HW-01" in row.text and "garbage to sanitation" in row.text
    dispatch = row.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    click_and_wait_for_reload(browser, dispatch, "console-status")
    browser.save_screenshot(str(artifacts() / "console-dispatched.png"))
    dispatched = case_now(city, world.filed.id)
    assert dispatched.status == "dispatched"
    assert dispatched.department_id == world.sanitation.id
    assert not browser.find_elements(
        By.CSS_SELECTOR, f'#queue-table tr[data-case-id="{world.filed.id}"]'
    )

    # Bulk: the ticked duplicate goes to the department chosen for all of them.
    browser.find_element(
        By.CSS_SELECTOR, f'input[name=case_ids][value="{world.duplicate.id}"]'
    ).click()
    bulk = browser.find_element(By.ID, "bulk-form")
    Select(bulk.find_element(By.NAME, "department_code")).select_by_value("CG-01")
    submit = bulk.find_element(By.CSS_SELECTOR, "button[type=submit]")
    click_and_wait_for_reload(browser, submit, "console-status")
    assert case_now(city, world.duplicate.id).department_id == world.enforcement.id

    assert script_errors(browser) == []

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    sign_in(browser, server, world.worker.username, "/desk")
    card = f'article[data-case-id="{world.filed.id}"]'

    # Returning without a reason: the API's error, translated, beside the reason field.
    browser.find_element(By.CSS_SELECTOR, f"{card} details summary").click()
    returning = browser.find_element(By.CSS_SELECTOR, f"{card} form[data-url$='/return']")
    returning.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert visible_error(returning, "reason") == ZH("Give a reason.")
    assert case_now(city, world.filed.id).status == "dispatched"
    assert all("status of 422" in message for message in script_errors(browser))

    accept = browser.find_element(By.CSS_SELECTOR, f"{card} form[data-url$='/accept'] button")
    click_and_wait_for_reload(browser, accept, "desk-status")
    assert case_now(city, world.filed.id).status == "accepted"

    photo = tmp_path / "after.jpg"
    photo.write_bytes(image_bytes("JPEG"))
    handling = browser.find_element(By.CSS_SELECTOR, f"{card} form.js-handle")
    if not handling.is_displayed():
        handling.find_element(By.XPATH, "./preceding-sibling::summary").click()
    handling.find_element(By.CSS_SELECTOR, "textarea[name=reason]").send_keys("清理完毕")
    handling.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo))
    browser.save_screenshot(str(artifacts() / "desk-handling.png"))
    submit = handling.find_element(By.CSS_SELECTOR, "button[type=submit]")
    click_and_wait_for_reload(browser, submit, "desk-status")
    browser.save_screenshot(str(artifacts() / "desk-handled.png"))

    assert case_now(city, world.filed.id).status == "handled"
    with Session(city.engine) as session:
        step = session.scalars(
            select(CaseTransition).where(
                CaseTransition.case_id == world.filed.id, CaseTransition.action == "handle"
            )
        ).one()
        photos = session.scalars(select(CasePhoto).where(CasePhoto.case_id == world.filed.id)).all()
    assert step.reason == "清理完毕"
    assert [p.transition_id for p in photos] == [step.id]
    assert step.details["photo_ids"] == [photos[0].id]
    assert script_errors(browser) == []
