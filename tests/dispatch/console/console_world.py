"""The console's and the desk's world: two departments, one routing rule (9901 → HW-01), users of
each role, and cases in each of the console's sections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.cases.schemas import CaseActionBody
from events.lifecycle import CaseAction
from events.models import Case, Category
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import CELL_NE, CELL_NW, CELL_SW, DISTRICT

TEST_STANDARD = "citygrid-test"
WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class World:
    """Two departments, one routing rule (9901 → HW-01), users of each role, and cases."""

    garbage: Category
    sanitation: Department
    enforcement: Department
    dispatcher: User
    worker: User  # of sanitation
    filed: Case  # in the queue, HW-01 suggested
    reported: Case  # waiting to be filed
    duplicate: Case  # filed, next to `filed`
    postponing: Case  # accepted by sanitation, a postponement asked


def act(session: Session, case: Case, action: CaseAction, user: User, **body: Any) -> Case:
    return actions.act_on_case(
        session,
        case.id,
        action,
        user.principal(),
        CaseActionBody(**body),
        datetime.now(UTC),
        reopen_window=WINDOW,
        default_calendar_code=get_settings().default_calendar_code,
    )


def seed_world(session: Session) -> World:
    """The world above, committed only to the test's transaction."""
    sanitation = add_department(session, code="HW-01")
    enforcement = add_department(session, code="CG-01", kind="urban_mgmt_enforcement")
    garbage = add_category(session, code="9901", standard=TEST_STANDARD, name_en="Test garbage")
    admin = add_user(session, Role.ADMIN, username="console-admin")
    dispatcher = add_user(session, Role.DISPATCHER, username="console-dispatcher")
    worker = add_user(session, Role.DEPARTMENT, username="desk-worker", department=sanitation)
    cases = [
        add_case(session, category=garbage, place=place, description=text)
        for place, text in (
            (CELL_NE, "bags of rubbish at the gate"),
            (CELL_NW, "a sofa left on the pavement"),
            (CELL_NE, "rubbish bags by the gate again"),
            (CELL_SW, "overflowing bin"),
        )
    ]
    rule = {"category": "9901", "category_kind": "event", "department": "HW-01"}
    spec = {
        "auto_dispatch": [],
        "rules": [{**rule, "area": {"district": DISTRICT.code}, "name": "garbage to sanitation"}],
        "effective_from": datetime.now(UTC) - timedelta(days=1),
        "comment": "page tests",
    }
    rule_sets.save_rule_set(
        session, RuleSetSpec.model_validate(spec), by=admin.principal(), now=datetime.now(UTC)
    )
    filed, reported, duplicate, postponing = cases
    for case in (filed, duplicate, postponing):
        act(session, case, CaseAction.FILE, dispatcher)
    act(session, postponing, CaseAction.DISPATCH, dispatcher)
    act(session, postponing, CaseAction.ACCEPT, worker)
    act(session, postponing, CaseAction.REQUEST_POSTPONEMENT, worker, hours=3, reason="no lorry")
    return World(
        garbage, sanitation, enforcement, dispatcher, worker, filed, reported, duplicate, postponing
    )
