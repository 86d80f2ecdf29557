"""GET /api/cases and GET /api/public/cases through HTTP: filters, sorting, paging, role scope,
422s naming the field, and what the public may see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import Settings, get_settings, settings_dependency
from events.models import Report
from tests.citygrid.refusals import refusal_text, refused_field
from tests.events.listing.support import (
    ALL,
    COMMUNITY_EAST,
    NE_OF_ORIGIN,
    STREET_EAST,
    World,
    seed_world,
)
from tests.grid.places import (
    CELL_NE,
    CELL_SW,
    DISTRICT,
    ORIGIN_LAT,
    ORIGIN_LON,
)


@pytest.fixture
def world(session: Session) -> World:
    return seed_world(session)


def listed(client: TestClient, world: World, who: str, **params: Any) -> list[str]:
    response = client.get("/api/cases", params=params, headers=world.headers(who))
    assert response.status_code == 200, response.text
    return world.names(response.json())


def listed_set(client: TestClient, world: World, who: str, **params: Any) -> set[str]:
    return set(listed(client, world, who, **params))


# Items and the staff's full view ----------------------------------------------------------------


def test_an_item_carries_the_case_its_place_and_its_department(
    client: TestClient, world: World
) -> None:
    response = client.get(
        "/api/cases", params={"status": "dispatched"}, headers=world.headers("dispatcher")
    )
    (item,) = response.json()["items"]
    c2 = world.cases["c2"]
    assert item["number"] == c2.number
    assert item["status"] == "dispatched"
    assert (item["category_code"], item["category_name_en"]) == ("0102", "Exposed garbage")
    assert item["urgency"] == "urgent"
    assert item["cell_code"] == CELL_NE.code
    assert item["community_code"] == "110101001001"
    assert item["street_code"] == "110101001"
    assert item["district_code"] == "110101"
    assert item["department_code"] == "HW-A"
    assert item["lon"] == pytest.approx(ORIGIN_LON + 0.0005)
    assert item["lat"] == pytest.approx(ORIGIN_LAT + 0.0005)
    assert item["merged_into_id"] is None
    assert "description" not in item and "reported_by" not in item


@pytest.mark.parametrize("who", ["dispatcher", "manager", "admin"])
def test_dispatchers_managers_and_admins_see_every_case_newest_first(
    client: TestClient, world: World, who: str
) -> None:
    response = client.get("/api/cases", headers=world.headers(who))
    body = response.json()
    assert world.names(body) == list(reversed(ALL))
    assert (body["total"], body["page"], body["page_size"], body["next_page"]) == (6, 1, 50, None)


def test_a_merged_case_points_at_its_target(client: TestClient, world: World) -> None:
    response = client.get(
        "/api/cases", params={"status": "cancelled"}, headers=world.headers("dispatcher")
    )
    (item,) = response.json()["items"]
    assert item["merged_into_id"] == world.cases["c2"].id


# Filters --------------------------------------------------------------------------------------

FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({"status": "dispatched"}, {"c2"}),
    ({"status": "handled,closed"}, {"c3", "c4"}),
    ({"status": " handled , closed "}, {"c3", "c4"}),
    ({"category_code": "0102"}, {"c1", "c2", "c5"}),
    ({"category_code": "01"}, {"c1", "c2", "c5"}),
    ({"category_code": "02"}, {"c3", "c4", "c6"}),
    ({"category_code": "03"}, set()),
    ({"urgency": "urgent"}, {"c2"}),
    ({"urgency": "normal"}, {"c1", "c3", "c4", "c5", "c6"}),
    ({"area_code": DISTRICT.code}, set(ALL)),
    ({"area_code": STREET_EAST.code}, {"c6"}),
    ({"area_code": "110101001"}, {"c1", "c2", "c3", "c4", "c5"}),
    ({"area_code": COMMUNITY_EAST.code}, {"c6"}),
    ({"area_code": CELL_NE.code}, {"c2", "c5"}),
    ({"area_code": "110102"}, set()),
    ({"department_code": "HW-A"}, {"c2", "c4"}),
    ({"department_code": "HW-B"}, {"c3"}),
    ({"department_code": "nobody"}, set()),
    ({"created_from": "2026-02-01T08:00:00Z", "created_to": "2026-04-01T08:00:00Z"}, {"c2", "c3"}),
    ({"created_from": "2026-05-01"}, {"c5", "c6"}),
    ({"created_to": "2026-02-01T16:00:00+08:00"}, {"c1"}),  # 08:00 UTC: exclusive
    ({"closed_from": "2026-04-03", "closed_to": "2026-04-04"}, {"c4"}),
    ({"closed_to": "2026-04-03"}, set()),
    # Past due while a department holds it: handled c3 no longer runs late, closed c4 neither.
    ({"overdue": "true"}, {"c2"}),
    ({"overdue": "false"}, {"c1", "c3", "c4", "c5", "c6"}),
    ({"bbox": f"{NE_OF_ORIGIN},{ORIGIN_LON + 0.01},{ORIGIN_LAT + 0.01}"}, {"c2", "c5", "c6"}),
    ({"bbox": f"{ORIGIN_LON - 0.01},{ORIGIN_LAT - 0.01},{ORIGIN_LON},{ORIGIN_LAT}"}, {"c3"}),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=lambda value: str(value))
def test_each_filter(
    client: TestClient, world: World, params: dict[str, str], expected: set[str]
) -> None:
    assert listed_set(client, world, "dispatcher", **params) == expected


def test_filter_by_category_id(client: TestClient, world: World) -> None:
    manhole = world.categories["manhole"].id
    assert listed_set(client, world, "dispatcher", category_id=manhole) == {"c3", "c4", "c6"}


def test_filter_by_reporter_counts_merged_reports(client: TestClient, world: World) -> None:
    citizen1 = world.users["citizen1"].id
    assert listed_set(client, world, "dispatcher", reporter_id=citizen1) == {"c1", "c2", "c4", "c5"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "dispatched,closed", "department_code": "HW-A"}, {"c2", "c4"}),
        ({"status": "dispatched,closed", "department_code": "HW-A", "urgency": "urgent"}, {"c2"}),
        ({"category_code": "02", "area_code": "110101001", "overdue": "false"}, {"c3", "c4"}),
        ({"category_code": "01", "created_from": "2026-02-01", "status": "reported"}, set()),
    ],
    ids=str,
)
def test_combined_filters(
    client: TestClient, world: World, params: dict[str, str], expected: set[str]
) -> None:
    assert listed_set(client, world, "dispatcher", **params) == expected


# Sorting and paging ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created_at", list(ALL)),
        ("-created_at", list(reversed(ALL))),
        ("due_at", ["c4", "c3", "c2", "c6", "c1", "c5"]),  # no due date: last, in id order
        ("-due_at", ["c6", "c2", "c3", "c4", "c5", "c1"]),  # no due date: last
        ("number", list(ALL)),  # add_case numbers in insertion order
        ("status", ["c1", "c6", "c2", "c3", "c4", "c5"]),  # lifecycle order
    ],
)
def test_sort_orders(client: TestClient, world: World, sort: str, expected: list[str]) -> None:
    assert listed(client, world, "dispatcher", sort=sort) == expected


def test_status_sort_follows_the_lifecycle(client: TestClient, world: World) -> None:
    # Alphabetically closed < filed < reported; the lifecycle puts them the other way round.
    order = listed(client, world, "dispatcher", sort="status", status="reported,filed,closed")
    assert order == ["c1", "c6", "c4"]


def test_pages(client: TestClient, world: World) -> None:
    seen: list[str] = []
    page: int | None = 1
    while page is not None:
        response = client.get(
            "/api/cases",
            params={"page": page, "page_size": 4, "sort": "created_at"},
            headers=world.headers("dispatcher"),
        )
        body = response.json()
        assert body["total"] == 6
        seen += world.names(body)
        page = body["next_page"]
    assert seen == list(ALL)


@pytest.mark.parametrize(
    ("page", "page_size", "next_page"), [(2, 3, None), (1, 3, 2), (9, 3, None)]
)
def test_total_is_right_on_full_short_and_past_the_end_pages(
    client: TestClient, world: World, page: int, page_size: int, next_page: int | None
) -> None:
    response = client.get(
        "/api/cases",
        params={"page": page, "page_size": page_size},
        headers=world.headers("dispatcher"),
    )
    body = response.json()
    assert (body["total"], body["next_page"]) == (6, next_page)
    assert len(body["items"]) == (3 if page <= 2 else 0)


# Role scope -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("member_a", {"c2", "c4", "c5"}),  # c5 is merged into c2
        ("member_b", {"c3"}),
        ("citizen1", {"c1", "c2", "c4", "c5"}),  # c2 holds citizen1's merged report
        ("citizen2", {"c2", "c3", "c5"}),  # c5 is merged into citizen2's c2
        ("inspector", {"c3", "c6"}),  # own report c6, and c3 waiting for verification
    ],
)
def test_each_role_sees_its_scope(
    client: TestClient, world: World, who: str, expected: set[str]
) -> None:
    assert listed_set(client, world, who) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"department_code": "HW-B"},
        {"status": "handled"},
        {"area_code": CELL_SW.code},
    ],
    ids=str,
)
def test_a_department_member_never_sees_another_departments_case(
    client: TestClient, world: World, params: dict[str, str]
) -> None:
    response = client.get("/api/cases", params=params, headers=world.headers("member_a"))
    assert all(item["department_code"] == "HW-A" for item in response.json()["items"])
    assert "c3" not in world.names(response.json())


def test_a_citizen_cannot_widen_the_scope_by_filtering_on_someone_else(
    client: TestClient, world: World
) -> None:
    citizen2 = world.users["citizen2"].id
    assert listed_set(client, world, "citizen1", reporter_id=citizen2) == {"c2"}  # c2: both


def test_a_department_token_without_department_sees_nothing(
    client: TestClient, world: World
) -> None:
    from citygrid.accounts.auth import issue_token
    from citygrid.accounts.roles import Principal

    principal = Principal(999, "no-dept", Role.DEPARTMENT, None)
    token = issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(minutes=5))
    response = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["total"] == 0


def test_no_token_is_401(client: TestClient, world: World) -> None:
    assert client.get("/api/cases").status_code == 401


# 422s -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"status": "bogus"}, "status", "allowed: reported, filed"),
        ({"status": "filed,bogus"}, "status", "bogus"),
        ({"status": ","}, "status", "allowed"),
        ({"sort": "priority"}, "sort", "'created_at', '-created_at', 'due_at'"),
        ({"created_from": "yesterday"}, "created_from", "ISO 8601"),
        ({"created_to": "2026-13-01"}, "created_to", "ISO 8601"),
        ({"closed_from": "2026-05-01", "closed_to": "2026-04-01"}, "closed_from", "after"),
        ({"created_from": "2026-05-01", "created_to": "2026-04-01"}, "created_from", "after"),
        ({"area_code": "1101"}, "area_code", "6, 9, 12 or 15 digits"),
        ({"area_code": "110101%"}, "area_code", "digits"),
        ({"category_code": "01%"}, "category_code", "letters or digits"),
        ({"bbox": "1,2,3"}, "bbox", "four numbers"),
        ({"bbox": "3,2,1,4"}, "bbox", "min <= max"),
    ],
    ids=str,
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, world: World, params: dict[str, str], field: str, says: str
) -> None:
    response = client.get("/api/cases", params=params, headers=world.headers("dispatcher"))
    assert response.status_code == 422, response.text
    assert refused_field(response) == field
    assert says in refusal_text(response)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "501"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"urgency": "critical"}, "urgency"),
        ({"overdue": "maybe"}, "overdue"),
        ({"reporter_id": "x"}, "reporter_id"),
    ],
    ids=str,
)
def test_typed_parameters_are_422_naming_the_field(
    client: TestClient, world: World, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/cases", params=params, headers=world.headers("dispatcher"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "created_at; DROP TABLE event_case; --"}, "sort"),
        ({"sort": "(SELECT password_hash FROM app_user LIMIT 1)"}, "sort"),
        ({"status": "filed') OR ('1'='1"}, "status"),
        ({"area_code": "110101' OR '1'='1"}, "area_code"),
    ],
    ids=str,
)
def test_sql_injection_is_refused(
    client: TestClient, session: Session, world: World, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/cases", params=params, headers=world.headers("member_a"))
    assert response.status_code == 422
    assert refused_field(response) == field
    assert session.scalar(text("SELECT count(*) FROM event_case")) == 6


def test_free_text_filters_are_bound_parameters(client: TestClient, world: World) -> None:
    assert listed_set(client, world, "dispatcher", department_code="x' OR '1'='1") == set()


# Public listing -------------------------------------------------------------------------------


@pytest.fixture
def public_listing(client: TestClient) -> Iterator[Callable[[bool], None]]:
    def switch(enabled: bool) -> None:
        settings = Settings(public_listing=enabled)
        client.app.dependency_overrides[settings_dependency] = lambda: settings  # type: ignore[attr-defined]

    yield switch
    client.app.dependency_overrides.pop(settings_dependency, None)  # type: ignore[attr-defined]


def test_public_listing_is_404_when_disabled(
    client: TestClient, world: World, public_listing: Callable[[bool], None]
) -> None:
    public_listing(False)
    response = client.get("/api/public/cases")
    assert response.status_code == 404
    assert "not enabled" in response.json()["detail"]


def test_public_listing_is_off_by_default(client: TestClient, world: World) -> None:
    assert client.get("/api/public/cases").status_code == 404


def test_public_listing_shows_taken_on_cases_at_cell_resolution(
    client: TestClient, world: World, public_listing: Callable[[bool], None]
) -> None:
    public_listing(True)
    response = client.get("/api/public/cases")
    assert response.status_code == 200, response.text
    body = response.json()
    # Not c1 (reported, not yet filed) nor c5 (merged into c2).
    numbers = [item["number"] for item in body["items"]]
    assert numbers == [world.cases[name].number for name in ("c6", "c4", "c3", "c2")]
    assert body["total"] == 4
    c2 = body["items"][3]
    assert set(c2) == {
        "number",
        "status",
        "category_code",
        "category_name_zh",
        "category_name_en",
        "cell_code",
        "cell_lon",
        "cell_lat",
    }
    assert c2["cell_code"] == CELL_NE.code
    assert (c2["cell_lon"], c2["cell_lat"]) == (116.4005, 39.9005)  # NE's centroid, 6 decimals


def test_public_listing_leaks_no_personal_data(
    client: TestClient, session: Session, world: World, public_listing: Callable[[bool], None]
) -> None:
    public_listing(True)
    # A point off the cell's centre: the public answer must not reveal it.
    world.cases["c3"].geom = from_shape(
        Point(ORIGIN_LON - 0.00091, ORIGIN_LAT - 0.00013), srid=4326
    )
    session.flush()
    body = client.get("/api/public/cases", params={"page_size": 500}).text
    reports = session.scalars(select(Report)).all()
    secrets = [case.description for case in world.cases.values()]
    secrets += [report.description for report in reports]
    secrets += [user.username for user in world.users.values()]
    secrets += ["HW-A", "HW-B", "116.39909", "39.89987", "reporter", "description", "department"]
    assert not [secret for secret in secrets if secret in body]


def test_public_listing_filters_and_pages(
    client: TestClient, world: World, public_listing: Callable[[bool], None]
) -> None:
    public_listing(True)
    east = client.get("/api/public/cases", params={"area_code": STREET_EAST.code}).json()
    assert [item["number"] for item in east["items"]] == [world.cases["c6"].number]
    closed = client.get("/api/public/cases", params={"status": "closed"}).json()
    assert [item["number"] for item in closed["items"]] == [world.cases["c4"].number]
    unfiled = client.get("/api/public/cases", params={"status": "reported"}).json()
    assert unfiled["items"] == []
    paged = client.get("/api/public/cases", params={"page": 2, "page_size": 3}).json()
    assert (paged["total"], len(paged["items"]), paged["next_page"]) == (4, 1, None)
    bad = client.get("/api/public/cases", params={"status": "x"})
    assert (bad.status_code, refused_field(bad)) == (422, "status")
