"""A unit's hotline work in headless Chromium: a department member signs in, finds the ticket on
the desk, signs for it and answers it with the four elements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from events.cases.schemas import CaseActionBody
from events.hotline.models import HotlineTicket
from events.lifecycle import CaseAction, CaseStatus
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.web.browser_support import (
    DESKTOP,
    WAIT_S,
    Site,
    chromium,
    screenshot,
    script_errors,
    seeded_site,
    sign_in,
)

pytestmark = pytest.mark.browser

WORKER = "hotline-worker"


@dataclass(frozen=True)
class Seeded:
    ticket_id: int
    ticket_number: str


def seed(session: Session) -> Seeded:
    """A ticket whose case a dispatcher has dispatched to the worker's unit."""
    category = add_category(session, code="9981", standard="citygrid-hotline-browser")
    unit = add_department(session, code="HT-BROWSER")
    add_user(session, Role.DEPARTMENT, username=WORKER, department=unit)
    dispatcher = add_user(session, Role.DISPATCHER, username="hotline-dispatcher")
    case = add_case(session, category=category, status=CaseStatus.FILED)
    ticket = HotlineTicket(
        ticket_number="BJ12345-0001",
        received_at=datetime.now(UTC) - timedelta(hours=1),
        ticket_type="complaint",
        urgency_class="general",
        content="小区门口路灯不亮",
        address_text="东四北大街12号",
        location_status="located",
        case_id=case.id,
        status="filed",
    )
    session.add(ticket)
    session.flush()
    settings = get_settings()
    actions.act_on_case(
        session,
        case.id,
        CaseAction.DISPATCH,
        dispatcher.principal(),
        CaseActionBody(department_code=unit.code),
        datetime.now(UTC),
        reopen_window=timedelta(days=settings.reopen_window_days),
        default_calendar_code=settings.default_calendar_code,
    )
    return Seeded(ticket.id, ticket.ticket_number)


@pytest.fixture(scope="module")
def site(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[Seeded]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as served:
        yield served


def submit_and_wait_for_reload(driver: webdriver.Chrome, button: WebElement) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, WAIT_S).until(staleness_of(page))


def local_minutes(moment: datetime) -> str:
    """A datetime-local input's value in the city's zone."""
    return moment.astimezone(ZoneInfo(get_settings().city_time_zone)).strftime("%Y-%m-%dT%H:%M")


def ticket_status(site: Site[Seeded]) -> HotlineTicket:
    with Session(site.engine, expire_on_commit=False) as session:
        return session.get_one(HotlineTicket, site.seeded.ticket_id)


def test_a_unit_signs_for_a_ticket_on_its_desk_and_replies_with_the_four_elements(
    site: Site[Seeded],
) -> None:
    card = f'article.hotline-ticket[data-ticket-id="{site.seeded.ticket_id}"]'
    with chromium(DESKTOP) as driver:
        sign_in(driver, site.server, WORKER, "/desk")
        ticket = driver.find_element(By.CSS_SELECTOR, card)
        assert site.seeded.ticket_number in ticket.text and "签收" in ticket.text
        sign_for = ticket.find_element(By.CSS_SELECTOR, "form[data-url$='/accept'] button")
        submit_and_wait_for_reload(driver, sign_for)
        assert ticket_status(site).status == "signed"

        form = driver.find_element(By.CSS_SELECTOR, f"{card} form.hotline-reply")
        now = datetime.now(UTC)
        for name, value in (
            ("received_at", local_minutes(now - timedelta(minutes=40))),
            ("contacted_at", local_minutes(now - timedelta(minutes=20))),
        ):
            control = form.find_element(By.CSS_SELECTOR, f'input[name="{name}"]')
            driver.execute_script("arguments[0].value = arguments[1];", control, value)
        # Without whom was contacted, the form says which element is missing.
        form.find_element(By.NAME, "action_taken").send_keys("已更换路灯灯泡，恢复照明")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(
                By.CSS_SELECTOR, f'{card} [data-field="contacted_person"] .field-error'
            ).is_displayed()
        )
        form.find_element(By.NAME, "contacted_person").send_keys("来电人本人")
        screenshot(driver, "hotline-desk-reply")
        submit_and_wait_for_reload(
            driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]")
        )
        replied = ticket_status(site)
        assert replied.status == "replied" and replied.first_contacted_at is not None
        assert not script_errors(driver, "status of 422")  # the refused first try
