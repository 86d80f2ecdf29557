"""In headless Chromium: an administrator opens Administration from the navigation, adds a
department member by clicking (the department picked by name; a weak password refused beside
its field, in Chinese), then disables the user; checked in the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import alert_is_present
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from tests.events.seed import add_department, add_user
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    non_local,
    requested_urls,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
)

pytestmark = pytest.mark.browser
ZH = translations("zh-CN").gettext


@dataclass(frozen=True)
class Seeded:
    admin: str
    department_id: int


def seed(session: Session) -> Seeded:
    roads = add_department(session, code="RD-01", kind="roads")
    roads.name = "道路养护所"
    return Seeded(add_user(session, Role.ADMIN, username="site.admin").username, roads.id)


@pytest.fixture(scope="module")
def site(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[Seeded]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as served:
        yield served


def saved(driver: webdriver.Chrome) -> bool:
    status = driver.find_element(By.ID, "admin-status")
    return bool(status.is_displayed() and status.text == ZH("Saved."))


def test_an_administrator_adds_a_member_and_disables_them_by_clicking(site: Site[Seeded]) -> None:
    with chromium(DESKTOP) as driver:
        sign_in(driver, site.server, site.seeded.admin, "/admin/calendars")
        driver.find_element(By.LINK_TEXT, ZH("Administration")).click()
        driver.find_element(By.LINK_TEXT, ZH("Users")).click()
        form = driver.find_element(By.CSS_SELECTOR, "#add-user form")
        driver.find_element(By.CSS_SELECTOR, "#add-user summary").click()
        department = form.find_element(By.ID, "new-department")
        assert not department.is_displayed()  # only a department member has one
        Select(form.find_element(By.ID, "new-role")).select_by_value("department")
        Select(department).select_by_visible_text("道路养护所")
        form.find_element(By.ID, "new-username").send_keys("li.na")
        form.find_element(By.ID, "new-display-name").send_keys("李娜")
        form.find_element(By.ID, "new-password").send_keys("1234567890")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = form.find_element(By.CSS_SELECTOR, '[data-field="password"] .field-error')
        WebDriverWait(driver, WAIT_S).until(lambda d: error.is_displayed())
        assert error.text == ZH(
            "This password is too easy to guess: use a longer one, unlike the username or the name."
        )
        password = form.find_element(By.ID, "new-password")
        password.clear()
        password.send_keys("violet-harbour-lantern-42")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, WAIT_S).until(lambda d: "/admin/users/" in d.current_url)
        WebDriverWait(driver, WAIT_S).until(saved)
        assert "李娜" in driver.find_element(By.TAG_NAME, "h1").text
        screenshot(driver, "admin-user-added")

        driver.find_element(By.XPATH, f"//button[text()='{ZH('Disable the user')}']").click()
        WebDriverWait(driver, WAIT_S).until(alert_is_present()).accept()
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_elements(By.XPATH, f"//button[text()='{ZH('Enable the user')}']")
        )
        assert [url for url in non_local(requested_urls(driver))] == []
        assert all("status of 422" in message for message in script_errors(driver))

    with Session(site.engine) as session:
        user = session.scalars(select(User).where(User.username == "li.na")).one()
        assert (user.display_name, user.role) == ("李娜", "department")
        assert user.department_id == site.seeded.department_id and not user.is_active
        kinds = session.scalars(select(AuditEvent.kind).where(AuditEvent.user_id == user.id))
        assert {"user_created", "user_disabled"} <= set(kinds)
