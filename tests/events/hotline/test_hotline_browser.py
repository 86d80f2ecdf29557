"""In headless Chromium: a dispatcher opens 热线工单 from the navigation, finds a ticket the
gazetteer could not place with confidence among those to be located, clicks one of its candidate
places, and sees the ticket filed as a case (its case number linking to the case page)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from events.hotline.keys import KEY_HEADER, issue_source
from events.hotline.models import HotlineTicket
from events.models import Case
from tests.events.hotline.support import MASKED_PHONE, PHONE, add_places, ticket_body
from tests.events.intake.support import seed_intake
from tests.events.seed import add_user
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    path_and_query,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
)

ZH = translations("zh-CN").gettext
DISPATCHER = "hotline-dispatcher"


def seed(session: Session) -> str:
    """The test block with its gazetteer, a dispatcher, and a hotline key (returned)."""
    seed_intake(session)
    add_places(session)
    add_user(session, Role.DISPATCHER, username=DISPATCHER)
    return issue_source(session, name="12345").secret


@pytest.fixture(scope="module")
def site(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[str]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as served:
        yield served


def test_a_dispatcher_locates_a_waiting_ticket_by_clicking_a_candidate(
    site: Site[str],
) -> None:
    body = ticket_body(number="BJ-BROWSER-1", address_text="多福巷5号院8号楼")
    del body["lon"], body["lat"]
    sent = httpx.post(
        f"{site.server}/api/hotline/tickets", json=body, headers={KEY_HEADER: site.seeded}
    )
    assert sent.status_code == 201 and sent.json()["status"] == "to_locate", sent.text
    ticket_id = sent.json()["id"]
    with chromium(DESKTOP) as browser:
        sign_in(browser, site.server, DISPATCHER, "/console")
        browser.find_element(By.LINK_TEXT, ZH("Hotline tickets")).click()
        WebDriverWait(browser, WAIT_S).until(lambda d: path_and_query(d.current_url) == "/hotline")
        waiting = browser.find_element(By.ID, f"ticket-{ticket_id}")
        assert "BJ-BROWSER-1" in waiting.text and MASKED_PHONE in waiting.text
        assert PHONE not in browser.page_source
        assert ZH("To be located") in browser.find_element(By.ID, "tab-to_locate").text
        screenshot(browser, "hotline-to-locate")
        candidates = waiting.find_elements(By.CSS_SELECTOR, "button.candidate-pick")
        assert len(candidates) == 2
        first = sent.json()["candidates"][0]
        assert candidates[0].text.startswith(first["label"])
        candidates[0].click()
        WebDriverWait(browser, WAIT_S).until(
            lambda d: path_and_query(d.current_url).startswith("/hotline?tab=filed")
        )
        filed = browser.find_element(By.ID, f"ticket-{ticket_id}")
        assert ZH("Filed") in filed.find_element(By.CSS_SELECTOR, ".ticket-status").text
        link = filed.find_element(By.CSS_SELECTOR, "a.case-link")
        screenshot(browser, "hotline-filed")
        link.click()
        WebDriverWait(browser, WAIT_S).until(
            lambda d: path_and_query(d.current_url).startswith("/cases/")
        )
        assert script_errors(browser) == []
    with Session(site.engine) as session:
        ticket = session.get_one(HotlineTicket, ticket_id)
        assert ticket.status == "filed" and ticket.case_id is not None
        case = session.get_one(Case, ticket.case_id)
        assert case.status in ("filed", "dispatched")  # dispatched where a rule says so
        assert ticket.place_id == first["place_id"]


def test_a_dispatcher_locates_a_ticket_by_clicking_the_map(site: Site[str]) -> None:
    body = ticket_body(number="BJ-BROWSER-2", address_text="多福巷5号院9号楼")
    del body["lon"], body["lat"]
    sent = httpx.post(
        f"{site.server}/api/hotline/tickets", json=body, headers={KEY_HEADER: site.seeded}
    )
    assert sent.status_code == 201 and sent.json()["status"] == "to_locate", sent.text
    ticket_id = sent.json()["id"]
    with chromium(DESKTOP) as browser:
        sign_in(browser, site.server, DISPATCHER, "/hotline")
        card = browser.find_element(By.ID, f"ticket-{ticket_id}")
        card.find_element(By.CSS_SELECTOR, "details summary").click()
        holder = card.find_element(By.CSS_SELECTOR, ".pick-map")
        WebDriverWait(browser, WAIT_S).until(
            lambda d: len(holder.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) >= 2
        )
        holder.click()  # the middle of the map, between the candidates
        form = card.find_element(By.CSS_SELECTOR, "form.point-pick")
        lon = form.find_element(By.NAME, "lon")
        WebDriverWait(browser, WAIT_S).until(lambda d: lon.get_attribute("value") != "")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, WAIT_S).until(
            lambda d: path_and_query(d.current_url).startswith("/hotline?tab=filed")
        )
        filed = browser.find_element(By.ID, f"ticket-{ticket_id}")
        assert filed.find_element(By.CSS_SELECTOR, "a.case-link").text
        assert script_errors(browser) == []
    with Session(site.engine) as session:
        ticket = session.get_one(HotlineTicket, ticket_id)
        assert ticket.status == "filed" and ticket.place_id is None and ticket.case_id
