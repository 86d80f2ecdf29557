"""In headless Chromium at 390×844: the navigation's badge counts the unread notices; opening a
notice's case from the inbox marks it read, and "mark all read" clears the badge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from dispatch.inbox import service as notifications
from tests.events.seed import add_case, add_category, add_user
from tests.web.browser_support import (
    PHONE,
    WAIT_S,
    Site,
    chromium,
    non_local,
    path_and_query,
    requested_urls,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
)

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Seeded:
    case_id: int
    case_number: str


def seed(session: Session) -> Seeded:
    """A dispatcher with three unread notices, one of them about a case."""
    case = add_case(session, category=add_category(session))
    dispatcher = add_user(session, Role.DISPATCHER, username="inbox-dispatcher")
    now = datetime.now(UTC)
    for title in ("first note", "second note"):
        notifications.notify(session, [dispatcher.id], kind="note", title=title, now=now)
    notifications.notify(
        session,
        [dispatcher.id],
        kind="case.dispatched",
        title="Case dispatched",
        case_id=case.id,
        body={"due_at": None, "auto": False},
        now=now,
    )
    return Seeded(case.id, case.number)


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[Seeded]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


def badge(driver: webdriver.Chrome) -> str:
    """The badge's count, or "" while it is hidden."""
    element = driver.find_element(By.ID, "inbox-badge")
    shown = element.is_displayed()
    return str(element.find_element(By.CLASS_NAME, "nav-badge-count").text) if shown else ""


def test_the_badge_counts_down_as_notices_are_read(city: Site[Seeded]) -> None:
    with chromium(PHONE) as browser:
        sign_in(browser, city.server, "inbox-dispatcher", "/console")
        WebDriverWait(browser, WAIT_S).until(lambda d: badge(d) == "3")
        browser.find_element(By.CSS_SELECTOR, '.main-nav a[href="/inbox"]').click()
        WebDriverWait(browser, WAIT_S).until(lambda d: path_and_query(d.current_url) == "/inbox")
        screenshot(browser, "inbox-1-unread")
        case_link = browser.find_element(By.CSS_SELECTOR, "a.inbox-open")
        assert city.seeded.case_number in case_link.text and "已派遣至本部门" in case_link.text

        case_link.click()
        case_path = f"/cases/{city.seeded.case_id}"
        WebDriverWait(browser, WAIT_S).until(lambda d: path_and_query(d.current_url) == case_path)
        WebDriverWait(browser, WAIT_S).until(lambda d: badge(d) == "2")

        browser.back()
        WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.ID, "inbox-read-all"))
        browser.refresh()
        read = browser.find_elements(By.CSS_SELECTOR, ".inbox-item.read a.inbox-open")
        assert len(read) == 1
        browser.find_element(By.ID, "inbox-read-all").click()
        WebDriverWait(browser, WAIT_S).until(lambda d: not d.find_elements(By.ID, "inbox-read-all"))
        assert badge(browser) == "" and not browser.find_elements(By.CSS_SELECTOR, ".unread")
        screenshot(browser, "inbox-2-all-read")
        assert non_local(requested_urls(browser)) == []
        assert script_errors(browser) == []
