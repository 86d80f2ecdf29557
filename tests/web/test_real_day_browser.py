"""A real working day on the full demo (Dongcheng, 20,000 cases), in headless Chromium.

At 1280×900 and at 390×844, each role clicks through its own lists, never typing a case's URL:
the inspector files a report; the dispatcher, whose console is open, sees it arrive on the
first page within 10 s without a reload, files it and dispatches it to the suggested department
chosen in a select; the department finds it on the desk's first page, accepts and handles it;
the inspector finds the verification task on the first page of their tasks and passes it; the
manager finds it by searching its number. Screenshots of each step are artifacts.

Every page of every role, signed in in Chinese, shows no English UI string (beyond a short list
of codes, units and names), prints no time outside the city's zone, and asks no other host for
anything, /docs and /redoc included."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import text

from tests.events.photos.images import image_bytes
from tests.web.browser_support import (
    DESKTOP,
    PHONE,
    WAIT_S,
    Site,
    chromium,
    fill_report,
    non_local,
    phone_at,
    requested_urls,
    screenshot,
    sign_in,
    wait_for_text,
)
from tests.web.demo_site import DemoPeople, demo_site

pytestmark = [pytest.mark.browser, pytest.mark.heavy]

# Latin words a Chinese page may show: codes, units, standards, product and protocol names.
ALLOWED_WORDS = frozenset(
    {
        "API", "CSV", "GeoJSON", "JSON", "Open311", "UUID", "Leaflet", "OpenStreetMap",
        "GB", "km", "PNG", "JPEG", "HTTPS", "URL", "ID", "SLA", "Getis", "Ord", "Webhook",
        "HTTP", "GeoReport", "Mann", "Kendall", "tau", "MASE",
    }
)  # fmt: skip
# Pages of each role to read, signed in in Chinese.
PAGES: dict[str, tuple[str, ...]] = {
    "inspector": ("/m/report", "/m/reports", "/m/tasks", "/inbox"),
    "dispatcher": (
        "/console",
        "/cases",
        "/hotline",
        "/hotline/callbacks",
        "/sensing/review",
        "/inbox",
    ),
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
        "/analysis",
        "/maps/emerging",
        "/maps/emerging/table",
        "/analysis/forecast",
        "/recurrences",
        "/hotline",
        "/hotline/ranking",
        "/sensing/precision",
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
        "/admin/devices",
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


# Data the pages show as they are, whatever the language: people's names, and the codes that
# devices, video platforms and the hotline send (device ids, algorithms, metric and event type
# names, sources, ticket numbers).
DATA_SHOWN_AS_IS = """
    SELECT username FROM app_user UNION ALL SELECT display_name FROM app_user
    UNION ALL SELECT id FROM sensing_device UNION ALL SELECT code FROM sensing_source
    UNION ALL SELECT DISTINCT algorithm FROM sensing_alarm
    UNION ALL SELECT DISTINCT algorithm_version FROM sensing_alarm
    UNION ALL SELECT DISTINCT metric FROM sensing_alarm
    UNION ALL SELECT DISTINCT event_type FROM sensing_alarm
    UNION ALL SELECT ticket_number FROM hotline_ticket
"""


def names_of_people(site: Site[DemoPeople]) -> frozenset[str]:
    """The words of the data the pages show as they are (DATA_SHOWN_AS_IS)."""
    with site.engine.connect() as connection:
        names = connection.scalars(text(DATA_SHOWN_AS_IS)).all()
    return frozenset(word for name in names if name for word in LATIN_WORD.findall(name))


def present(selector: str) -> Callable[[webdriver.Chrome], bool]:
    return lambda driver: bool(driver.find_elements(By.CSS_SELECTOR, selector))


def visible_text(driver: webdriver.Chrome) -> str:
    """The page's visible text, without what it marks as codes or English content."""
    return str(driver.execute_script(HIDE_MARKED))


