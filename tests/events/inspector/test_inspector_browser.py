"""In headless Chromium at a phone's size (390×844): an inspector files reports with a photo, one
of them through an offline spell, and fills the form with the keyboard alone.

The server runs in a thread on a throwaway database that the test commits to (intake writes
through its own connections, so a rolled-back test transaction would be invisible to it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.models import Case, CasePhoto, Category, Report
from grid.models import GridCell
from tests.events.inspector.support import handled_case
from tests.events.photos.images import image_bytes
from tests.events.seed import add_category, add_user
from tests.grid.places import CELL_NE, CELL_NW, centre_of, seed_block
from tests.web import browser_support
from tests.web.browser_support import (
    WAIT_S,
    Site,
    fill_report,
    non_local,
    phone_at,
    requested_urls,
    seeded_site,
    set_offline,
    sign_in,
    text_of,
    wait_for_text,
)

pytestmark = pytest.mark.browser

TAB_PRESSES_MAX = 40
USERNAME = "walker"
# What the browser logs when the network is cut or the API refuses the report outside the grid:
# expected, not script errors.
EXPECTED_NOISE = ("ERR_INTERNET_DISCONNECTED", "status of 422")


City = Site[int]  # seeded: the category's id


def seed_inspector(session: Session) -> int:
    """The block of cells, a category and the inspector; the category's id."""
    seed_block(session)
    category = add_category(
        session, code="9981", standard="browser", name_zh="井盖破损", name_en="Broken cover"
    )
    add_user(session, Role.INSPECTOR, username=USERNAME)
    session.flush()
    return category.id


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed_inspector) as site:
        yield site


@pytest.fixture(scope="module")
def browser(city: City) -> Iterator[webdriver.Chrome]:
    """A phone-sized Chromium, signed in as the inspector, pages in Chinese, position granted."""
    with phone_at(city.server, *centre_of(CELL_NW), accuracy_m=12) as driver:
        sign_in(driver, city.server, USERNAME, "/m/report")
        yield driver


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    browser_support.screenshot(driver, f"inspector-{name}")


def script_errors(driver: webdriver.Chrome) -> list[str]:
    return browser_support.script_errors(driver, *EXPECTED_NOISE)


def text_of_selector(driver: webdriver.Chrome, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def queued(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The reports waiting in the page's IndexedDB queue (without their photo Blobs)."""
    records: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[0];"
        "inspectorQueue.all().then((records) => done(records.map("
        "(r) => ({uuid: r.uuid, error: r.error || null, photos: r.photos.length}))));"
    )
    return records


def cases_of(city: City, report_uuid: str | None = None) -> list[Case]:
    with Session(city.engine) as session:
        query = select(Case).order_by(Case.id)
        if report_uuid is not None:
            query = query.join(Report, Report.case_id == Case.id).where(
                Report.report_uuid == uuid.UUID(report_uuid)
            )
        return list(session.scalars(query))


def test_a_report_made_offline_is_sent_once_when_the_network_returns(
    browser: webdriver.Chrome, city: City, tmp_path: Path
) -> None:
    photo = tmp_path / "pothole.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(64, 48)))
    requested_urls(browser)
    browser.get(f"{city.server}/m/report")
    # The position comes from the (overridden) geolocation, with its accuracy, in its cell.
    wait_for_text(browser, "place-status", CELL_NW.code)
    assert "12" in wait_for_text(browser, "accuracy", "米")
    fill_report(browser, "井盖", "井盖缺失，行人易跌落", photo)
    screenshot(browser, "1-filled")
    browser.find_element(By.ID, "submit-report").click()
    sent = wait_for_text(browser, "queue-status", "已发送：案件")
    first = cases_of(city)
    assert len(first) == 1 and first[0].number in sent
    with Session(city.engine) as session:
        photos = session.scalar(select(func.count()).where(CasePhoto.case_id == first[0].id))
    assert photos == 1
    screenshot(browser, "2-sent")

    set_offline(browser, True)
    outside_grid = (centre_of(CELL_NW)[0] + 1.0, centre_of(CELL_NW)[1])
    queue_while_offline(browser, outside_grid, "不在辖区 outside the grid")
    queue_while_offline(browser, centre_of(CELL_NW), "路灯不亮 street light out")
    wait_for_text(browser, "queue-summary", "有 2 条上报等待发送")
    assert "9981 井盖破损" in text_of(browser, "queue-list")
    refused, waiting = queued(browser)
    browser.execute_async_script(
        "const done = arguments[0];"
        "inspectorQueue.all().then((records) => { window.keptCopy = records[1]; done(); });"
    )
    assert cases_of(city, waiting["uuid"]) == []
    browser.execute_script("document.getElementById('offline-queue').scrollIntoView()")
    screenshot(browser, "3-queued-offline")

    set_offline(browser, False)  # the page hears `online` and sends the queue, in order
    sent = wait_for_text(browser, "queue-status", "已发送：案件")
    [second] = cases_of(city, waiting["uuid"])
    assert second.number in sent and len(cases_of(city)) == 2
    # The report outside the grid is refused (422): kept, with the error, until discarded.
    assert queued(browser) == [{**refused, "error": queued(browser)[0]["error"]}]
    assert "请设置网格范围内的位置" in text_of(browser, "queue-list")
    screenshot(browser, "4-refused-kept")
    browser.find_element(By.CSS_SELECTOR, "#queue-list button.danger").click()
    wait_for_text(browser, "queue-status", "已丢弃")
    assert queued(browser) == [] and cases_of(city, refused["uuid"]) == []

    # A forced resend of the same queued report (say the answer was lost): a replay, no new case.
    answer = browser.execute_async_script(
        "const done = arguments[0];"
        "inspectorQueue.put(window.keptCopy).then(() => inspectorQueue.sendAll(true))"
        ".then(() => done(inspectorQueue.results[inspectorQueue.results.length - 1]));"
    )
    assert answer["status"] == 200 and answer["replayed"] is True
    assert answer["number"] == second.number
    assert "此前已收到" in text_of(browser, "queue-status")
    assert [case.id for case in cases_of(city, waiting["uuid"])] == [second.id]
    assert len(cases_of(city)) == 2 and queued(browser) == []
    assert non_local(requested_urls(browser)) == []
    assert script_errors(browser) == []


def queue_while_offline(driver: webdriver.Chrome, at: tuple[float, float], text: str) -> None:
    """With the network cut: take the device's position (at), fill and submit; it is queued."""
    lon, lat = at
    driver.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon, "accuracy": 12}
    )
    driver.find_element(By.ID, "use-location").click()
    wait_for_text(driver, "place-status", f"{lat:.6f}")
    fill_report(driver, "井盖", text, None)
    driver.find_element(By.ID, "submit-report").click()
    wait_for_text(driver, "queue-list", text)


