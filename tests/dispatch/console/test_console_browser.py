"""In headless Chromium: a report filed while the console is open comes onto it without a reload;
a dispatcher dispatches a case from the console's queue to the department preselected in its
select (desktop size), then a department member accepts and handles it with a photo from the
desk (390×844), checked in the database after each step. Pages in Chinese, keyboard tabs,
errors beside the fields, no page wider than the phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.i18n import translations
from events.models import Case, CasePhoto, CaseTransition
from tests.dispatch.console.console_world import World, seed_world
from tests.events.photos.images import image_bytes
from tests.events.seed import add_case
from tests.grid.places import CELL_SE
from tests.web.browser_support import (
    DESKTOP,
    PHONE,
    WAIT_S,
    Site,
    chromium,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
)

pytestmark = pytest.mark.browser
ZH = translations("zh-CN").gettext
ARRIVAL_WAIT_S = 10  # a new report is on the console at most this late


City = Site[World]


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed_world) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(DESKTOP) as driver:
        yield driver


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


def visible_error(scope: WebElement, field: str) -> str:
    element = scope.find_element(By.CSS_SELECTOR, f'[data-field="{field}"] .field-error')
    WebDriverWait(scope.parent, WAIT_S).until(lambda d: element.is_displayed())
    return str(element.text)


def report_now(city: City, description: str) -> Case:
    """A report filed by someone else while the page is open (committed)."""
    with Session(city.engine, expire_on_commit=False) as session:
        case = add_case(
            session, category=city.seeded.garbage, place=CELL_SE, description=description
        )
        session.commit()
        return case


def fits_the_screen(driver: webdriver.Chrome) -> bool:
    """Nothing makes the page wider than the screen (wide tables scroll or become cards)."""
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    )


def test_a_report_comes_onto_the_open_console_without_a_reload(
    browser: webdriver.Chrome, city: City
) -> None:
    world = city.seeded
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    sign_in(browser, city.server, world.dispatcher.username, "/console")
    assert browser.find_element(By.CSS_SELECTOR, "#console-map.leaflet-container")
    browser.find_element(By.ID, "tab-filing").click()
    page = browser.find_element(By.TAG_NAME, "html")
    arrived = report_now(city, "井盖缺失，行人易绊倒")
    card = f'#filing-list article[data-case-id="{arrived.id}"]'
    WebDriverWait(browser, ARRIVAL_WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, card))
    assert not staleness_of(page)(browser)  # no reload
    first = browser.find_element(By.CSS_SELECTOR, "#filing-list article")
    assert first.get_attribute("data-case-id") == str(arrived.id)  # on top, marked new
    assert ZH("Just in") in first.text and arrived.number in first.text
    total = browser.find_element(By.CSS_SELECTOR, '[data-count="filing"]').text
    assert total == "(2)"
    screenshot(browser, "console-arrival")
    assert script_errors(browser) == []


def test_the_console_fits_a_phone(browser: webdriver.Chrome, city: City) -> None:
    world = city.seeded
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    sign_in(browser, city.server, world.dispatcher.username, "/console")
    row = browser.find_element(By.CSS_SELECTOR, "#queue-table tbody tr")
    assert row.is_displayed() and fits_the_screen(browser)
    screenshot(browser, "console-phone")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)


def test_a_dispatcher_dispatches_and_the_department_handles_with_a_photo(
    browser: webdriver.Chrome, city: City, tmp_path: Path
) -> None:
    world = city.seeded
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    sign_in(browser, city.server, world.dispatcher.username, "/console")

    # The tabs work with the keyboard: arrows move between sections. A list other than the queue
    # is read when its tab is chosen (the page comes back with it), focus on its tab.
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "tab-queue").send_keys(Keys.ARROW_RIGHT)
    WebDriverWait(browser, WAIT_S).until(staleness_of(page))
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.ID, "panel-filing").is_displayed()
    )
    assert browser.switch_to.active_element.get_attribute("id") == "tab-filing"
    browser.switch_to.active_element.send_keys(Keys.HOME)
    assert browser.find_element(By.ID, "panel-queue").is_displayed()

    # Bulk dispatch with nothing ticked says so, in Chinese.
    bulk = browser.find_element(By.ID, "bulk-form")
    bulk.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = bulk.find_element(By.CSS_SELECTOR, ".form-error")
    WebDriverWait(browser, WAIT_S).until(lambda d: error.is_displayed())
    assert error.text == ZH("Select at least one case.")

    row = browser.find_element(By.CSS_SELECTOR, f'#queue-table tr[data-case-id="{world.filed.id}"]')
    assert "第 1 版规则第 1 条" in row.text and "garbage to sanitation" not in row.text
    chosen = Select(row.find_element(By.NAME, "department_code")).first_selected_option
    assert chosen.get_attribute("value") == "HW-01" and "sanitation HW-01" in chosen.text
    dispatch = row.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    click_and_wait_for_reload(browser, dispatch, "console-status")
    screenshot(browser, "console-dispatched")
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
    sign_in(browser, city.server, world.worker.username, "/desk")
    card = f'article[data-case-id="{world.filed.id}"]'
    assert fits_the_screen(browser)

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
    screenshot(browser, "desk-handling")
    submit = handling.find_element(By.CSS_SELECTOR, "button[type=submit]")
    click_and_wait_for_reload(browser, submit, "desk-status")
    screenshot(browser, "desk-handled")

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
