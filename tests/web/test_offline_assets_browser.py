"""In headless Chromium: /docs and /redoc draw the API documentation, and every role's pages
load, without asking any host but ours for anything (an intranet has no CDN)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.web import NAVIGATION
from tests.events.seed import add_case, add_category, add_user
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

City = Site[int]  # seeded: a case's id


def seed(session: Session) -> int:
    """A user of each role (`offline-<role>`) and a reported case; the case's id."""
    for role in Role:
        add_user(session, role, username=f"offline-{role}")
    return add_case(session, category=add_category(session)).id


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(DESKTOP) as driver:
        yield driver


def drawn(driver: webdriver.Chrome, css: str) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, css))


@pytest.mark.parametrize(
    ("page", "drawn_css"),
    [
        ("/docs", ".swagger-ui .opblock-tag"),  # the operations, grouped by tag
        ("/redoc", "[role=search], .api-content h1"),
    ],
)
def test_the_api_documentation_draws_from_our_own_assets(
    browser: webdriver.Chrome, city: City, page: str, drawn_css: str
) -> None:
    requested_urls(browser)  # drained: only this page's requests count
    browser.get(f"{city.server}{page}")
    WebDriverWait(browser, WAIT_S * 3).until(lambda d: drawn(d, drawn_css))
    screenshot(browser, f"offline{page.replace('/', '-')}")
    urls = requested_urls(browser)
    assert non_local(urls) == []
    assert any("/docs/assets/" in url for url in urls)
    assert any(url.endswith("/openapi.json") for url in urls)
    assert script_errors(browser) == []


@pytest.mark.parametrize("role", list(Role))
def test_every_roles_pages_ask_no_other_host(
    browser: webdriver.Chrome, city: City, role: Role
) -> None:
    paths = [path for path, _ in NAVIGATION[role]] + [f"/cases/{city.seeded}"]
    sign_in(browser, city.server, f"offline-{role}", paths[0])
    requested_urls(browser)
    for path in paths[1:]:
        browser.get(f"{city.server}{path}")
        WebDriverWait(browser, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
    urls = requested_urls(browser)
    assert non_local(urls) == []
    assert any("/api/inbox?unread=true" in url for url in urls)  # the navigation's badge
