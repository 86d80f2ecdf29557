"""The closed loop in one headless Chromium, each role on its own pages: an inspector at a phone's
size (390×844, position from the device) files a report with a photo and queues a second one while
offline, sent exactly once when the network returns; a dispatcher files and dispatches the first;
the department accepts and handles it with a photo; the inspector verifies it; the manager sees it
counted on the choropleth and in the evaluation table. Screenshots of each step are artifacts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.models import Case, CasePhoto, Report
from tests.events.photos.images import image_bytes
from tests.events.seed import add_category, add_department, add_user
from tests.grid.places import CELL_NW, COMMUNITY, centre_of, seed_block
from tests.web.browser_support import (
    DESKTOP,
    PHONE,
    WAIT_S,
    Site,
    fill_report,
    non_local,
    phone_at,
    requested_urls,
    screenshot,
    script_errors,
    seeded_site,
    set_offline,
    sign_in,
    wait_for_text,
)

# Every role's pages in headless Chromium.
pytestmark = pytest.mark.browser

DEPARTMENT_CODE = "HW-E2E"
# The value of one unit on the choropleth drawn in the dashboard's frame (None: not drawn).
CHOROPLETH_VALUE = """
const code = arguments[0];
const map = Object.keys(window).filter(k => k.startsWith('map_')).map(k => window[k])
    .find(v => v instanceof L.Map);
if (!map) return null;
let value = null;
map.eachLayer(layer => {
    if (layer.feature && layer.feature.properties.code === code)
        value = layer.feature.properties.value;
});
return value;
"""
# Chromium logs the refused requests of an offline spell; they are the point of the test.
OFFLINE_NOISE = "ERR_INTERNET_DISCONNECTED"


City = Site[None]


def seed(session: Session) -> None:
    """The block of four cells, one category, one department, a user per role."""
    seed_block(session)
    add_category(session, code="9971", name_zh="暴露垃圾", name_en="Exposed garbage")
    department = add_department(session, code=DEPARTMENT_CODE)
    for role, username in (
        (Role.INSPECTOR, "e2e-inspector"),
        (Role.DISPATCHER, "e2e-dispatcher"),
        (Role.MANAGER, "e2e-manager"),
    ):
        add_user(session, role, username=username)
    add_user(session, Role.DEPARTMENT, username="e2e-worker", department=department)


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


@pytest.fixture(scope="module")
def browser(city: City) -> Iterator[webdriver.Chrome]:
    with phone_at(city.server, *centre_of(CELL_NW), accuracy_m=9) as driver:
        yield driver


def cases(city: City) -> list[Case]:
    with Session(city.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def case_status(city: City, case_id: int) -> str:
    with Session(city.engine) as session:
        return session.get_one(Case, case_id).status


def photo_count(city: City, case_id: int) -> int:
    with Session(city.engine) as session:
        count = session.scalar(select(func.count()).where(CasePhoto.case_id == case_id))
        return int(count or 0)


def cases_of_report(city: City, report_uuid: str) -> int:
    with Session(city.engine) as session:
        query = select(func.count(func.distinct(Report.case_id))).where(
            Report.report_uuid == uuid.UUID(report_uuid)
        )
        return int(session.scalar(query) or 0)


def submit_and_wait_for_reload(driver: webdriver.Chrome, button: WebElement) -> None:
    """Press an action's button; its success reloads the page."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))


def photo_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(image_bytes("JPEG", size=(64, 48)))
    return path


def test_a_case_goes_round_the_closed_loop_through_every_roles_pages(
    browser: webdriver.Chrome, city: City, tmp_path: Path
) -> None:
    requested_urls(browser)
    case_id = inspector_files_a_report_and_one_more_offline(browser, city, tmp_path)
    dispatcher_files_and_dispatches(browser, city, case_id)
    department_accepts_and_handles_with_a_photo(browser, city, case_id, tmp_path)
    inspector_verifies(browser, city, case_id, tmp_path)
    manager_sees_the_case_counted(browser, city)
    assert non_local(requested_urls(browser)) == []
    assert script_errors(browser, OFFLINE_NOISE) == []


def inspector_files_a_report_and_one_more_offline(
    browser: webdriver.Chrome, city: City, folder: Path
) -> int:
    sign_in(browser, city.server, "e2e-inspector", "/m/report")
    wait_for_text(browser, "place-status", CELL_NW.code)
    fill_report(browser, "9971", "垃圾堆放在路边", photo_file(folder, "garbage.jpg"))
    screenshot(browser, "flow-1-inspector-report")
    browser.find_element(By.ID, "submit-report").click()
    wait_for_text(browser, "queue-status", "已发送：案件")
    [first] = cases(city)
    assert photo_count(city, first.id) == 1

    set_offline(browser, True)
    browser.find_element(By.ID, "use-location").click()  # the form was cleared after sending
    wait_for_text(browser, "place-status", f"{centre_of(CELL_NW)[1]:.6f}")
    fill_report(browser, "9971", "又有一堆垃圾", None)
    browser.find_element(By.ID, "submit-report").click()
    wait_for_text(browser, "queue-summary", "有 1 条上报等待发送")
    waiting_uuid: str = browser.execute_async_script(
        "const done = arguments[0]; inspectorQueue.all().then((r) => done(r[0].uuid));"
    )
    assert len(cases(city)) == 1
    screenshot(browser, "flow-2-inspector-offline-queue")
    set_offline(browser, False)
    wait_for_text(browser, "queue-status", "已发送：案件")
    assert len(cases(city)) == 2 and cases_of_report(city, waiting_uuid) == 1
    screenshot(browser, "flow-3-inspector-queue-sent")
    return first.id