def test_a_manager_reaches_every_analysis_from_the_navigation(site: Site[DemoPeople]) -> None:
    """Signed in in Chinese: the bar's 分析, then each analysis from the hub, and back."""
    analyses = {
        "/maps/emerging": "时空热点趋势",
        "/analysis/forecast": "案卷预测",
        "/recurrences": "结案后复发",
    }
    with chromium(DESKTOP) as driver:
        sign_in(driver, site.server, "manager", "/dashboard")
        driver.find_element(By.CSS_SELECTOR, 'nav a[href="/analysis"]').click()
        WebDriverWait(driver, WAIT_S).until(present("#analysis-list"))
        assert "使用中" in visible_text(driver) or "尚未训练模型" in visible_text(driver)
        for path, title in analyses.items():
            driver.find_element(By.CSS_SELECTOR, f'#analysis-list a[href="{path}"]').click()
            WebDriverWait(driver, WAIT_S).until(at_path(path))
            WebDriverWait(driver, WAIT_S).until(
                lambda d: d.execute_script("return document.readyState") == "complete"
            )
            shown = visible_text(driver)
            assert title in shown and "请登录" not in shown, (path, shown[:300])
            screenshot(driver, f"analysis-{path.strip('/').replace('/', '-')}")
            driver.back()
            WebDriverWait(driver, WAIT_S).until(present("#analysis-list"))


def at_path(path: str) -> Callable[[webdriver.Chrome], bool]:
    """Whether the browser shows `path` (the query string aside)."""
    return lambda driver: "/" + driver.current_url.split("/", 3)[3].split("?")[0] == path


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


# The working day ---------------------------------------------------------------------------

ARRIVAL_WAIT_S = 10  # a new report is on the dispatcher's console at most this late
# Where the inspector stands (WGS-84), per run: Wangfujing, then the Drum Tower.
PLACES = {"desktop": (116.4105, 39.9130), "phone": (116.3965, 39.9410)}
CATEGORY = "0501"  # a category the demo rules do not dispatch on filing: the dispatcher does


def case_row(site: Site[DemoPeople], case_id: int) -> dict[str, object]:
    with site.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT c.status, c.number, d.code AS department_code FROM event_case c "
                "LEFT JOIN department d ON d.id = c.department_id WHERE c.id = :id"
            ),
            {"id": case_id},
        ).one()
    return dict(row._mapping)


def event_category(site: Site[DemoPeople]) -> int:
    """The id of the event category CATEGORY (a component category has the same code)."""
    with site.engine.connect() as connection:
        found = connection.scalar(
            text("SELECT id FROM category WHERE kind = 'event' AND code = :code"),
            {"code": CATEGORY},
        )
    return int(found)


def newest_case_id(site: Site[DemoPeople]) -> int:
    with site.engine.connect() as connection:
        return int(connection.scalar(text("SELECT max(id) FROM event_case")) or 0)


