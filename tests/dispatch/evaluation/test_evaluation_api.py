"""GET /api/evaluation against a hand-computed fixture: 2 departments (and one idle), cells in 2
communities of 2 streets, 13 cases, 11 assignments, reports by 2 inspectors, verifications.

The period is September 2026 in Beijing time, [2026-09-01, 2026-10-01). The default calendar
works 08:30–12:00 and 13:30–17:30, Monday to Friday, with the official holidays: 2026-09-07 is a
Monday, Sunday 2026-09-20 a make-up workday (调休). The verification limit is the default 4
working hours; a verify row carries the working hours since the handling as the case actions
record them (details.verify_working_hours), written here by hand.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from events.lifecycle import CaseStatus
from events.models import Case, CaseAssignment, CaseTransition, Report
from grid.models import GridCell
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import (
    CELL_NW,
    COMMUNITY,
    DISTRICT,
    STREET,
    Place,
    add_cell,
    add_region,
    rectangle_wkt,
    seed_block,
)

BEIJING = ZoneInfo("Asia/Shanghai")
PERIOD = {"from": "2026-09-01T00:00:00+08:00", "to": "2026-10-01T00:00:00+08:00"}
STREET_2 = Place("110101002", "第二街道")
COMMUNITY_2 = Place("110101002001", "第二社区")
CELL_2 = Place("110101002001001", "第二社区一号网格")
EAST_WKT = rectangle_wkt(116.401, 39.899, 116.402, 39.900)


def at(day: int, clock: str, month: int = 9) -> datetime:
    """A Beijing time in 2026."""
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


class City:
    """The seeded fixture, with handles on what the assertions name."""

    def __init__(self, session: Session) -> None:
        self.session = session
        seed_block(session)
        add_region(session, level="street", place=STREET_2, wkt=EAST_WKT, parent=DISTRICT)
        add_region(session, level="community", place=COMMUNITY_2, wkt=EAST_WKT, parent=STREET_2)
        add_cell(session, place=CELL_2, wkt=EAST_WKT, community=COMMUNITY_2)
        session.flush()
        self.cell_2_id = session.query(GridCell.id).filter(GridCell.code == CELL_2.code).scalar()
        self.category = add_category(session)
        self.d1 = add_department(session, code="EVAL-D1")
        self.d2 = add_department(session, code="EVAL-D2", kind="landscaping")
        self.idle = add_department(session, code="EVAL-D3")
        self.i1 = add_user(session, Role.INSPECTOR, username="eval-inspector-1")
        self.i2 = add_user(session, Role.INSPECTOR, username="eval-inspector-2")

    def case(
        self,
        reporter: User,
        created_at: datetime,
        status: CaseStatus,
        *,
        east: bool = False,
        filed: bool = True,
        due_at: datetime | None = None,
        handled_at: datetime | None = None,
    ) -> Case:
        """A case in community 1 (or 2 when `east`), reported by `reporter` at `created_at`."""
        case = add_case(
            self.session, category=self.category, status=status, place=CELL_NW, reporter=reporter
        )
        case.created_at = created_at
        case.filed_at = created_at if filed else None
        case.due_at, case.handled_at = due_at, handled_at
        case.closed_at = handled_at if status is CaseStatus.CLOSED else None
        if east:
            case.cell_id = self.cell_2_id
        self.session.execute(
            update(Report).where(Report.case_id == case.id).values(created_at=created_at)
        )
        self.session.flush()
        return case

    def assign(self, case: Case, department: Department, **values: Any) -> None:
        dispatched_at = values.pop("dispatched_at", case.created_at)
        self.session.add(
            CaseAssignment(
                case_id=case.id, department_id=department.id, dispatched_at=dispatched_at, **values
            )
        )

    def transition(
        self,
        case: Case,
        action: str,
        moment: datetime,
        actor: User,
        details: dict[str, Any] | None = None,
    ) -> None:
        target = {"handle": "handled", "verify_pass": "closed", "verify_fail": "rework"}[action]
        self.session.add(
            CaseTransition(
                case_id=case.id,
                action=action,
                to_status=target,
                actor_id=actor.id,
                actor_role=actor.role,
                details=details or {},
                at=moment,
            )
        )

    def handled_and_verified(
        self,
        case: Case,
        handled: datetime,
        verified: datetime,
        inspector: User,
        *,
        passed: bool,
        working_hours: float,
    ) -> None:
        """A handling, then its verification naming it and the working hours between them, as
        the case actions record them."""
        self.transition(case, "handle", handled, inspector)  # the actor does not matter here
        action = "verify_pass" if passed else "verify_fail"
        details = {"handled_at": handled.isoformat(), "verify_working_hours": working_hours}
        self.transition(case, action, verified, inspector, details)


@pytest.fixture
def city(session: Session) -> City:
    c = City(session)
    s = CaseStatus
    i1, i2, d1, d2 = c.i1, c.i2, c.d1, c.d2
    # c1: D1 handled on time, closed on time; verified 1.5 working hours after handling.
    c1 = c.case(i1, at(7, "08:00"), s.CLOSED, due_at=at(7, "14:00"), handled_at=at(7, "11:00"))
    c.assign(c1, d1, due_at=at(7, "14:00"), handled_at=at(7, "11:00"), handling_hours=2.0)
    c.handled_and_verified(c1, at(7, "11:00"), at(7, "14:00"), i1, passed=True, working_hours=1.5)
    # c2: D1 handled late, closed late; verified exactly 4 working hours after handling.
    c2 = c.case(i1, at(8, "08:00"), s.CLOSED, due_at=at(8, "14:00"), handled_at=at(8, "16:00"))
    c.assign(c2, d1, due_at=at(8, "14:00"), handled_at=at(8, "16:00"), handling_hours=5.0)
    c.handled_and_verified(c2, at(8, "16:00"), at(9, "11:00"), i1, passed=True, working_hours=4.0)
    # c3 (community 2): returned by D1, then handled on time by D2; verified 4.5 h later: late.
    c3 = c.case(
        i2, at(9, "08:00"), s.CLOSED, east=True, due_at=at(9, "15:00"), handled_at=at(9, "11:00")
    )
    c.assign(
        c3,
        d1,
        due_at=at(9, "14:00"),
        returned_at=at(9, "09:30"),
        ended_at=at(9, "09:30"),
        end_reason="returned",
    )
    c.assign(
        c3,
        d2,
        dispatched_at=at(9, "10:00"),
        due_at=at(9, "15:00"),
        handled_at=at(9, "11:00"),
        handling_hours=1.0,
    )
    c.handled_and_verified(c3, at(9, "11:00"), at(9, "17:00"), i2, passed=True, working_hours=4.5)
    # c4: D1, verification failed (1 h, on time), reworked, handled again on time at 13:00,
    # verified 10 working hours after the second handling: late.
    c4 = c.case(i1, at(10, "08:00"), s.CLOSED, due_at=at(10, "14:00"), handled_at=at(10, "13:00"))
    c.assign(
        c4, d1, due_at=at(10, "14:00"), handled_at=at(10, "13:00"), handling_hours=3.0,
        rework_count=1,
    )  # fmt: skip
    c.handled_and_verified(c4, at(10, "10:00"), at(10, "11:00"), i2, passed=False, working_hours=1)
    c.handled_and_verified(c4, at(10, "13:00"), at(11, "16:00"), i2, passed=True, working_hours=10)
    # c5 (community 2): D1, postponed once, handled on time, not verified yet.
    c5 = c.case(
        i2,
        at(11, "08:00"),
        s.HANDLED,
        east=True,
        due_at=at(14, "17:00"),
        handled_at=at(14, "10:00"),
    )
    c.assign(
        c5, d1, due_at=at(14, "17:00"), handled_at=at(14, "10:00"), handling_hours=6.0,
        postponement_count=1,
    )  # fmt: skip
    # c6: D1, open and overdue.
    c6 = c.case(i1, at(15, "08:00"), s.ACCEPTED, due_at=at(15, "14:00"))
    c.assign(c6, d1, due_at=at(15, "14:00"))
    # c7: reported, due, handled and verified in October: outside the period everywhere.
    c7 = c.case(i1, at(8, "08:00", 10), s.CLOSED, due_at=at(10, "14:00", 10))
    c.assign(c7, d1, due_at=at(10, "14:00", 10), handled_at=at(10, "10:00", 10))
    c.handled_and_verified(
        c7, at(10, "10:00", 10), at(10, "11:00", 10), i1, passed=True, working_hours=1.0
    )
    # c9 (community 2): D2 handled late on Friday 17:00, verified Monday 10:00: 9.5 working
    # hours, as Sunday 20 September is a make-up workday (0.5 + 7.5 + 1.5): late.
    c9 = c.case(
        i2, at(18, "08:00"), s.CLOSED, east=True, due_at=at(18, "14:00"), handled_at=at(18, "17:00")
    )
    c.assign(c9, d2, due_at=at(18, "14:00"), handled_at=at(18, "17:00"), handling_hours=4.0)
    c.handled_and_verified(c9, at(18, "17:00"), at(21, "10:00"), i1, passed=True, working_hours=9.5)
    # c10: D1 was reassigned away before handling; the case waits in the queue.
    c10 = c.case(i2, at(22, "08:00"), s.FILED)
    c.assign(c10, d1, due_at=at(22, "14:00"), ended_at=at(22, "09:00"), end_reason="reassigned")
    # c11: not filed. c12 (community 2): filed, then cancelled. c13: a duplicate merged into c1.
    c.case(i1, at(23, "08:00"), s.NOT_FILED, filed=False)
    c.case(i2, at(24, "08:00"), s.CANCELLED, east=True)
    c13 = c.case(i1, at(7, "08:30"), s.REPORTED, filed=False)
    c13.merged_into_id = c1.id
    c.session.execute(update(Report).where(Report.case_id == c13.id).values(case_id=c1.id))
    c.session.flush()
    return c


def evaluation(
    client: TestClient, auth: Callable[[Role], dict[str, str]], by: str, **extra: str
) -> dict[str, Any]:
    response = client.get(
        "/api/evaluation", params={**PERIOD, "by": by, **extra}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def row_of(body: dict[str, Any], key: str) -> dict[str, Any]:
    (row,) = [row for row in body["rows"] if row["key"] == key]
    found: dict[str, Any] = row
    return found


def test_departments_match_the_hand_computed_figures(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = evaluation(client, auth, "department")
    assert row_of(body, "EVAL-D1") == {
        "id": city.d1.id,
        "key": "EVAL-D1",
        "name": "sanitation EVAL-D1",
        "dispatched": 7,  # c1 c2 c3 c4 c5 c6 c10 (c7 is due in October)
        "returned": 1,  # c3
        "due_to_handle": 5,  # c1 c2 c4 c5 c6 (c3 returned, c10 reassigned: not D1's to handle)
        "handled": 4,  # c1 c2 c4 c5
        "handled_on_time": 3,  # c1 c4 c5 (c5's deadline is after its postponement)
        "overdue": 2,  # c2 handled late, c6 still open past its deadline
        "reworked": 1,  # c4
        "postponements": 1,  # c5
        "closed_cases": 0,  # no assignment here ended with a closure (end_reason 'closed')
        "recurred": 0,
        "handling_rate": 0.8,  # 4 / 5
        "on_time_handling_rate": 0.6,  # 3 / 5
        "return_rate": 0.1429,  # 1 / 7
        "rework_rate": 0.25,  # 1 / 4
        "recurrence_rate": None,  # nothing closed: no basis (tests/events/recurrence/)
        "average_handling_hours": 4.0,  # (2 + 5 + 3 + 6) / 4
        "score": 69.57,  # 100 × (.5 × .6 + .2 × .8 + .2 × (1 - .25) + .1 × (1 - 1/7))
        "grade": "C",
    }
    d2 = row_of(body, "EVAL-D2")
    # c3 on time, c9 late: 100 × (.5 × .5 + .2 × 1 + .2 × 1 + .1 × 1) = 75, exactly B's floor.
    assert (d2["dispatched"], d2["due_to_handle"], d2["handled"], d2["handled_on_time"]) == (
        2,
        2,
        2,
        1,
    )
    assert (d2["overdue"], d2["return_rate"], d2["rework_rate"]) == (1, 0.0, 0.0)
    assert (d2["average_handling_hours"], d2["score"], d2["grade"]) == (2.5, 75.0, "B")
    idle = row_of(body, "EVAL-D3")  # nothing due: every rate undefined, no score
    assert (idle["due_to_handle"], idle["on_time_handling_rate"], idle["rework_rate"]) == (
        0,
        None,
        None,
    )
    assert (idle["average_handling_hours"], idle["score"], idle["grade"]) == (None, None, None)


def test_department_totals_are_recomputed_from_the_summed_counts(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    totals = evaluation(client, auth, "department")["totals"]
    assert totals["dispatched"] == 9  # 7 + 2
    assert totals["due_to_handle"] == 7  # 5 + 2
    assert totals["handled_on_time"] == 4  # 3 + 1
    assert totals["on_time_handling_rate"] == 0.5714  # 4 / 7
    assert totals["average_handling_hours"] == 3.5  # 21 h / 6
    assert totals["score"] == 71.27  # .5 × 4/7 + .2 × 6/7 + .2 × 5/6 + .1 × 8/9
    assert totals["grade"] == "C"


def test_communities_match_the_hand_computed_figures(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = evaluation(client, auth, "community")
    first = row_of(body, COMMUNITY.code)
    # c1 c2 c4 c6 c10 c11 (c7 reported in October, c13 merged into c1)
    assert first["reported"] == 6
    assert (first["filed"], first["due_to_close"], first["closed"]) == (5, 5, 3)  # c11 not filed
    assert first["closed_on_time"] == 2  # c1 c4 (c2 was handled late)
    assert (first["closure_rate"], first["on_time_closure_rate"]) == (0.6, 0.4)
    assert first["area_km2"] == pytest.approx(0.0379, rel=0.01)  # 4 cells of ~95 m × 111 m
    assert first["cases_per_km2"] == pytest.approx(6 / 0.0379, rel=0.01)
    assert (first["score"], first["grade"]) == (48.0, "D")  # .6 × .4 + .4 × .6
    second = row_of(body, COMMUNITY_2.code)
    assert (second["reported"], second["filed"]) == (4, 4)  # c3 c5 c9 c12
    assert (second["due_to_close"], second["closed"]) == (3, 2)  # c12 cancelled; c3 c9 closed
    assert second["closed_on_time"] == 1  # c3
    assert (second["closure_rate"], second["on_time_closure_rate"]) == (0.6667, 0.3333)
    assert (second["score"], second["grade"]) == (46.67, "D")  # .6 × 1/3 + .4 × 2/3


def test_streets_and_districts_roll_the_communities_up(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    streets = evaluation(client, auth, "street")
    assert row_of(streets, STREET.code)["reported"] == 6
    assert row_of(streets, STREET_2.code)["closed"] == 2
    district = row_of(evaluation(client, auth, "district"), DISTRICT.code)
    assert (district["reported"], district["due_to_close"], district["closed"]) == (10, 8, 5)
    assert district["closed_on_time"] == 3
    assert (district["closure_rate"], district["on_time_closure_rate"]) == (0.625, 0.375)
    assert (district["score"], district["grade"]) == (47.5, "D")  # .6 × .375 + .4 × .625


def test_inspectors_match_the_hand_computed_figures(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = evaluation(client, auth, "inspector")
    first = row_of(body, "eval-inspector-1")
    # c1 c2 c4 c6 c11 c13 in September; valid: c1 c2 c4 c6 (c11 not filed, c13 a duplicate)
    assert (first["reports"], first["valid_reports"], first["valid_report_rate"]) == (
        6,
        4,
        0.6667,
    )
    # c1 c2 c9 verified; on time: c1 (1.5 working hours) and c2 (exactly 4), not c9 (9.5 over
    # a weekend whose Sunday was a make-up workday)
    assert (first["verifications"], first["verifications_on_time"]) == (3, 2)
    assert (first["score"], first["grade"]) == (66.67, "C")  # .5 × 4/6 + .5 × 2/3
    second = row_of(body, "eval-inspector-2")
    assert (second["reports"], second["valid_reports"]) == (5, 5)  # c3 c5 c9 c10 c12
    # c4 failed after 1 h (on time), c4 passed 10 h after the second handling, c3 after 4.5 h
    assert (second["verifications"], second["verifications_on_time"]) == (3, 1)  # c4's fail
    assert (second["score"], second["grade"]) == (66.67, "C")  # .5 × 1 + .5 × 1/3
    totals = body["totals"]
    assert (totals["reports"], totals["valid_reports"], totals["verifications"]) == (11, 9, 6)
    assert totals["verifications_on_time"] == 3  # c1 c2 (inspector 1) + c4's fail (inspector 2)
    assert (totals["score"], totals["grade"]) == (65.91, "C")  # .5 × 9/11 + .5 × 3/6


def test_a_verification_without_its_working_hours_counts_but_never_on_time(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    # c14: handled at 10:00 and verified at 11:00 on Tuesday 22 September, but its verify row
    # (as written before verifications recorded their working hours) names the handling only:
    # the query reads details.verify_working_hours, it does no time arithmetic of its own.
    c14 = city.case(city.i2, at(22, "08:00"), CaseStatus.CLOSED, handled_at=at(22, "10:00"))
    city.transition(c14, "handle", at(22, "10:00"), city.i1)
    handling = {"handled_at": at(22, "10:00").isoformat()}
    city.transition(c14, "verify_pass", at(22, "11:00"), city.i1, handling)
    city.session.flush()
    first = row_of(evaluation(client, auth, "inspector"), "eval-inspector-1")
    assert (first["verifications"], first["verifications_on_time"]) == (4, 2)  # c1 c2 c9 + c14
    assert first["on_time_verification_rate"] == 0.5  # c1 c2 of 4


def test_a_verification_through_the_case_action_is_counted_on_time(
    session: Session, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    inspector = add_user(session, Role.INSPECTOR, username="eval-inspector-live")
    case = add_case(session, category=add_category(session), status=CaseStatus.HANDLED)
    now = datetime.now(UTC)
    case.handled_at = now - timedelta(minutes=1)  # at most a minute of working time ago
    session.flush()
    headers = {"Authorization": f"Bearer {token_for(Role.INSPECTOR, user_id=inspector.id)}"}
    verified = client.post(f"/api/cases/{case.id}/actions/verify_pass", json={}, headers=headers)
    assert verified.status_code == 200, verified.text
    period = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    live = row_of(evaluation(client, auth, "inspector", **period), "eval-inspector-live")
    assert (live["verifications"], live["verifications_on_time"]) == (1, 1)
    assert live["on_time_verification_rate"] == 1.0


def test_csv_has_a_bom_a_header_the_groups_and_the_totals(
    city: City, client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    response = client.get(
        "/api/evaluation",
        params={**PERIOD, "by": "department", "format": "csv"},
        headers=auth(Role.DISPATCHER),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_key = {row["key"]: row for row in rows}
    assert by_key["EVAL-D1"]["name"] == "sanitation EVAL-D1"
    assert by_key["EVAL-D1"]["on_time_handling_rate"] == "0.6"
    assert by_key["EVAL-D1"]["grade"] == "C"
    assert by_key["EVAL-D3"]["score"] == ""  # undefined: an empty cell, not 0
    assert rows[-1]["key"] == "TOTAL"
    assert (rows[-1]["name"], rows[-1]["dispatched"], rows[-1]["score"]) == ("合计", "9", "71.27")


def test_a_department_member_reads_only_its_own_row(city: City, client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {token_for(Role.DEPARTMENT, department_id=city.d2.id)}"}
    response = client.get("/api/evaluation", params=PERIOD, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row["key"] for row in body["rows"]] == ["EVAL-D2"]
    assert body["totals"]["score"] == 75.0
    by_street = client.get("/api/evaluation", params={**PERIOD, "by": "street"}, headers=headers)
    assert by_street.status_code == 403
    assert "only by=department" in by_street.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-09-02", "to": "2026-09-01"}, "to", "later than 'from'"),
        ({"from": "2026-09-01", "to": "2026-09-01"}, "to", "later than 'from'"),
        ({"from": "2025-01-01", "to": "2026-01-03"}, "to", "at most 366 days"),
    ],
)
def test_a_bad_period_is_422_naming_the_field(
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
    params: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = client.get("/api/evaluation", params=params, headers=auth(Role.ADMIN))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert message in response.json()["detail"]


def test_a_leap_year_fits_in_the_longest_period(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    params = {"from": "2028-01-01", "to": "2029-01-01", "by": "inspector"}
    response = client.get("/api/evaluation", params=params, headers=auth(Role.ADMIN))
    assert response.status_code == 200, response.text
    assert response.json()["period_from"] == "2028-01-01T00:00:00+08:00"  # naive: Beijing time


def test_an_unknown_grouping_is_422(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    params = {**PERIOD, "by": "planet"}
    response = client.get("/api/evaluation", params=params, headers=auth(Role.MANAGER))
    assert response.status_code == 422
