"""In headless Chromium (desktop size, pages in Chinese): an administrator edits a draft of the
routing rules in force, adding and changing rules with the selects by name; a conflict the API
finds is shown per rule with a button that opens it; the simulation shows which cases would go
elsewhere; the draft survives a reload; activating saves and audits a new version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import AuditEvent
from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from dispatch.models import RoutingRule, RuleSet
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events import taxonomy
from events.categories import service as categories
from events.models import Category
from tests.events.seed import add_case, add_department, add_user
from tests.grid.places import STREET, seed_block
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
ZH = translations("zh-CN").gettext


@dataclass(frozen=True)
class Seeded:
    admin: str
    case_number: str


def seed(session: Session) -> Seeded:
    """The test block with three departments, version 1 (garbage in the street → HW, the rest
    → JD) and a garbage case reported today."""
    categories.load_taxonomy(session, taxonomy.read_taxonomy())
    seed_block(session)
    for code, name in (("HW", "环卫中心"), ("JD", "东华门街道办事处"), ("CG", "城管执法队")):
        add_department(session, code=code).name = name
    admin = add_user(session, Role.ADMIN, username="rules.admin")
    rules = [
        {"category": "*", "area": "citywide", "department": "JD"},
        {
            "category": "0102",
            "category_kind": "event",
            "area": {"street": STREET.code},
            "department": "HW",
        },
    ]
    spec = {"effective_from": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "rules": rules}
    rule_sets.save_rule_set(
        session, RuleSetSpec.model_validate(spec), by=None, now=datetime.now(UTC)
    )
    garbage = session.scalars(
        select(Category).where(Category.kind == "event", Category.code == "0102")
    ).one()
    case = add_case(session, category=garbage)
    return Seeded(admin.username, case.number)


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site[Seeded]]:
    with seeded_site(server_url, tmp_path_factory.mktemp("media"), seed) as site:
        yield site


def rows(driver: webdriver.Chrome) -> list[str]:
    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#rules-table tbody tr")]


def add_rule(driver: webdriver.Chrome, *, area_kind: str, department: str) -> None:
    """Any category in `area_kind` (the block's street, or the whole city) → `department`."""
    driver.find_element(By.ID, "rule-add").click()
    form = driver.find_element(By.ID, "rule-form")
    Select(form.find_element(By.ID, "rule-area-kind")).select_by_value(area_kind)
    if area_kind == "street":
        Select(form.find_element(By.ID, "rule-street")).select_by_value(STREET.code)
    Select(form.find_element(By.ID, "rule-department")).select_by_value(department)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def accept_confirm(driver: webdriver.Chrome) -> None:
    WebDriverWait(driver, WAIT_S).until(expected_conditions.alert_is_present())
    driver.switch_to.alert.accept()


def test_an_admin_edits_simulates_and_activates_a_draft(city: Site[Seeded]) -> None:
    with chromium(DESKTOP) as driver:
        sign_in(driver, city.server, city.seeded.admin, "/admin/rules")
        assert ZH("In force") in driver.find_element(By.CSS_SELECTOR, 'tr[data-version="1"]').text
        driver.find_element(By.CSS_SELECTOR, 'a[href="/admin/rules/draft"]').click()
        WebDriverWait(driver, WAIT_S).until(lambda d: len(rows(d)) == 2)
        assert "环卫中心" in rows(driver)[1] and "东华门街道（110101001）" in rows(driver)[1]

        # A rule for the street, and one that conflicts with the citywide rule.
        add_rule(driver, area_kind="street", department="CG")
        add_rule(driver, area_kind="citywide", department="HW")
        WebDriverWait(driver, WAIT_S).until(lambda d: len(rows(d)) == 4)
        assert ZH("New") in rows(driver)[3] and "城管执法队" in rows(driver)[2]
        summary = wait_for_text(driver, "draft-summary", "新增 2 条")
        assert "与第 1 版相比" in summary

        driver.find_element(By.CSS_SELECTOR, "#simulate-form button[type=submit]").click()
        problem = wait_for_text(driver, "draft-problems", "规则 1 与规则 4 同样具体")
        assert "规则 4" in problem
        driver.find_element(By.CSS_SELECTOR, '#draft-problems button[data-rule="3"]').click()
        assert driver.find_element(By.ID, "rule-form-title").text == "规则 4"
        driver.find_element(By.ID, "rule-cancel").click()
        driver.find_element(
            By.CSS_SELECTOR, '#rules-table tr[data-index="3"] button[data-action="remove"]'
        ).click()

        # The garbage rule now sends to CG: the simulation shows the case moving.
        driver.find_element(
            By.CSS_SELECTOR, '#rules-table tr[data-index="1"] button[data-action="edit"]'
        ).click()
        Select(driver.find_element(By.ID, "rule-department")).select_by_value("CG")
        driver.find_element(By.CSS_SELECTOR, "#rule-form button[type=submit]").click()
        WebDriverWait(driver, WAIT_S).until(lambda d: ZH("Changed") in rows(d)[1])
        driver.find_element(By.CSS_SELECTOR, "#simulate-form button[type=submit]").click()
        pairs = wait_for_text(driver, "simulation-pairs", city.seeded.case_number)
        assert "环卫中心 城管执法队 1" in pairs
        screenshot(driver, "rules-draft-simulated")

        # Kept in the browser across a reload.
        driver.find_element(By.ID, "draft-comment").send_keys("垃圾改派城管")
        driver.refresh()
        wait_for_text(
            driver, "draft-status", ZH("The draft you were editing in this browser was restored.")
        )
        assert len(rows(driver)) == 3
        assert driver.find_element(By.ID, "draft-comment").get_attribute("value") == "垃圾改派城管"

        driver.find_element(By.CSS_SELECTOR, "#activate-form button[type=submit]").click()
        accept_confirm(driver)
        WebDriverWait(driver, WAIT_S).until(lambda d: d.current_url.endswith("/admin/rules/2"))
        wait_for_text(driver, "admin-status", "第 2 版已保存。")
        screenshot(driver, "rules-activated")
        assert (
            script_errors(driver, "rules/simulate - Failed to load resource") == []
        )  # the conflict

    with Session(city.engine) as session:
        saved = session.scalars(select(RuleSet).where(RuleSet.version == 2)).one()
        assert saved.comment == "垃圾改派城管"
        departments = session.scalars(
            select(RoutingRule.department_id).where(RoutingRule.rule_set_id == saved.id)
        ).all()
        assert len(departments) == 3
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "rule_set_saved")).one()
        assert event.username == city.seeded.admin and event.details["version"] == 2