def click_and_wait_for_reload(driver: webdriver.Chrome, button: WebElement) -> None:
    """Press an action's button; its success reloads the page."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))


def open_from_navigation(driver: webdriver.Chrome, path: str) -> None:
    """Click the navigation bar's link to `path` (never type a URL)."""
    link = driver.find_element(By.CSS_SELECTOR, f'.main-nav a[href="{path}"]')
    page = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("arguments[0].click()", link)
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_a_report_goes_round_the_loop_by_clicking_through_each_roles_lists(
    site: Site[DemoPeople], screen: str, tmp_path: Path
) -> None:
    metrics = DESKTOP if screen == "desktop" else PHONE
    shot = f"day-{screen}"
    with chromium(metrics) as console, phone_at(site.server, *PLACES[screen], 8) as other:
        other.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        # The dispatcher has the console open before the report comes in.
        sign_in(console, site.server, "dispatcher", "/console")
        console.find_element(By.ID, "tab-filing").click()  # the list is read with its tab
        WebDriverWait(console, WAIT_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#panel-filing #filing-list")
        )
        before = newest_case_id(site)

        # 1. The inspector files a report on the phone form.
        sign_in(other, site.server, "inspector", "/m/report")
        wait_for_text(other, "place-status", "网格")
        photo = tmp_path / "scene.jpg"
        photo.write_bytes(image_bytes("JPEG", size=(64, 48)))
        fill_report(other, CATEGORY, f"{screen}：人行道上占道经营，行人无法通过", photo)
        Select(other.find_element(By.ID, "category")).select_by_value(str(event_category(site)))
        screenshot(other, f"{shot}-1-inspector-report")
        other.find_element(By.ID, "submit-report").click()
        sent = wait_for_text(other, "queue-status", "已发送：案件")
        case_id = newest_case_id(site)
        assert case_id > before
        number = str(case_row(site, case_id)["number"])
        assert number in sent

        # 2. It comes onto the open console's first page, without a reload, within 10 s.
        page = console.find_element(By.TAG_NAME, "html")
        card = f'#filing-list article[data-case-id="{case_id}"]'
        WebDriverWait(console, ARRIVAL_WAIT_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, card)
        )
        assert not staleness_of(page)(console)
        screenshot(console, f"{shot}-2-console-arrival")
        click_and_wait_for_reload(
            console, console.find_element(By.CSS_SELECTOR, f"{card} form button.primary")
        )
        assert case_row(site, case_id)["status"] == "filed"

        # 3. In the queue (newest first) it is dispatched to the suggested department.
        console.find_element(By.ID, "tab-queue").click()
        row = console.find_element(By.CSS_SELECTOR, f'#queue-table tr[data-case-id="{case_id}"]')
        choice = Select(row.find_element(By.NAME, "department_code"))
        suggested = choice.first_selected_option.get_attribute("value")
        assert suggested, "the suggested department is preselected"
        screenshot(console, f"{shot}-3-console-dispatch")
        click_and_wait_for_reload(console, row.find_element(By.CSS_SELECTOR, "form button.primary"))
        dispatched = case_row(site, case_id)
        assert dispatched["status"] == "dispatched"
        assert dispatched["department_code"] == suggested
        assert non_local(requested_urls(console)) == []

        # 4. The department finds it on the desk's first page, accepts and handles it.
        sign_in(other, site.server, site.seeded.members[str(suggested)], "/desk")
        desk_card = f'article[data-case-id="{case_id}"]'
        accept = other.find_element(
            By.CSS_SELECTOR, f"{desk_card} form[data-url$='/accept'] button"
        )
        screenshot(other, f"{shot}-4-desk")
        click_and_wait_for_reload(other, accept)
        assert case_row(site, case_id)["status"] == "accepted"
        if not other.find_elements(By.CSS_SELECTOR, desk_card):
            # Accepted, it sorts among the unit's other work (devices' cases too) and may leave
            # the first page: the member finds it by its number, as on any busy desk.
            search = other.find_element(By.ID, "worklist-q")
            search.send_keys(str(case_row(site, case_id)["number"]))
            page = other.find_element(By.TAG_NAME, "html")
            search.submit()
            WebDriverWait(other, WAIT_S).until(staleness_of(page))
        handling = other.find_element(By.CSS_SELECTOR, f"{desk_card} form.js-handle")
        if not handling.is_displayed():
            summary = handling.find_element(By.XPATH, "./preceding-sibling::summary")
            other.execute_script("arguments[0].click()", summary)
        handling.find_element(By.CSS_SELECTOR, "textarea[name=reason]").send_keys("已劝离摊贩")
        click_and_wait_for_reload(
            other, handling.find_element(By.CSS_SELECTOR, "button[type=submit]")
        )
        assert case_row(site, case_id)["status"] == "handled"
        screenshot(other, f"{shot}-5-desk-handled")

        # 5. The inspector finds the verification task on the first page of their tasks.
        sign_in(other, site.server, "inspector", "/m/report")
        open_from_navigation(other, "/m/tasks")
        task = other.find_element(By.ID, f"task-{case_id}")
        task.find_element(By.NAME, "reason").send_keys("现场已恢复通行")
        screenshot(other, f"{shot}-6-inspector-task")
        button = task.find_element(By.CSS_SELECTOR, 'button[value="verify_pass"]')
        other.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        wait_for_text(other, "task-status", "核查通过")
        assert case_row(site, case_id)["status"] == "closed"

        # 6. The manager finds it by searching its number, and opens it from the list.
        sign_in(other, site.server, "manager", "/dashboard")
        open_from_navigation(other, "/cases")
        search = other.find_element(By.ID, "worklist-q")
        search.send_keys(number)
        page = other.find_element(By.TAG_NAME, "html")
        search.submit()
        WebDriverWait(other, WAIT_S).until(staleness_of(page))
        rows = other.find_elements(By.CSS_SELECTOR, "#case-list tbody tr")
        assert [row.get_attribute("data-case-id") for row in rows] == [str(case_id)]
        screenshot(other, f"{shot}-7-manager-search")
        open_case = other.find_element(By.CSS_SELECTOR, f'#case-list a[href="/cases/{case_id}"]')
        page = other.find_element(By.TAG_NAME, "html")
        other.execute_script("arguments[0].click()", open_case)
        WebDriverWait(other, WAIT_S).until(staleness_of(page))
        assert number in other.find_element(By.TAG_NAME, "h1").text
        assert "已结案" in visible_text(other)
        screenshot(other, f"{shot}-8-manager-case")
        assert non_local(requested_urls(other)) == []
