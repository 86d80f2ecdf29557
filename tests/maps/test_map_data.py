"""The choropleth, heatmap and marker numbers: they equal SQL counts and follow the filters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from grid.revision import record_grid_change
from maps import service
from maps.schemas import MapFilters, Metric, Unit
from tests.events.seed import add_department
from tests.maps.city import (
    EAST_COMMUNITY,
    EAST_STREET,
    SIDE,
    WEST_COMMUNITY,
    WEST_STREET,
    add_cases,
    cell_code,
    seed_city,
    two_minor_categories,
)

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
NOW = datetime.now(UTC)
Headers = Callable[[Role], dict[str, str]]
A, B, C = (0, 0), (0, 1), (5, 15)  # two west cells side by side, one east cell


@pytest.fixture
def city(session: Session) -> dict[str, Any]:
    """The test city with cases of two categories, statuses, urgencies and departments."""
    seed_city(session)
    (first, first_code, first_major), (second, second_code, second_major) = two_minor_categories(
        session
    )
    department = add_department(session, code="MAP-SAN")
    day = START + timedelta(days=1)
    add_cases(session, {A: 4, B: 1}, created_at=day, category_id=first)
    add_cases(session, {C: 2}, created_at=day, category_id=second, urgency="urgent")
    add_cases(
        session,
        {B: 3},
        created_at=day,
        category_id=first,
        status="accepted",
        department_id=department.id,
        due_at=NOW - timedelta(hours=1),
    )
    add_cases(
        session,
        {C: 5},
        created_at=day,
        category_id=second,
        status="closed",
        department_id=department.id,
        due_at=day + timedelta(days=2),
        handled_at=day + timedelta(days=1),
    )
    add_cases(
        session,
        {C: 1},
        created_at=day,
        category_id=second,
        status="closed",
        due_at=day + timedelta(days=1),
        handled_at=day + timedelta(days=3),
    )
    add_cases(session, {A: 7}, created_at=START - timedelta(days=1), category_id=first)
    add_cases(session, {A: 9}, created_at=END, category_id=first)  # the end is excluded
    return {
        "first": first_code,
        "first_major": first_major,
        "second": second_code,
        "second_major": second_major,
    }


def values(
    client: TestClient,
    auth: Headers,
    *,
    unit: str = "cell",
    metric: str = "reports",
    **filters: Any,
) -> dict[str, float | None]:
    params = {
        "period_from": START.isoformat(),
        "period_to": END.isoformat(),
        "unit": unit,
        "metric": metric,
        **filters,
    }
    response = client.get("/api/maps/values", params=params, headers=auth(Role.DISPATCHER))
    assert response.status_code == 200, response.text
    return {row["code"]: row["value"] for row in response.json()}


def test_cell_values_equal_sql_counts(
    session: Session, client: TestClient, auth: Headers, city: dict[str, Any]
) -> None:
    rows = session.execute(
        text(
            "SELECT c.code, count(*) FROM event_case e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE e.created_at >= :start AND e.created_at < :end "
            "AND e.merged_into_id IS NULL GROUP BY c.code"
        ),
        {"start": START, "end": END},
    )
    expected = {code: count for code, count in rows}
    got = values(client, auth)
    assert len(got) == SIDE * SIDE
    assert {code: value for code, value in got.items() if value} == expected
    assert expected == {cell_code(A): 4, cell_code(B): 4, cell_code(C): 8}


def test_merged_duplicates_count_once(
    session: Session, client: TestClient, auth: Headers, city: dict[str, Any]
) -> None:
    session.execute(
        text(
            "UPDATE event_case SET merged_into_id = (SELECT min(id) FROM event_case) "
            "WHERE id = (SELECT max(id) FROM event_case WHERE cell_id = "
            "(SELECT id FROM grid_cell WHERE code = :code) AND created_at < :end)"
        ),
        {"code": cell_code(C), "end": END},
    )
    assert values(client, auth)[cell_code(C)] == 7


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("community", {WEST_COMMUNITY: 8, EAST_COMMUNITY: 8}),
        ("street", {WEST_STREET: 8, EAST_STREET: 8}),
    ],
)
def test_communities_and_streets_sum_their_cells(
    client: TestClient, auth: Headers, city: dict[str, Any], unit: str, expected: dict[str, int]
) -> None:
    assert values(client, auth, unit=unit) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "first"}, {A: 4, B: 4}),
        ({"category": "first_major"}, {A: 4, B: 4}),
        ({"category": "second"}, {C: 8}),
        ({"status": ["closed"]}, {C: 6}),
        ({"status": ["reported", "accepted"]}, {A: 4, B: 4, C: 2}),
        ({"urgency": "urgent"}, {C: 2}),
        ({"department": "MAP-SAN"}, {B: 3, C: 5}),
        ({"area": EAST_STREET}, {C: 8}),
        ({"area": WEST_COMMUNITY, "category": "first"}, {A: 4, B: 4}),
        ({"area": "110102"}, {A: 4, B: 4, C: 8}),
    ],
)
def test_filters_change_the_numbers(
    client: TestClient,
    auth: Headers,
    city: dict[str, Any],
    filters: dict[str, Any],
    expected: dict[tuple[int, int], int],
) -> None:
    params = {
        key: city.get(value, value) if key == "category" else value
        for key, value in filters.items()
    }
    got = values(client, auth, **params)
    assert {code: value for code, value in got.items() if value} == {
        cell_code(cell): count for cell, count in expected.items()
    }
    if "area" in filters and filters["area"] != "110102":
        assert len(got) == SIDE * SIDE // 2


@pytest.mark.parametrize(
    ("metric", "cell", "expected"),
    [
        ("open_backlog", B, 4.0),  # 1 reported + 3 accepted
        ("open_backlog", C, 2.0),  # the closed ones are not open
        ("overdue", B, 3.0),  # accepted, due an hour ago
        ("overdue", C, 1.0),  # handled two days after its due time
        ("on_time_rate", C, 5 / 6),
        ("on_time_rate", A, None),  # nothing handled: no rate
    ],
)
def test_metrics(
    client: TestClient,
    auth: Headers,
    city: dict[str, Any],
    metric: str,
    cell: tuple[int, int],
    expected: float | None,
) -> None:
    got = values(client, auth, metric=metric)[cell_code(cell)]
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_reports_per_km2_divides_by_the_cell_area(
    session: Session, client: TestClient, auth: Headers, city: dict[str, Any]
) -> None:
    area_m2 = session.scalar(
        text("SELECT area_m2 FROM grid_cell WHERE code = :code"), {"code": cell_code(C)}
    )
    got = values(client, auth, metric="reports_per_km2")[cell_code(C)]
    assert got == pytest.approx(8 / (area_m2 / 1e6))


def test_heat_points_are_bounded_by_cells(
    client: TestClient, auth: Headers, city: dict[str, Any]
) -> None:
    response = client.get(
        "/api/maps/heat",
        params={"period_from": START.isoformat(), "period_to": END.isoformat()},
        headers=auth(Role.MANAGER),
    )
    points = response.json()
    assert sorted(weight for _, _, weight in points) == [4.0, 4.0, 8.0]
    for lat, lon, _ in points:
        assert 39.0 < lat < 39.02 and 116.0 < lon < 116.02


def filters(**extra: Any) -> MapFilters:
    return MapFilters(period_from=START, period_to=END, **extra)


def test_markers_only_under_the_cap(session: Session, city: dict[str, Any]) -> None:
    total, markers = service.case_markers(session, filters(), cap=16)
    assert total == 16 and len(markers) == 16
    total, markers = service.case_markers(session, filters(), cap=15)
    assert total == 16 and markers == []
    total, markers = service.case_markers(session, filters(urgency="urgent"), cap=15)
    assert total == 2 and {m.urgency for m in markers} == {"urgent"}


def test_outlines(session: Session, city: dict[str, Any]) -> None:
    cells = service.unit_outlines(session, Unit.CELL, filters(area_code=EAST_STREET), simplify_m=1)
    assert len(cells["features"]) == SIDE * SIDE // 2
    numbers = re.findall(r"\d+\.\d+", json.dumps(cells["features"][0]["geometry"]))
    assert numbers and all(len(number.split(".")[1]) <= 5 for number in numbers)
    streets = service.unit_outlines(session, Unit.STREET, filters(), simplify_m=5)
    assert [f["properties"]["code"] for f in streets["features"]] == [WEST_STREET, EAST_STREET]
    base = service.outlines_base(session, filters(area_code=WEST_COMMUNITY))
    levels = {f["properties"]["code"]: f["properties"]["level"] for f in base["features"]}
    assert levels == {"110102": "district", WEST_STREET: "street", WEST_COMMUNITY: "community"}


def test_unit_values_in_the_service(session: Session, city: dict[str, Any]) -> None:
    rows = service.unit_values(session, Unit.COMMUNITY, Metric.REPORTS, filters())
    assert [(row.code, row.value) for row in rows] == [(WEST_COMMUNITY, 8), (EAST_COMMUNITY, 8)]


@pytest.mark.parametrize(
    ("unit", "area", "expected"),
    [
        (Unit.CELL, None, SIDE * SIDE),
        (Unit.CELL, WEST_COMMUNITY, SIDE * SIDE // 2),
        (Unit.COMMUNITY, None, 2),
        (Unit.STREET, EAST_STREET, 1),
    ],
)
def test_unit_count(
    session: Session, city: dict[str, Any], unit: Unit, area: str | None, expected: int
) -> None:
    assert service.unit_count(session, unit, filters(area_code=area)) == expected


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.MANAGER, 200),
        (Role.DISPATCHER, 200),
        (Role.ADMIN, 200),
        (Role.CITIZEN, 403),
        (Role.INSPECTOR, 403),
        (Role.DEPARTMENT, 403),
    ],
)
@pytest.mark.parametrize("path", ["/api/maps/values", "/api/maps/heat"])
def test_api_roles(
    session: Session, client: TestClient, auth: Headers, role: Role, status: int, path: str
) -> None:
    seed_city(session)
    assert client.get(path, headers=auth(role)).status_code == status


def test_heat_points_follow_a_grid_change(session: Session, city: dict[str, Any]) -> None:
    before = service.heat_points(session, filters())
    session.execute(
        text("UPDATE grid_cell SET geom = ST_Translate(geom, 0.5, 0) WHERE code = :code"),
        {"code": cell_code(C)},
    )
    record_grid_change(session)
    after = service.heat_points(session, filters())
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(moved) == 1 and moved[0][1][1] == pytest.approx(moved[0][0][1] + 0.5)
