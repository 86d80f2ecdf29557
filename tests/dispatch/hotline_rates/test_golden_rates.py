"""The golden table: 23 hotline tickets with hand-computed rates; GET /api/hotline/rates must
answer them exactly — the three rates, the score and the ranking, per unit, street and district.

November 2026 in Beijing time, [2026-11-01 00:00+08, 2026-12-01 00:00+08). Weights 10 / 45 / 45,
"partly" and "fair" count ½. Units A, B, C; street S1 (东华门街道, cell 多福巷一号网格) and S2
(第二街道), both in 东城区. Contact: "in" = first contact before its limit, "late" = after it,
"—" = none yet and the limit passed, "not due" = none yet and the limit still ahead. Callback:
the latest reached answer ("x" = three tries, never reached: unreachable; "1 try" = one try,
not reached, still trying). Counted: not a consultation, praise, cancelled ticket or approved
unreasonable request.

 #  unit street type          contact  callback               note
 1  A    S1     complaint     in       solved · satisfied     received 2026-11-01 00:30+08
 2  A    S1     help          in       solved · satisfied
 3  A    S1     complaint     in       partly · fair
 4  A    S1     report        late     solved · satisfied
 5  A    S1     suggestion    in       not solved · unsat.
 6  A    S2     help          in       x (unreachable)
 7  A    S2     complaint     in       (none yet)
 8  A    S1     complaint     in       solved · unsat.        unreasonable, approved: excluded
 9  B    S2     complaint     in       solved · fair
10  B    S2     help          late     partly · satisfied
11  B    S2     complaint     —        not solved · unsat.
12  B    S1     report        in       solved · satisfied
13  B    S2     help          not due  (none yet)
14  B    S2     consultation  —        —                      not counted
15  B    S1     complaint     in       —                      cancelled: not counted
16  C    S1     complaint     in       solved · satisfied
17  C    S1     help          in       solved · satisfied
18  C    S2     complaint     in       solved · satisfied
19  C    S2     help          late     partly · unsat.
20  C    S1     praise        —        —                      not counted
21  C    S1     complaint     in       solved · satisfied     received 2026-10-31 23:30+08: October
22  A    S1     complaint     in       not solved · unsat., then after rework solved · satisfied
23  C    S2     help          in       1 try

By unit (response = in / due; resolution = (solved + ½ partly) / reached; satisfaction =
(satisfied + ½ fair) / reached; score = 10 R + 45 S + 45 Sat, in points):
  A: due 8 (1-7, 22), in 7 → 87.50; reached 6 (1-5, 22): solved 4, partly 1 → 4.5/6 = 75.00;
     satisfied 4, fair 1 → 75.00; score 8.75 + 33.75 + 33.75 = 76.25; unreachable 1; excluded 1
  B: due 4 (9-12; 13 not due), in 2 → 50.00; reached 4: solved 2, partly 1 → 2.5/4 = 62.50;
     satisfied 2, fair 1 → 62.50; score 5 + 28.125 + 28.125 = 61.25
  C: due 5 (16-19, 23), in 4 → 80.00; reached 4: solved 3, partly 1 → 87.50; satisfied 3 → 75.00;
     score 8 + 39.375 + 33.75 = 81.125 → 81.13
  Ranking: C 1, A 2, B 3.
By street:
  S1 (1-5, 12, 16, 17, 22): due 9, in 8 → 88.89; reached 9: solved 7, partly 1 → 7.5/9 = 83.33;
     satisfied 7, fair 1 → 83.33; score 100 × (0.8 + 6.75)/9 = 83.888… → 83.89
  S2 (6, 7, 9, 10, 11, 13, 18, 19, 23): due 8, in 5 → 62.50; reached 5 (9, 10, 11, 18, 19):
     solved 2, partly 2 → 3/5 = 60.00; satisfied 2, fair 1 → 2.5/5 = 50.00;
     score 6.25 + 27 + 22.5 = 55.75; unreachable 1
  Ranking: S1 1, S2 2.
District 东城区 (S1 + S2): due 17, in 13 → 76.47; reached 14: solved 9, partly 3 → 10.5/14 =
  75.00; satisfied 9, fair 2 → 10/14 = 71.43; score 100 × (13/170 + 0.3375 + 4.5/14) = 73.54.
Unit C's trend over June–November: October 100.00 (ticket 21 alone), November 81.13, the other
months no score.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from dispatch.callbacks.models import HotlineCallback
from tests.events.seed import add_department
from tests.grid.places import (
    CELL_NW,
    DISTRICT,
    Place,
    add_cell,
    add_region,
    rectangle_wkt,
    seed_block,
)

BEIJING = ZoneInfo("Asia/Shanghai")
STREET_2 = Place("110101002", "第二街道")
COMMUNITY_2 = Place("110101002001", "第二社区")
CELL_2 = Place("110101002001001", "第二社区一号网格")
EAST_WKT = rectangle_wkt(116.401, 39.899, 116.402, 39.900)
NOT_DUE_AT = datetime(2030, 1, 1, tzinfo=BEIJING)

# number, unit, street, type, contact, callbacks (each (solved, satisfaction) or None for a try
# that did not reach the caller), flags
TICKETS: list[tuple[int, str, str, str, str, list[Any], str]] = [
    (1, "A", "S1", "complaint", "in", [("solved", "satisfied")], "first-hour"),
    (2, "A", "S1", "help", "in", [("solved", "satisfied")], ""),
    (3, "A", "S1", "complaint", "in", [("partly", "fair")], ""),
    (4, "A", "S1", "report", "late", [("solved", "satisfied")], ""),
    (5, "A", "S1", "suggestion", "in", [("not_solved", "unsatisfied")], ""),
    (6, "A", "S2", "help", "in", [None, None, "gave_up"], ""),
    (7, "A", "S2", "complaint", "in", [], ""),
    (8, "A", "S1", "complaint", "in", [("solved", "unsatisfied")], "unreasonable"),
    (9, "B", "S2", "complaint", "in", [("solved", "fair")], ""),
    (10, "B", "S2", "help", "late", [("partly", "satisfied")], ""),
    (11, "B", "S2", "complaint", "none", [("not_solved", "unsatisfied")], ""),
    (12, "B", "S1", "report", "in", [("solved", "satisfied")], ""),
    (13, "B", "S2", "help", "not_due", [], ""),
    (14, "B", "S2", "consultation", "none", [], ""),
    (15, "B", "S1", "complaint", "in", [], "cancelled"),
    (16, "C", "S1", "complaint", "in", [("solved", "satisfied")], ""),
    (17, "C", "S1", "help", "in", [("solved", "satisfied")], ""),
    (18, "C", "S2", "complaint", "in", [("solved", "satisfied")], ""),
    (19, "C", "S2", "help", "late", [("partly", "unsatisfied")], ""),
    (20, "C", "S1", "praise", "none", [], ""),
    (21, "C", "S1", "complaint", "in", [("solved", "satisfied")], "october"),
    (22, "A", "S1", "complaint", "in", [("not_solved", "unsatisfied"), "rework",
                                        ("solved", "satisfied")], ""),
    (23, "C", "S2", "help", "in", [None], ""),
]  # fmt: skip

# The hand-computed answers (see the module's docstring).
UNIT_ROWS = {
    # code: (rank, response, resolution, satisfaction, score, counted, due, in time, reached)
    "GOLD-C": (1, 80.0, 87.5, 75.0, 81.13, 5, 5, 4, 4),
    "GOLD-A": (2, 87.5, 75.0, 75.0, 76.25, 8, 8, 7, 6),
    "GOLD-B": (3, 50.0, 62.5, 62.5, 61.25, 5, 4, 2, 4),
}
STREET_ROWS = {
    "110101001": (1, 88.89, 83.33, 83.33, 83.89, 9, 9, 8, 9),
    "110101002": (2, 62.5, 60.0, 50.0, 55.75, 9, 8, 5, 5),
}
DISTRICT_ROWS = {"110101": (1, 76.47, 75.0, 71.43, 73.54, 18, 17, 13, 14)}
FIGURES = ("rank", "response_rate", "resolution_rate", "satisfaction_rate", "score", "tickets",
           "response_due", "responded_in_time", "reached")  # fmt: skip


def received_at(number: int, flags: str) -> datetime:
    if flags == "first-hour":
        return datetime(2026, 11, 1, 0, 30, tzinfo=BEIJING)  # 2026-10-31 16:30 UTC: November
    if flags == "october":
        return datetime(2026, 10, 31, 23, 30, tzinfo=BEIJING)
    return datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING) + timedelta(hours=number)


def seed(session: Session) -> None:
    """The two streets, three units and 23 tickets with their callbacks."""
    seed_block(session)
    add_region(session, level="street", place=STREET_2, wkt=EAST_WKT, parent=DISTRICT)
    add_region(session, level="community", place=COMMUNITY_2, wkt=EAST_WKT, parent=STREET_2)
    add_cell(session, place=CELL_2, wkt=EAST_WKT, community=COMMUNITY_2)
    units = {name: add_department(session, code=f"GOLD-{name}").id for name in "ABC"}
    cells = {
        street: session.scalar(text("SELECT id FROM grid_cell WHERE code = :c"), {"c": place.code})
        for street, place in (("S1", CELL_NW), ("S2", CELL_2))
    }
    for number, unit, street, ticket_type, contact, callbacks, flags in TICKETS:
        ticket_id = insert_ticket(
            session, number, units[unit], cells[street], ticket_type, contact, flags
        )
        add_callbacks(session, ticket_id, received_at(number, flags), callbacks)
    session.flush()


def insert_ticket(
    session: Session,
    number: int,
    unit_id: int,
    cell_id: int,
    ticket_type: str,
    contact: str,
    flags: str,
) -> int:
    received = received_at(number, flags)
    due = NOT_DUE_AT if contact == "not_due" else received + timedelta(hours=24)
    contacted = {"in": received + timedelta(hours=2), "late": received + timedelta(hours=30)}
    status = {"cancelled": "cancelled"}.get(flags, "closed")
    if ticket_type in ("consultation", "praise"):
        status = "recorded"
    row = {
        "number": f"GOLD-{number:02d}",
        "received": received,
        "type": ticket_type,
        "cell": cell_id,
        "unit": unit_id,
        "status": status,
        "due": due,
        "contacted": contacted.get(contact),
        "unreasonable": flags == "unreasonable",
    }
    return int(
        session.scalar(
            text(
                "INSERT INTO hotline_ticket (ticket_number, received_at, ticket_type, "
                "urgency_class, content, location_status, cell_id, lead_department_id, status, "
                "first_contact_due_at, first_contacted_at, unreasonable) VALUES (:number, "
                ":received, :type, 'general', '路灯不亮', 'located', :cell, :unit, :status, :due, "
                ":contacted, :unreasonable) RETURNING id"
            ),
            row,
        )
    )


def add_callbacks(session: Session, ticket_id: int, received: datetime, tries: list[Any]) -> None:
    """The tries in order: an answer, None (not reached), "gave_up" (the last try, not
    reached), "rework" (the next tries are the next round)."""
    round_, attempt = 1, 0
    at = received + timedelta(days=3)
    for entry in tries:
        if entry == "rework":
            round_, attempt = round_ + 1, 0
            continue
        attempt += 1
        at += timedelta(hours=2)
        reached = isinstance(entry, tuple)
        session.add(
            HotlineCallback(
                ticket_id=ticket_id,
                round=round_,
                attempt=attempt,
                at=at,
                reached=reached,
                solved=entry[0] if reached else None,
                satisfaction=entry[1] if reached else None,
                gave_up=entry == "gave_up",
            )
        )


@pytest.fixture
def golden(session: Session) -> None:
    seed(session)


def rates(client: TestClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    response = client.get("/api/hotline/rates", params=query, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def figures(answer: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {row["key"]: tuple(row[name] for name in FIGURES) for row in answer["rows"]}


@pytest.mark.usefixtures("golden")
@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("unit", UNIT_ROWS),
        ("street", STREET_ROWS),
        ("community", None),
        ("district", DISTRICT_ROWS),
    ],
)
def test_rates_equal_the_golden_table(
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
    level: str,
    expected: dict[str, tuple[Any, ...]] | None,
) -> None:
    answer = rates(client, auth(Role.MANAGER), level=level, month="2026-11")
    if expected is None:  # one community per street: the streets' figures under their codes
        expected = {f"{code}001": row for code, row in STREET_ROWS.items()}
    assert figures(answer) == expected
    assert [row["key"] for row in answer["rows"]] == list(expected)  # ranked order


@pytest.mark.usefixtures("golden")
def test_exclusions_and_callback_counts_are_shown(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    answer = rates(client, auth(Role.MANAGER), level="unit", month="2026-11")
    unit_a = next(row for row in answer["rows"] if row["key"] == "GOLD-A")
    assert (unit_a["excluded_unreasonable"], unit_a["unreachable"]) == (1, 1)
    assert (unit_a["solved"], unit_a["partly"], unit_a["not_solved"]) == (4, 1, 1)
    assert (unit_a["satisfied"], unit_a["fair"], unit_a["unsatisfied"]) == (4, 1, 1)
    assert answer["totals"]["tickets"] == 18
    assert answer["totals_rates"]["score"] == 73.54
    assert answer["weights"]["response"] == 0.1


@pytest.mark.usefixtures("golden")
def test_trend_of_each_unit_over_the_last_months(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    answer = rates(client, auth(Role.MANAGER), level="unit", month="2026-11")
    unit_c = next(row for row in answer["rows"] if row["key"] == "GOLD-C")
    trend = {point["month"]: point["score"] for point in unit_c["trend"]}
    assert trend == {
        "2026-06-01": None,
        "2026-07-01": None,
        "2026-08-01": None,
        "2026-09-01": None,
        "2026-10-01": 100.0,
        "2026-11-01": 81.13,
    }


@pytest.mark.usefixtures("golden")
def test_any_period_in_place_of_a_month(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    whole = rates(
        client,
        auth(Role.MANAGER),
        level="unit",
        **{"from": "2026-10-01T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"},
    )
    unit_c = next(row for row in whole["rows"] if row["key"] == "GOLD-C")
    # Ticket 21 joins: due 6, in time 5; reached 5: solved 4, partly 1; satisfied 4 of 5.
    assert (unit_c["response_rate"], unit_c["resolution_rate"], unit_c["satisfaction_rate"]) == (
        83.33,
        90.0,
        80.0,
    )


@pytest.mark.usefixtures("golden")
def test_csv_in_the_readers_language(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    headers = {**auth(Role.MANAGER), "Accept-Language": "zh-CN"}
    response = client.get(
        "/api/hotline/rates", params={"level": "unit", "month": "2026-11", "format": "csv"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][1] == "2026-11-01 00:00 – 2026-12-01 00:00"
    assert rows[1][:3] == ["名次", "代码", "名称"]
    assert rows[2][:3] == ["1", "GOLD-C", "sanitation GOLD-C"]
    assert rows[2][rows[1].index("得分")] == "81.13"


@pytest.mark.usefixtures("golden")
def test_ranking_page_shows_the_ranking_and_trends(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    headers = {**auth(Role.MANAGER), "Accept-Language": "zh-CN"}
    response = client.get("/hotline/ranking?level=unit&month=2026-11", headers=headers)
    assert response.status_code == 200
    page = response.text
    assert page.index("GOLD-C") < page.index("GOLD-A") < page.index("GOLD-B")
    assert "81.13" in page and "100.00 · 81.13" in page
    assert "接诉即办排名" in page and "名次" in page
    english = client.get(
        "/hotline/ranking?level=unit&month=2026-11",
        headers={**auth(Role.MANAGER), "Accept-Language": "en"},
    )
    assert "Place in the ranking" in english.text and "名次" not in english.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"level": "city"}, "level"),
        ({"from": "2026-11-01T00:00:00+08:00"}, "to"),
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "to"),
    ],
)
def test_bad_queries_name_the_field(
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
    query: dict[str, str],
    field: str,
) -> None:
    response = client.get("/api/hotline/rates", params=query, headers=auth(Role.MANAGER))
    assert response.status_code == 422
    assert field in response.text


def test_inspectors_may_not_read_the_rates(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    response = client.get("/api/hotline/rates", headers=auth(Role.INSPECTOR))
    assert response.status_code == 403