def press(driver: webdriver.Chrome, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver: webdriver.Chrome, element_id: str) -> None:
    """Press Tab until the element has the focus (it must be reachable by keyboard)."""
    for _ in range(TAB_PRESSES_MAX):
        press(driver, Keys.TAB)
        if driver.execute_script("return document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} never got the focus with Tab")


def test_the_form_can_be_filled_and_sent_with_the_keyboard_alone(
    browser: webdriver.Chrome, city: City
) -> None:
    # No position from the device this time: the cell code places the report.
    browser.execute_cdp_cmd(
        "Browser.setPermission",
        {"origin": city.server, "permission": {"name": "geolocation"}, "setting": "denied"},
    )
    before = len(cases_of(city))
    browser.get(f"{city.server}/m/report")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.execute_script("return document.getElementById('category').options.length")
    )
    # Sent empty: the errors appear beside their fields, and the focus goes to the first one.
    tab_to(browser, "submit-report")
    press(browser, Keys.ENTER)
    description_error = "[data-field='description'] .field-error"
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.CSS_SELECTOR, description_error).text == "此项为必填项。"
    )
    assert "请设置网格范围内的位置" in text_of_selector(
        browser, "[data-field='lon/lat'] .field-error"
    )
    assert browser.execute_script("return document.activeElement.id") == "cell-code"
    press(browser, CELL_NE.code, Keys.ENTER)
    wait_for_text(browser, "place-status", CELL_NE.code)
    tab_to(browser, "address")
    press(browser, "东华门大街 12 号")
    tab_to(browser, "category-search")
    press(browser, "9981")
    tab_to(browser, "category")
    tab_to(browser, "description")
    press(browser, "键盘填写的上报 filed by keyboard")
    tab_to(browser, "urgency")
    press(browser, Keys.ARROW_DOWN)  # from normal to urgent
    tab_to(browser, "submit-report")
    screenshot(browser, "5-keyboard-filled")
    press(browser, Keys.ENTER)
    sent = wait_for_text(browser, "queue-status", "已发送：案件")
    cases = cases_of(city)
    assert len(cases) == before + 1
    newest = cases[-1]
    assert newest.number in sent
    assert (newest.urgency, newest.address) == ("urgent", "东华门大街 12 号")
    with Session(city.engine) as session:
        cell_code = session.scalar(select(GridCell.code).where(GridCell.id == newest.cell_id))
    assert cell_code == CELL_NE.code


def test_an_inspector_verifies_a_handled_case_with_a_photo(
    browser: webdriver.Chrome, city: City, tmp_path: Path
) -> None:
    with Session(city.engine, expire_on_commit=False) as session:
        category = session.get(Category, city.seeded)
        assert category is not None
        case = handled_case(session, category, feedback="已更换井盖 cover replaced")
        session.commit()
    photo = tmp_path / "after.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(64, 48)))
    browser.get(f"{city.server}/m/tasks")
    card = browser.find_element(By.ID, f"task-{case.id}")
    assert "已更换井盖 cover replaced" in card.text
    card.find_element(By.NAME, "reason").send_keys("现场已修复")
    card.find_element(By.NAME, "photos").send_keys(str(photo))
    screenshot(browser, "6-verifying")
    card.find_element(By.CSS_SELECTOR, 'button[value="verify_pass"]').click()
    assert case.number in wait_for_text(browser, "task-status", "核查通过")
    assert browser.find_elements(By.ID, f"task-{case.id}") == []
    with Session(city.engine) as session:
        verified = session.get(Case, case.id)
        assert verified is not None and verified.status == "closed"
        attached = select(func.count()).where(
            CasePhoto.case_id == case.id, CasePhoto.transition_id.is_not(None)
        )
        assert session.scalar(attached) == 1
    assert script_errors(browser) == []
