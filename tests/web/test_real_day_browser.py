"""A real working day on the full demo (Dongcheng, 20,000 cases), in headless Chromium.

Every page of every role, signed in in Chinese, shows no English UI string (beyond a short list
of codes, units and names), prints no time outside the city's zone, and asks no other host for
anything, /docs and /redoc included."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    non_local,
    requested_urls,
    screenshot,
    sign_in,
)
from tests.web.demo_site import DemoPeople, demo_site

pytestmark = [pytest.mark.browser, pytest.mark.heavy]

# Latin words a Chinese page may show: codes, units, standards, product and protocol names.
ALLOWED_WORDS = frozenset(
    {
        "API", "CSV", "GeoJSON", "JSON", "Open311", "UUID", "Leaflet", "OpenStreetMap",
        "GB", "km", "PNG", "JPEG", "HTTPS", "URL", "ID", "SLA", "Getis", "Ord", "Webhook",
        "HTTP", "GeoReport",
    }
)  # fmt: skip
# Pages of each role to read, signed in in Chinese.
PAGES: dict[str, tuple[str, ...]] = {
    "inspector": ("/m/report", "/m/reports", "/m/tasks", "/inbox"),
    "dispatcher": ("/console", "/cases", "/inbox"),
    "department": ("/desk", "/cases", "/inbox"),
    "manager": (
        "/dashboard",
        "/cases",
        "/maps/heatmap",
        "/maps/choropleth",
        "/maps/hotspots",
        "/maps/heatmap/table",
        "/maps/choropleth/table",
        "/maps/hotspots/table",
        "/dashboard/maps/heatmap",
        "/dashboard/maps/choropleth",
        "/dashboard/maps/hotspots",
    ),
    "admin": (
        "/admin",
        "/admin/users",
        "/admin/departments",
        "/admin/calendars",
        "/admin/rules",
        "/admin/categories",
        "/admin/open311-keys",
        "/admin/webhooks",
    ),
}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’]{2,}")
# A time with a zone or in ISO form is a time the reader must convert: pages print none.
ZONED_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}(?::\d{2})?(?:Z\b|\s*(?:UTC|GMT)|\+\d{2}:\d{2})"
)
# Text a page marks as not Chinese UI: codes (<code>) and content in English (lang="en", such
# as a category's English name beside its Chinese one, or the language switch).
HIDE_MARKED = """
document.querySelectorAll('code, [lang="en"]').forEach(
    (element) => element.style.setProperty('display', 'none', 'important'));
return document.body.innerText;
"""


@pytest.fixture(scope="module")
def site(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[DemoPeople]]:
    with demo_site(server_url, tmp_path_factory.mktemp("media")) as served:
        yield served


def english_in(text: str, people: frozenset[str]) -> list[str]:
    """Latin words of a page's visible text that are not codes, units or people's names."""
    allowed = ALLOWED_WORDS | people
    return sorted({word for word in LATIN_WORD.findall(text) if word not in allowed})


def names_of_people(site: Site[DemoPeople]) -> frozenset[str]:
    """The words of every username and display name: data the pages show as they are."""
    with site.engine.connect() as connection:
        rows = connection.execute(text("SELECT username, display_name FROM app_user")).all()
    return frozenset(word for row in rows for name in row for word in LATIN_WORD.findall(name))


def present(selector: str) -> Callable[[webdriver.Chrome], bool]:
    return lambda driver: bool(driver.find_elements(By.CSS_SELECTOR, selector))


def visible_text(driver: webdriver.Chrome) -> str:
    """The page's visible text, without what it marks as codes or English content."""
    return str(driver.execute_script(HIDE_MARKED))


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_in_chinese_has_no_english_no_foreign_time_and_no_other_host(
    site: Site[DemoPeople], role: str
) -> None:
    problems: dict[str, object] = {}
    people = names_of_people(site)
    with chromium(DESKTOP) as driver:
        sign_in(driver, site.server, role, PAGES[role][0])
        for path in PAGES[role]:
            driver.get(site.server + path)
            WebDriverWait(driver, WAIT_S).until(
                lambda d: d.execute_script("return document.readyState") == "complete"
            )
            shown = visible_text(driver)
            assert "请登录" not in shown and "404" not in driver.title, (path, driver.title)
            if words := english_in(shown, people):
                problems[f"{path}: English"] = words
            if times := ZONED_TIME.findall(shown):
                problems[f"{path}: zoned times"] = times[:5]
            if foreign := non_local(requested_urls(driver)):
                problems[f"{path}: other hosts"] = foreign
            screenshot(driver, f"chinese-{role}-{path.strip('/').replace('/', '-') or 'root'}")
    assert problems == {}, "\n".join(f"{key}: {value}" for key, value in problems.items())


def test_docs_and_redoc_ask_no_other_host(site: Site[DemoPeople]) -> None:
    with chromium(DESKTOP) as driver:
        for path, ready in (("/docs", ".swagger-ui .info"), ("/redoc", "redoc, .api-content")):
            driver.get(site.server + path)
            WebDriverWait(driver, WAIT_S).until(present(ready))
            assert non_local(requested_urls(driver)) == [], path
            screenshot(driver, f"offline{path.replace('/', '-')}")
