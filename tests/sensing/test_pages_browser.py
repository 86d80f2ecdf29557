"""In headless Debian Chromium: a dispatcher signs in, opens the console, follows it to the review
queue, confirms a camera alarm by clicking and opens the case it filed; a manager opens the
detectors' precision from the analysis hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events import taxonomy
from events.categories import service as categories
from sensing.models import SensingAlarm
from tests.events.seed import add_user
from tests.sensing.demo_seed import seed_demo_devices
from tests.web import browser_support
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    path_and_query,
    screenshot,
    seeded_site,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.heavy]


@pytest.fixture(scope="module")
def site(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[None]]:
    media = tmp_path_factory.mktemp("media")

    def seed(session: Session) -> None:
        categories.load_taxonomy(session, taxonomy.read_taxonomy())
        seed_demo_devices(session, media)
        add_user(session, Role.MANAGER, username="manager")

    with seeded_site(server_url, media, seed) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(DESKTOP) as driver:
        yield driver


def alarm(site: Site[None], alarm_id: int) -> SensingAlarm:
    with Session(site.engine) as session:
        return session.get_one(SensingAlarm, alarm_id)


def test_a_dispatcher_confirms_an_alarm_from_the_console(
    browser: webdriver.Chrome, site: Site[None]
) -> None:
    with Session(site.engine) as session:
        first = session.scalar(
            select(SensingAlarm.id)
            .where(SensingAlarm.outcome == "review")
            .order_by(SensingAlarm.id)
        )
    assert first is not None
    sign_in(browser, site.server, "dispatcher", "/console")
    browser.find_element(By.CSS_SELECTOR, "#sensing-review-link a").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda d: path_and_query(d.current_url) == "/sensing/review"
    )
    row = browser.find_element(By.CSS_SELECTOR, f'#review-table tr[data-alarm-id="{first}"]')
    image = row.find_element(By.CSS_SELECTOR, "img.snapshot")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0
    )
    screenshot(browser, "sensing-review")
    row.find_element(By.CSS_SELECTOR, "button.js-confirm").click()
    link = f'#reviewed-table tr[data-alarm-id="{first}"] a.case-link'
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, link))
    confirmed = alarm(site, first)
    assert confirmed.outcome == "confirmed" and confirmed.case_id is not None
    assert not browser.find_elements(By.CSS_SELECTOR, f'#review-table tr[data-alarm-id="{first}"]')
    browser.find_element(By.CSS_SELECTOR, link).click()
    WebDriverWait(browser, WAIT_S).until(
        lambda d: path_and_query(d.current_url) == f"/cases/{confirmed.case_id}"
    )
    # The case page's device panel: the camera, its snapshot, the alarms in the case.
    panel = browser.find_element(By.ID, "case-device")
    WebDriverWait(browser, WAIT_S).until(lambda d: panel.is_displayed())
    assert confirmed.device_id in panel.text and "视频分析摄像机" in panel.text
    assert panel.find_elements(By.CSS_SELECTOR, 'img[src^="/sensing/alarms/"]')
    screenshot(browser, "sensing-case-device")
    assert browser_support.script_errors(browser) == []


def test_a_manager_opens_the_precision_page_from_the_analysis_hub(
    browser: webdriver.Chrome, site: Site[None]
) -> None:
    sign_in(browser, site.server, "manager", "/analysis")
    browser.find_element(By.CSS_SELECTOR, 'a[href="/sensing/precision"]').click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.ID, "precision-table"))
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "告警准确率"
    cells = browser.find_elements(By.CSS_SELECTOR, "#precision-table td.precision")
    assert cells and any(cell.text.endswith("%") for cell in cells)
    screenshot(browser, "sensing-precision")
    assert browser_support.script_errors(browser) == []
