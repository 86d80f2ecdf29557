"""Recurrence links on a hand-labelled fixture: the batch command and the link at intake find
exactly the labelled recurrences (precision = recall = 1); the case pages, the ranked list
(JSON, CSV, page) and the evaluation's recurrence rate per department show them."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid import db
from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from components.models import Component
from events.models import Case, CaseAssignment, Category
from events.recurrence import service
from events.recurrence.models import CaseRecurrence
from tests.citygrid.refusals import refused_field
from tests.events.intake.support import configure_app, headers_for, report_body
from tests.events.seed import add_category, add_department, add_user
from tests.grid.places import CELL_NW, centre_of, seed_block

GEOD = Geod(ellps="WGS84")
T0 = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ORIGIN = centre_of(CELL_NW)
TEST_STANDARD = "citygrid-recurrence-test"


def moved(
    point: tuple[float, float], east_m: float = 0.0, north_m: float = 0.0
) -> tuple[float, float]:
    lon, lat = point
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    return lon, lat


@dataclass
class Fixture:
    cases: dict[str, Case]
    expected: dict[str, str]  # new case label → the label of the closed case it repeats
    garbage: Category
    department: Department


class Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.cases: dict[str, Case] = {}
        self.cell_id = session.scalar(text("SELECT id FROM grid_cell ORDER BY code LIMIT 1"))

    def case(
        self,
        label: str,
        category: Category,
        point: tuple[float, float],
        created: datetime,
        status: str = "accepted",
        *,
        closed: datetime | None = None,
        component: Component | None = None,
        merged_into: str | None = None,
    ) -> Case:
        case = Case(
            number=f"RT-{len(self.cases) + 1:03d}",
            status=status,
            category_id=category.id,
            description=f"recurrence fixture {label}",
            geom=func.ST_SetSRID(func.ST_MakePoint(*point), 4326),
            cell_id=self.cell_id,
            created_at=created,
            closed_at=closed,
            component_id=component.id if component else None,
            merged_into_id=self.cases[merged_into].id if merged_into else None,
        )
        self.session.add(case)
        self.session.flush()
        self.cases[label] = case
        return case


def lamp(session: Session, category: Category, code: str, point: tuple[float, float]) -> Component:
    component = Component(
        code=code,
        category_id=category.id,
        geom=func.ST_SetSRID(func.ST_MakePoint(*point), 4326),
    )
    session.add(component)
    session.flush()
    return component


@pytest.fixture
def fixture(session: Session) -> Fixture:
    """Closed, open and cancelled earlier cases; new cases just inside and just outside the
    distance and the period, of another category, on a component, not counted; a chain."""
    seed_block(session)
    garbage = add_category(session, code="0102", standard=TEST_STANDARD)
    litter = add_category(session, code="0103", name_en="Litter", standard=TEST_STANDARD)
    lamps = add_category(session, code="0118", kind="component", standard=TEST_STANDARD)
    department = add_department(session, code="RC-01")
    b = Builder(session)
    o = ORIGIN
    # The earlier cases, 200 m apart along a line east of the origin.
    p1, p2, p3, p4, p5 = (moved(o, east_m=200.0 * k) for k in range(5))
    p6, p7, p8 = (moved(o, north_m=-200.0 * k) for k in (1, 2, 3))
    b.case("P1", garbage, p1, T0 - 3 * DAY, "closed", closed=T0)
    b.case("P2", garbage, p2, T0 - 3 * DAY, "closed", closed=T0)
    b.case("P3", garbage, p3, T0 - 3 * DAY, "accepted")  # open: nothing to recur yet
    b.case("P4", garbage, p4, T0 - 3 * DAY, "cancelled")  # cancelled: no fix
    lamp1 = lamp(session, lamps, "11010101180000901", p5)
    lamp2 = lamp(session, lamps, "11010101180000902", moved(p5, north_m=300.0))
    b.case("P5", lamps, p5, T0 - 3 * DAY, "closed", closed=T0, component=lamp1)
    b.case("P6", garbage, p6, T0 - 3 * DAY, "closed", closed=T0)
    b.case("P6b", garbage, moved(p6, east_m=20.0), T0 - 3 * DAY, "closed", closed=T0)
    b.case("P7", garbage, p7, T0 - 3 * DAY, "closed", closed=T0)
    b.case("P7b", garbage, p7, T0 - DAY, "closed", closed=T0 + 2 * DAY)
    b.case("C1", litter, p8, T0 - 3 * DAY, "closed", closed=T0)
    # The new cases.
    b.case("N1", garbage, moved(p1, north_m=30.0), T0 + 10 * DAY)
    b.case("N_period_edge", garbage, moved(p1, north_m=-10.0), T0 + 89 * DAY)
    b.case("N_period_miss", garbage, moved(p1, east_m=-10.0), T0 + 90 * DAY + timedelta(hours=1))
    b.case("N_before_closure", garbage, moved(p1, east_m=5.0), T0 - DAY)
    b.case("N_other_category", litter, p1, T0 + 5 * DAY)
    b.case("N_distance_edge", garbage, moved(p2, north_m=-49.0), T0 + 10 * DAY)
    b.case("N_distance_miss", garbage, moved(p2, north_m=51.0), T0 + 10 * DAY)
    b.case("N_open_previous", garbage, p3, T0 + 5 * DAY)
    b.case("N_cancelled_previous", garbage, p4, T0 + 5 * DAY)
    b.case("N_component", lamps, moved(p5, north_m=300.0), T0 + 20 * DAY, component=lamp1)
    b.case("N_other_component", lamps, moved(p5, north_m=300.0), T0 + 20 * DAY, component=lamp2)
    b.case("N_lamp_near", lamps, moved(p5, east_m=20.0), T0 + 20 * DAY)
    b.case("N_nearer", garbage, moved(p6, east_m=5.0), T0 + 10 * DAY)
    b.case("N_later_closed", garbage, moved(p7, east_m=3.0), T0 + 10 * DAY)
    b.case("N_not_filed", garbage, moved(p2, east_m=10.0), T0 + 5 * DAY, "not_filed")
    b.case(
        "N_merged", garbage, moved(p2, east_m=-10.0), T0 + 5 * DAY, merged_into="N_distance_edge"
    )
    # A chain: C2 repeats C1 and is closed; C3 repeats C2 (closed later than C1, as near).
    b.case("C2", litter, p8, T0 + 5 * DAY, "closed", closed=T0 + 6 * DAY)
    b.case("C3", litter, moved(p8, east_m=1.0), T0 + 10 * DAY)
    expected = {
        "N1": "P1",
        "N_period_edge": "P1",
        "N_distance_edge": "P2",
        "N_component": "P5",
        "N_lamp_near": "P5",
        "N_nearer": "P6",
        "N_later_closed": "P7b",
        "C2": "C1",
        "C3": "C2",
    }
    return Fixture(b.cases, expected, garbage, department)


def found_links(session: Session, fixture: Fixture) -> set[tuple[str, str]]:
    label_of = {case.id: label for label, case in fixture.cases.items()}
    rows = session.execute(select(CaseRecurrence.case_id, CaseRecurrence.previous_case_id))
    return {(label_of[new], label_of[old]) for new, old in rows}


def precision_recall(
    found: set[tuple[str, str]], expected: set[tuple[str, str]]
) -> tuple[float, float]:
    hits = len(found & expected)
    return hits / max(len(found), 1), hits / len(expected)


def test_the_batch_command_links_exactly_the_labelled_recurrences(
    session: Session, fixture: Fixture, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("recurrence", "link")
    assert result.exit_code == 0, result.output
    assert "9 recurrences linked (50 m, 90 days)" in result.output
    found = found_links(session, fixture)
    assert precision_recall(found, set(fixture.expected.items())) == (1.0, 1.0), found
    # Idempotent: a second run adds nothing and changes nothing.
    again = run_cli("recurrence", "link")
    assert "0 recurrences linked" in again.output
    assert found_links(session, fixture) == found
    # The link keeps the distance and the definition it was made with.
    n1 = session.get(CaseRecurrence, fixture.cases["N1"].id)
    assert n1 is not None
    assert (round(n1.distance_m), n1.same_component, n1.distance_limit_m, n1.period_days) == (
        30,
        False,
        50.0,
        90,
    )
    component = session.get(CaseRecurrence, fixture.cases["N_component"].id)
    assert component is not None and component.same_component and component.distance_m > 290


def test_a_wider_definition_relinks_the_period(
    session: Session, fixture: Fixture, run_cli: Callable[..., Result]
) -> None:
    run_cli("recurrence", "link")
    result = run_cli("recurrence", "link", "--distance-m", "60", "--period-days", "100", "--relink")
    assert result.exit_code == 0, result.output
    assert "11 recurrences linked, 9 removed first (60 m, 100 days)" in result.output
    found = dict(found_links(session, fixture))
    assert (found["N_distance_miss"], found["N_period_miss"]) == ("P2", "P1")


def test_the_link_at_intake_finds_the_same_one_case_at_a_time(
    session: Session, fixture: Fixture
) -> None:
    writer = db.SessionWriter(session)
    new_labels = [label for label in fixture.cases if not label.startswith("P")]
    for label in new_labels:
        asyncio.run(service.link_at_intake(writer, fixture.cases[label].id))
    found = found_links(session, fixture)
    assert precision_recall(found, set(fixture.expected.items())) == (1.0, 1.0), found
    linked_by = session.scalars(select(CaseRecurrence.linked_by).distinct()).all()
    assert linked_by == ["intake"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--until", "2020-01-01", "--until must be later than --since"),
        ("--distance-m", "0", "distance_m must be more than 0"),
        ("--period-days", "1000", "period_days must be from 1 to 730"),
    ],
)
def test_the_command_refuses_a_bad_definition_in_one_line(
    run_cli: Callable[..., Result], option: str, value: str, message: str
) -> None:
    result = run_cli("recurrence", "link", "--since", "2021-01-01", option, value)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_a_report_filed_near_a_closed_case_is_linked_and_both_pages_say_so(
    session: Session, client: TestClient, tmp_path: Path
) -> None:
    seed_block(session)
    category = add_category(session, standard=TEST_STANDARD)
    configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]
    citizen = headers_for(add_user(session, Role.CITIZEN))
    b = Builder(session)
    now = datetime.now(UTC)
    old = b.case("OLD", category, ORIGIN, now - 20 * DAY, "closed", closed=now - 10 * DAY)
    filed = client.post(
        "/api/reports", json=report_body(category, moved(ORIGIN, east_m=12.0)), headers=citizen
    )
    assert filed.status_code == 201, filed.text
    new_id = filed.json()["case_id"]
    link = session.get(CaseRecurrence, new_id)
    assert link is not None and (link.previous_case_id, link.linked_by) == (old.id, "intake")

    dispatcher = headers_for(add_user(session, Role.DISPATCHER))
    new_page = client.get(f"/cases/{new_id}", headers={**dispatcher, "Accept-Language": "zh-CN"})
    assert (
        "复发自案卷" in new_page.text
        and f'href="/cases/{old.id}">{old.number}</a>' in new_page.text
    )
    assert "相距 12 米" in new_page.text
    old_page = client.get(f"/cases/{old.id}", headers={**dispatcher, "Accept-Language": "en"})
    assert "Came back as case" in old_page.text and f'href="/cases/{new_id}"' in old_page.text
    # The citizen who reported it sees the own case, without the line about someone else's.
    own_page = client.get(f"/cases/{new_id}", headers=citizen)
    assert own_page.status_code == 200 and "case-recurrence" not in own_page.text


def test_the_ranked_list_as_json_csv_and_page(
    session: Session, fixture: Fixture, client: TestClient, run_cli: Callable[..., Result]
) -> None:
    run_cli("recurrence", "link")
    manager = headers_for(add_user(session, Role.MANAGER))
    period = {"from": "2026-08-01", "to": "2027-01-01"}
    places = client.get("/api/recurrences", params=period, headers=manager)
    assert places.status_code == 200, places.text
    rows = places.json()["rows"]
    # Every previous case is in the block's first cell: garbage 6 (P1 ×2, P2, P6, P7b),
    # then lamps 2 (P5 ×2), then litter 2 (C1, C2).
    assert [(r["rank"], r["category_code"], r["recurrences"]) for r in rows] == [
        (1, "0102", 5),
        (2, "0103", 2),
        (3, "0118", 2),
    ]
    assert rows[0]["closed_cases_recurred"] == 4

    components = client.get(
        "/api/recurrences", params={**period, "by": "component"}, headers=manager
    ).json()["rows"]
    assert [(r["key"], r["recurrences"]) for r in components] == [("11010101180000901", 2)]

    exported = client.get("/api/recurrences", params={**period, "format": "csv"}, headers=manager)
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["rank", "key", "name", "category_code"]
    assert [row[6] for row in table[1:]] == ["5", "2", "2"]
    assert "phone" not in exported.text and "reported_by" not in exported.text

    page = client.get(
        "/recurrences", params=period, headers={**manager, "Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200
    assert "结案后复发" in page.text and 'id="recurrence-table"' in page.text
    assert page.text.count("<tr>") == 4  # the header and three places
    empty = client.get(
        "/recurrences",
        params={"from": "2020-01-01", "to": "2020-02-01"},
        headers={**manager, "Accept-Language": "en"},
    )
    assert "No recurrence in this period." in empty.text


def test_the_ranked_list_refuses_bad_periods_and_other_roles(
    session: Session, client: TestClient
) -> None:
    manager = headers_for(add_user(session, Role.MANAGER))
    backwards = client.get(
        "/api/recurrences", params={"from": "2026-09-01", "to": "2026-08-01"}, headers=manager
    )
    assert backwards.status_code == 422
    assert backwards.json()["field"] == "to"
    too_early = client.get("/api/recurrences", params={"to": "0001-01-02"}, headers=manager)
    assert (too_early.status_code, refused_field(too_early)) == (422, "to")
    bad_by = client.get("/api/recurrences", params={"by": "street"}, headers=manager)
    assert bad_by.status_code == 422 and "by" in bad_by.text
    citizen = headers_for(add_user(session, Role.CITIZEN))
    assert client.get("/api/recurrences", headers=citizen).status_code == 403


def test_the_evaluation_counts_the_recurrence_rate_per_department(
    session: Session, fixture: Fixture, client: TestClient, run_cli: Callable[..., Result]
) -> None:
    run_cli("recurrence", "link")
    # The department closed P1 (came back), P2 (came back), P6b (did not) in September; P3 is
    # still its to handle; P7 was closed by it, but in November (another period).
    for label, due in (("P1", T0), ("P2", T0), ("P6b", T0), ("P3", T0), ("P7", T0 + 70 * DAY)):
        closed = fixture.cases[label].closed_at
        session.add(
            CaseAssignment(
                case_id=fixture.cases[label].id,
                department_id=fixture.department.id,
                dispatched_at=T0 - 2 * DAY,
                due_at=due,
                handled_at=closed,
                ended_at=closed,
                end_reason="closed" if closed else None,
            )
        )
    session.flush()
    manager = headers_for(add_user(session, Role.MANAGER))
    period = {"by": "department", "from": "2026-08-15", "to": "2026-09-15"}
    body = client.get("/api/evaluation", params=period, headers=manager).json()
    row = next(r for r in body["rows"] if r["key"] == "RC-01")
    assert (row["closed_cases"], row["recurred"], row["recurrence_rate"]) == (3, 2, 0.6667)
    assert "recurrence_rate" in body["fields"]
    exported = client.get(
        "/api/evaluation", params={**period, "format": "csv"}, headers=manager
    ).content.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(exported)))
    assert next(r for r in table if r["key"] == "RC-01")["recurrence_rate"] == "0.6667"
    page = client.get(
        "/dashboard",
        params={"by": "department", "from": "2026-08-15", "to": "2026-09-14"},
        headers={**manager, "Accept-Language": "zh-CN"},
    ).text
    assert "复发率" in page
    evaluation_table = page.split('id="evaluation-table"', 1)[1]
    department_row = evaluation_table.split("RC-01", 1)[1].split("</tr>", 1)[0]
    assert "66.7%" in department_row