def dispatcher_files_and_dispatches(browser: webdriver.Chrome, city: City, case_id: int) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    sign_in(browser, city.server, "e2e-dispatcher", "/console")
    browser.find_element(By.ID, "tab-filing").click()
    filing = f'#panel-filing article[data-case-id="{case_id}"] button.primary'
    submit_and_wait_for_reload(browser, browser.find_element(By.CSS_SELECTOR, filing))
    assert case_status(city, case_id) == "filed"
    browser.find_element(By.ID, "tab-queue").click()
    row = browser.find_element(By.CSS_SELECTOR, f'#queue-table tr[data-case-id="{case_id}"]')
    department = Select(row.find_element(By.ID, f"dispatch-department-{case_id}"))
    department.select_by_value(DEPARTMENT_CODE)
    screenshot(browser, "flow-4-dispatcher-console")
    submit_and_wait_for_reload(browser, row.find_element(By.CSS_SELECTOR, "button.primary"))
    assert case_status(city, case_id) == "dispatched"


def department_accepts_and_handles_with_a_photo(
    browser: webdriver.Chrome, city: City, case_id: int, folder: Path
) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    sign_in(browser, city.server, "e2e-worker", "/desk")
    card = f'article[data-case-id="{case_id}"]'
    accept = browser.find_element(By.CSS_SELECTOR, f"{card} form[data-url$='/accept'] button")
    submit_and_wait_for_reload(browser, accept)
    assert case_status(city, case_id) == "accepted"
    handling = browser.find_element(By.CSS_SELECTOR, f"{card} form.js-handle")
    if not handling.is_displayed():
        handling.find_element(By.XPATH, "./preceding-sibling::summary").click()
    handling.find_element(By.CSS_SELECTOR, "textarea[name=reason]").send_keys("已清运")
    handling.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(
        str(photo_file(folder, "cleared.jpg"))
    )
    screenshot(browser, "flow-5-department-handling")
    submit_and_wait_for_reload(
        browser, handling.find_element(By.CSS_SELECTOR, "button[type=submit]")
    )
    assert case_status(city, case_id) == "handled"
    assert photo_count(city, case_id) == 2


def inspector_verifies(browser: webdriver.Chrome, city: City, case_id: int, folder: Path) -> None:
    sign_in(browser, city.server, "e2e-inspector", "/m/tasks")
    task = browser.find_element(By.ID, f"task-{case_id}")
    assert "已清运" in task.text
    task.find_element(By.NAME, "reason").send_keys("现场已清理")
    task.find_element(By.NAME, "photos").send_keys(str(photo_file(folder, "verified.jpg")))
    screenshot(browser, "flow-6-inspector-verifying")
    task.find_element(By.CSS_SELECTOR, 'button[value="verify_pass"]').click()
    wait_for_text(browser, "task-status", "核查通过")
    assert case_status(city, case_id) == "closed"
    assert photo_count(city, case_id) == 3


def manager_sees_the_case_counted(browser: webdriver.Chrome, city: City) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    sign_in(browser, city.server, "e2e-manager", "/dashboard")
    browser.get(f"{city.server}/dashboard?by=community")
    row = browser.find_element(
        By.CSS_SELECTOR, f'#evaluation-table tr[data-key="{COMMUNITY.code}"]'
    )
    headers = browser.find_elements(By.CSS_SELECTOR, "#evaluation-table thead th")
    cells = row.find_elements(By.CSS_SELECTOR, "th, td")
    counted = {header.text: cell.text for header, cell in zip(headers, cells, strict=True)}
    # Both reports of the community's cell; the one that went round the loop is closed.
    assert counted["上报数"] == "2" and counted["结案数"] == "1"
    frame = browser.find_element(By.ID, "map-choropleth")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    try:
        WebDriverWait(browser, WAIT_S).until(
            lambda d: d.execute_script(CHOROPLETH_VALUE, CELL_NW.code) is not None
        )
        assert float(browser.execute_script(CHOROPLETH_VALUE, CELL_NW.code)) == 2
    finally:
        browser.switch_to.default_content()
    screenshot(browser, "flow-7-manager-dashboard")
