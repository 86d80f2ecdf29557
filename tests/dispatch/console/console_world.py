"""The console's and the desk's world: two departments, one routing rule (9901 → HW-01), users of
each role, and cases in each of the console's sections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from dispatch.actions import service as actions
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from events.cases.schemas import CaseActionBody
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, Category
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import CELL_NE, CELL_NW, CELL_SW, DISTRICT, Place, centre_of

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


# n = 1…count: the n-th case reported (oldest - n × apart) minutes ago, due (due + n) hours on.
BULK_CASES = """
INSERT INTO event_case (number, status, category_id, description, address, geom, cell_id,
    department_id, created_at, updated_at, filed_at, dispatched_at, due_at, warn_at)
SELECT '19990101-' || lpad((nextval('event_case_id_seq') + 1000000)::text, 8, '0'),
       CAST(:status AS text), :category, CAST(:description AS text) || ' ' || n,
       '北京市东城区多福巷' || n || '号', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
       (SELECT id FROM grid_cell WHERE code = :cell), CAST(:department AS int),
       reported_at, reported_at,
       CASE WHEN CAST(:status AS text) <> 'reported' THEN reported_at END,
       CASE WHEN CAST(:department AS int) IS NOT NULL THEN now() - interval '1 hour' END,
       now() + make_interval(secs => (CAST(:due AS float) + n) * 3600),
       now() + make_interval(secs => (CAST(:due AS float) + n) * 3600 - 1800)
FROM generate_series(1, :count) AS n,
     LATERAL (SELECT now() - make_interval(secs => (:oldest - n * :apart) * 60) AS reported_at) t
ORDER BY n
RETURNING id
"""


def add_many_cases(
    session: Session,
    *,
    count: int,
    status: CaseStatus,
    category: Category,
    place: Place = CELL_NW,
    department: Department | None = None,
    minutes_apart: float = 1.0,
    oldest_minutes_ago: float | None = None,
    description: str = "路边堆放杂物",
    due_in_hours: float | None = None,
) -> list[int]:
    """`count` cases in one INSERT … SELECT, the n-th reported n × `minutes_apart` minutes before
    the oldest-first start (the last one the newest), each with its first report; their ids,
    oldest first. A deadline `due_in_hours` from now (stepping an hour per case) if given."""
    oldest = oldest_minutes_ago if oldest_minutes_ago is not None else count * minutes_apart + 60
    lon, lat = centre_of(place)
    parameters = {
        "status": status.value,
        "category": category.id,
        "description": description,
        "lon": lon,
        "lat": lat,
        "cell": place.code,
        "department": department.id if department else None,
        "oldest": oldest,
        "apart": minutes_apart,
        "due": due_in_hours,
        "count": count,
    }
    rows = session.execute(text(BULK_CASES), parameters).scalars().all()
    session.execute(
        text(
            "INSERT INTO report (report_uuid, case_id, original_case_id, geom, description, "
            "channel) SELECT gen_random_uuid(), id, id, geom, description, 'app' FROM event_case "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": list(rows)},
    )
    return sorted(rows)
