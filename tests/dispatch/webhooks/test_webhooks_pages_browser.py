"""In headless Chromium (pages in Chinese): an administrator registers a webhook for two kinds of
event, sees its secret once, disables it and opens its delivery log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from dispatch.models import Webhook
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
URL = "https://receiver.example/citygrid"


def seed(session: Session) -> str:
    return add_user(session, Role.ADMIN, username="webhooks.admin").username


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[str]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


def test_an_admin_registers_a_webhook_and_disables_it(city: Site[str]) -> None:
    with chromium(DESKTOP) as driver:
        sign_in(driver, city.server, city.seeded, "/admin/webhooks")
        form = driver.find_element(By.CSS_SELECTOR, "form.js-reveal")
        form.find_element(By.ID, "webhook-url").send_keys("receiver.example")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = form.find_element(By.CSS_SELECTOR, '[data-field="url"] .field-error')
        WebDriverWait(driver, WAIT_S).until(lambda d: error.is_displayed())

        form.find_element(By.ID, "webhook-url").clear()
        form.find_element(By.ID, "webhook-url").send_keys(URL)
        for kind in ("case.dispatched", "case.closed"):
            form.find_element(By.CSS_SELECTOR, f'input[value="{kind}"]').click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for_text(driver, "new-secret", URL)
        secret = driver.find_element(
            By.CSS_SELECTOR, '#new-secret [data-reveal-field="secret"]'
        ).text
        assert len(secret) >= 16
        screenshot(driver, "webhook-registered")

        driver.find_element(By.CSS_SELECTOR, "#new-secret button[data-reload]").click()
        row = WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "tr[data-webhook-id]")
        )
        assert "案件已派遣" in row.text and "案件已结案" in row.text
        assert secret not in driver.page_source
        page = driver.find_element(By.TAG_NAME, "html")
        row.find_element(By.CSS_SELECTOR, 'form[data-method="PATCH"] button').click()
        # The page reloads after the change: read the row of the new page.
        WebDriverWait(driver, WAIT_S).until(staleness_of(page))
        WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: "启用" in d.find_element(By.CSS_SELECTOR, "tr[data-webhook-id]").text
        )
        driver.find_element(By.CSS_SELECTOR, "tr[data-webhook-id] td a").click()
        wait_for_text(driver, "main", "尚未向此 Webhook 发送任何事件。")
        assert script_errors(driver, "api/webhooks - Failed to load resource") == []

    with Session(city.engine) as session:
        webhook = session.scalars(select(Webhook)).one()
        assert webhook.url == URL and webhook.event_kinds == ["case.closed", "case.dispatched"]
        assert webhook.is_active is False and webhook.secret == secret
