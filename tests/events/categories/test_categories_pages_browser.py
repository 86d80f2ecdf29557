"""In headless Chromium (pages in Chinese): an administrator finds a category, changes its time
limits (clearing one) through the form, and retires it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events import taxonomy
from events.categories import service as categories
from events.models import Category
from tests.events.seed import add_user
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    script_errors,
    seeded_site,
    sign_in,
    wait_for_text,
)

pytestmark = pytest.mark.browser


def seed(session: Session) -> str:
    categories.load_taxonomy(session, taxonomy.read_taxonomy())
    return add_user(session, Role.ADMIN, username="categories.admin").username


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[str]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


def garbage(city: Site[str]) -> Category:
    with Session(city.engine) as session:
        found = session.scalars(
            select(Category).where(
                Category.kind == "event",
                Category.code == "0102",
                Category.standard == taxonomy.STANDARD_2013,
            )
        ).one()
        session.expunge(found)
        return found


def test_an_admin_changes_limits_and_retires_a_category(city: Site[str]) -> None:
    category_id = garbage(city).id
    with chromium(DESKTOP) as driver:
        sign_in(driver, city.server, city.seeded, "/admin/categories?q=0102")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-category-id="{category_id}"]')
        row.find_element(By.TAG_NAME, "summary").click()
        normal = row.find_element(By.NAME, "limit_hours_normal")
        normal.clear()
        normal.send_keys("0")
        row.find_element(By.CSS_SELECTOR, "form[data-method=PATCH] button[type=submit]").click()
        error = row.find_element(By.CSS_SELECTOR, '[data-field="limit_hours_normal"] .field-error')
        WebDriverWait(driver, WAIT_S).until(lambda d: error.is_displayed())

        normal.clear()
        normal.send_keys("6.5")
        row.find_element(By.NAME, "limit_hours_urgent").clear()
        row.find_element(By.CSS_SELECTOR, "form[data-method=PATCH] button[type=submit]").click()
        row = WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-category-id="{category_id}"]')
        )
        wait_for_text(driver, "main", "6.5 / – 工作小时")
        driver.find_element(
            By.CSS_SELECTOR, f'tr[data-category-id="{category_id}"] button.danger'
        ).click()
        WebDriverWait(driver, WAIT_S).until(expected_conditions.alert_is_present())
        driver.switch_to.alert.accept()
        WebDriverWait(driver, WAIT_S).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-category-id="{category_id}"]')
        )
        assert script_errors(driver, "api/categories/") == []

    changed = garbage(city)
    assert (changed.limit_hours_normal, changed.limit_hours_urgent) == (6.5, None)
    assert changed.retired_at is not None
