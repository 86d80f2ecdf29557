"""In headless Chromium (pages in Chinese): an administrator issues an Open311 key, sees it once,
finds it in the list (its beginning only) and revokes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import AuditEvent
from citygrid.accounts.roles import Role
from events.open311.models import Open311ApiKey
from tests.events.seed import add_user
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
    wait_for_text,
)

pytestmark = pytest.mark.browser


def seed(session: Session) -> str:
    return add_user(session, Role.ADMIN, username="keys.admin").username


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[str]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


def test_an_admin_issues_a_key_sees_it_once_and_revokes_it(city: Site[str]) -> None:
    with chromium(DESKTOP) as driver:
        sign_in(driver, city.server, city.seeded, "/admin/open311-keys")
        form = driver.find_element(By.CSS_SELECTOR, "form.js-reveal")
        form.find_element(By.ID, "key-rate").clear()
        form.find_element(By.ID, "key-rate").send_keys("0")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = form.find_element(By.CSS_SELECTOR, '[data-field="name"] .field-error')
        WebDriverWait(driver, WAIT_S).until(lambda d: error.is_displayed())

        form.find_element(By.ID, "key-name").send_keys("市民热线")
        form.find_element(By.ID, "key-rate").clear()
        form.find_element(By.ID, "key-rate").send_keys("30")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        shown = wait_for_text(driver, "issued-key", "市民热线")
        secret = driver.find_element(By.CSS_SELECTOR, '#issued-key [data-reveal-field="key"]').text
        assert len(secret) >= 24 and secret in shown
        screenshot(driver, "open311-key-issued")

        driver.find_element(By.CSS_SELECTOR, "#issued-key button[data-reload]").click()
        row = WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "tr[data-key-id]")
        )
        assert f"{secret[:8]}…" in row.text and secret not in driver.page_source
        page = driver.find_element(By.TAG_NAME, "html")
        row.find_element(By.CSS_SELECTOR, "button.danger").click()
        WebDriverWait(driver, WAIT_S).until(expected_conditions.alert_is_present())
        driver.switch_to.alert.accept()
        # The page reloads after the revocation: read the row of the new page.
        WebDriverWait(driver, WAIT_S).until(expected_conditions.staleness_of(page))
        WebDriverWait(
            driver,
            WAIT_S,
            ignored_exceptions=[StaleElementReferenceException, NoSuchElementException],
        ).until(lambda d: "已吊销" in d.find_element(By.CSS_SELECTOR, "tr[data-key-id]").text)
        assert script_errors(driver, "open311/keys - Failed to load resource") == []

    with Session(city.engine) as session:
        key = session.scalars(select(Open311ApiKey)).one()
        assert key.name == "市民热线" and key.requests_per_minute == 30 and key.revoked_at
        kinds = session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)).all()
        assert [kind for kind in kinds if kind.startswith("open311")] == [
            "open311_key_issued",
            "open311_key_revoked",
        ]
