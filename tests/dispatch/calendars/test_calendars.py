"""Work calendars over HTTP, and the calendar a department's deadlines are counted on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.errors import NotFound
from citygrid.settings import get_settings
from dispatch.calendars import service as calendars
from dispatch.deadlines import DEFAULT_PERIODS, add_working_hours
from dispatch.models import CalendarDay
from tests.citygrid.refusals import refusal_text, refused_field
from tests.conftest import token_for
from tests.events.seed import add_department, add_user

Headers = Callable[[Role], dict[str, str]]
SEVEN_DAYS = {
    "code": "sanitation-7",
    "name": "Sanitation, seven days",
    "periods": [["06:00", "11:00"], ["14:00", "19:00"]],
    "weekdays": [1, 2, 3, 4, 5, 6, 7],
    "official_holidays": False,
}


@pytest.fixture
def admin_headers(session: Session) -> dict[str, str]:
    admin = add_user(session, Role.ADMIN)
    return {"Authorization": f"Bearer {token_for(Role.ADMIN, user_id=admin.id)}"}


def test_the_migrated_default_calendar_is_listed(client: TestClient, auth: Headers) -> None:
    response = client.get("/api/calendars", headers=auth(Role.INSPECTOR))
    assert response.status_code == 200
    default = next(
        item for item in response.json() if item["code"] == get_settings().default_calendar_code
    )
    assert default["periods"] == [["08:30", "12:00"], ["13:30", "17:30"]]
    assert default["weekdays"] == [1, 2, 3, 4, 5]
    assert default["official_holidays"] is True
    assert default["time_zone"] == "Asia/Shanghai"


def test_an_admin_creates_a_calendar(client: TestClient, auth: Headers) -> None:
    response = client.post("/api/calendars", json=SEVEN_DAYS, headers=auth(Role.ADMIN))
    assert response.status_code == 201, response.text
    assert response.json()["weekdays"] == [1, 2, 3, 4, 5, 6, 7]
    again = client.post("/api/calendars", json=SEVEN_DAYS, headers=auth(Role.ADMIN))
    assert again.status_code == 409
    assert again.json()["field"] == "code"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"periods": [["13:00", "17:00"], ["08:00", "12:00"]]}, "periods", "sorted and disjoint"),
        ({"periods": [["09:00", "08:00"]]}, "periods", "start before it ends"),
        ({"periods": [["9 am", "12:00"]]}, "periods", "HH:MM"),
        ({"periods": [["08:00", "12:00", "13:00"]]}, "periods", "at most 2 items"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(
    client: TestClient, auth: Headers, change: dict[str, object], field: str, message: str
) -> None:
    response = client.post("/api/calendars", json=SEVEN_DAYS | change, headers=auth(Role.ADMIN))
    assert response.status_code == 422
    assert refused_field(response) == field
    assert message in refusal_text(response)


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"weekdays": [0, 1]}, ["body", "weekdays", 0]),
        ({"weekdays": []}, ["body", "weekdays"]),
        ({"colour": "green"}, ["body", "colour"]),  # unknown fields are refused
    ],
)
def test_a_malformed_calendar_is_refused_by_the_schema(
    client: TestClient, auth: Headers, change: dict[str, object], location: list[object]
) -> None:
    response = client.post("/api/calendars", json=SEVEN_DAYS | change, headers=auth(Role.ADMIN))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location


def test_a_year_shows_official_days_and_overrides(
    client: TestClient, admin_headers: dict[str, str], auth: Headers
) -> None:
    put = client.put(
        "/api/calendars/default/days/2026-10-01",
        json={"is_workday": True, "name": "flood duty"},
        headers=admin_headers,
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "day": "2026-10-01",
        "is_workday": True,
        "name": "flood duty",
        "source": "override",
    }
    response = client.get("/api/calendars/default?year=2026", headers=auth(Role.DISPATCHER))
    assert response.status_code == 200
    body = response.json()
    assert (body["year"], body["announced"]) == (2026, True)
    days = {day["day"]: day for day in body["days"]}
    assert days["2026-10-01"] == put.json()  # the override replaces the library's entry
    assert days["2026-10-02"] == {
        "day": "2026-10-02",
        "is_workday": False,
        "name": "National Day",
        "source": "official",
    }
    assert days["2026-10-10"]["is_workday"] is True  # the make-up Saturday
    assert "2026-10-12" not in days


def test_an_unannounced_year_shows_only_overrides(
    client: TestClient, admin_headers: dict[str, str], auth: Headers
) -> None:
    client.put(
        "/api/calendars/default/days/2027-01-01",
        json={"is_workday": False, "name": "New Year"},
        headers=admin_headers,
    )
    body = client.get("/api/calendars/default?year=2027", headers=auth(Role.MANAGER)).json()
    assert body["announced"] is False
    assert body["days"] == [
        {"day": "2027-01-01", "is_workday": False, "name": "New Year", "source": "override"}
    ]


def test_a_calendar_without_official_holidays_lists_none(client: TestClient, auth: Headers) -> None:
    client.post("/api/calendars", json=SEVEN_DAYS, headers=auth(Role.ADMIN))
    body = client.get("/api/calendars/sanitation-7?year=2026", headers=auth(Role.ADMIN)).json()
    assert (body["announced"], body["days"]) == (True, [])


def test_an_override_records_its_author_and_can_be_replaced_and_removed(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    url = "/api/calendars/default/days/2026-11-28"
    client.put(url, json={"is_workday": True, "name": "extra"}, headers=admin_headers)
    replaced = client.put(url, json={"is_workday": False}, headers=admin_headers)
    assert replaced.json() == {
        "day": "2026-11-28",
        "is_workday": False,
        "name": None,
        "source": "override",
    }
    rows = session.scalars(select(CalendarDay).where(CalendarDay.day == date(2026, 11, 28))).all()
    assert len(rows) == 1 and rows[0].created_by is not None
    assert client.delete(url, headers=admin_headers).status_code == 204
    gone = client.delete(url, headers=admin_headers)
    assert gone.status_code == 404
    assert "no override on 2026-11-28" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/calendars/nowhere", 404),
        ("/api/calendars/nowhere/deadline?start=2026-11-23T09:00:00%2B08:00&hours=1", 404),
        ("/api/calendars/default?year=1800", 422),
        ("/api/calendars/default/deadline?start=2026-11-23T09:00:00%2B08:00&hours=-1", 422),
    ],
)
def test_unknown_calendars_and_bad_queries(
    client: TestClient, auth: Headers, url: str, status: int
) -> None:
    assert client.get(url, headers=auth(Role.DISPATCHER)).status_code == status


@pytest.mark.parametrize(
    ("start", "hours", "due_at", "provisional"),
    [
        ("2026-11-23T13:30:00+08:00", 4, "2026-11-23T09:30:00Z", False),
        ("2026-09-30T08:00:00Z", 4, "2026-10-08T03:00:00Z", False),  # 16:00 local, over the holiday
        ("2026-12-31T16:00:00+08:00", 4, "2027-01-01T03:00:00Z", True),
    ],
)
def test_the_deadline_preview(
    client: TestClient, auth: Headers, start: str, hours: float, due_at: str, provisional: bool
) -> None:
    response = client.get(
        "/api/calendars/default/deadline",
        params={"start": start, "hours": hours},
        headers=auth(Role.DISPATCHER),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert datetime.fromisoformat(body["due_at"]) == datetime.fromisoformat(due_at)
    assert body["provisional"] is provisional


def test_the_deadline_preview_wants_a_time_zone(client: TestClient, auth: Headers) -> None:
    response = client.get(
        "/api/calendars/default/deadline",
        params={"start": "2026-11-23T13:30:00", "hours": 1},
        headers=auth(Role.DISPATCHER),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "start"


def test_the_preview_counts_overrides(
    client: TestClient, admin_headers: dict[str, str], auth: Headers
) -> None:
    client.put(
        "/api/calendars/default/days/2026-11-24",
        json={"is_workday": False, "name": "power cut"},
        headers=admin_headers,
    )
    body = client.get(
        "/api/calendars/default/deadline",
        params={"start": "2026-11-23T17:00:00+08:00", "hours": 1},
        headers=auth(Role.DISPATCHER),
    ).json()
    assert datetime.fromisoformat(body["due_at"]) == datetime.fromisoformat(
        "2026-11-25T09:00:00+08:00"
    )


def test_a_department_is_counted_on_its_own_calendar_or_the_default(
    client: TestClient, session: Session, auth: Headers
) -> None:
    client.post("/api/calendars", json=SEVEN_DAYS, headers=auth(Role.ADMIN))
    own = add_department(session, code="HW-7")
    own.calendar_id = calendars.calendar_by_code(session, "sanitation-7").id
    plain = add_department(session, code="HW-5")
    session.flush()

    seven = calendars.calendar_for_department(
        session, own.id, default_code=get_settings().default_calendar_code
    )
    assert seven.weekdays == frozenset(range(1, 8)) and seven.official is None
    default = calendars.calendar_for_department(
        session, plain.id, default_code=get_settings().default_calendar_code
    )
    assert default.periods == DEFAULT_PERIODS and default.official is calendars.OFFICIAL
    nobody = calendars.calendar_for_department(
        session, None, default_code=get_settings().default_calendar_code
    )
    assert nobody == default
    saturday = datetime.fromisoformat("2026-11-28T10:00:00+08:00")
    assert add_working_hours(saturday, 1, seven).at == datetime.fromisoformat(
        "2026-11-28T11:00:00+08:00"
    )


def test_the_department_calendar_carries_its_overrides(session: Session) -> None:
    row = calendars.calendar_by_code(session, get_settings().default_calendar_code)
    calendars.set_calendar_day(
        session, row, date(2026, 11, 24), is_workday=False, name=None, created_by=None
    )
    calendar = calendars.calendar_for_department(
        session, None, default_code=get_settings().default_calendar_code
    )
    assert calendar.overrides == {date(2026, 11, 24): False}
    with pytest.raises(NotFound, match="no work calendar with code 'gone'"):
        calendars.calendar_for_department(session, None, default_code="gone")
