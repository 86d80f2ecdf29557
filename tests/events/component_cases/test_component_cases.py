"""A component with its cases over HTTP: one component with its case counts, its cases, the
repeat ranking (JSON and CSV), and who may ask."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from events.component_cases import service
from events.component_cases.schemas import CaseCounts
from tests.citygrid.refusals import refused_field
from tests.components.inventory_support import (
    FAR_CELL,
    FAR_STREET,
    Inventory,
    seed_inventory,
)
from tests.grid.places import CELL_NW, COMMUNITY, DISTRICT

Auth = Callable[[Role], dict[str, str]]
PERIOD_FROM = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_TO = datetime(2026, 6, 1, tzinfo=UTC)
IN_PERIOD = datetime(2026, 4, 1, tzinfo=UTC)
PERIOD = {"period_from": PERIOD_FROM.isoformat(), "period_to": PERIOD_TO.isoformat()}


def this_year_start() -> datetime:
    """The start of this calendar year in the city's time zone."""
    return service.year_start(datetime.now(UTC), get_settings().city_zone)


@pytest.fixture
def inventory(session: Session) -> Inventory:
    """The seeded inventory (see seed_inventory)."""
    return seed_inventory(session)


def add_cases(
    session: Session,
    component_id: int,
    created: list[datetime],
    *,
    status: str = "closed",
    merged_into_id: int | None = None,
) -> list[int]:
    """Cases about the component, created at the given times (at the component, in its cell
    or the first cell when it has none)."""
    rows = session.execute(
        text(
            """
            INSERT INTO event_case (number, status, category_id, description, geom, cell_id,
                                    component_id, created_at, merged_into_id, component_match)
            SELECT 'K' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 19), :status,
                   c.category_id, 'component test', ST_PointOnSurface(c.geom),
                   coalesce(c.cell_id, (SELECT min(id) FROM grid_cell)), c.id, t.at,
                   :merged_into_id, 'confirmed'
            FROM component c, unnest(CAST(:created AS timestamptz[])) AS t(at)
            WHERE c.id = :component_id
            RETURNING id
            """
        ),
        {"component_id": component_id, "created": created, "status": status,
         "merged_into_id": merged_into_id},
    )  # fmt: skip
    return [row.id for row in rows]


def test_one_component(
    client: TestClient, auth: Auth, session: Session, inventory: Inventory
) -> None:
    component_id = inventory.ids["nw_cover"]
    this_year = this_year_start() + timedelta(hours=1)
    add_cases(session, component_id, [this_year, this_year])
    add_cases(session, component_id, [this_year], status="dispatched")
    add_cases(session, component_id, [this_year - timedelta(days=30)])  # last year
    response = client.get(f"/api/components/{component_id}", headers=auth(Role.INSPECTOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "1101010101000001"
    assert body["category"]["code"] == "0101"
    assert body["category"]["name_zh"] == "上水井盖"
    assert body["cell_code"] == CELL_NW.code
    assert body["maintainer"] == {"id": inventory.water_id, "code": "WATER-01",
                                  "name": "water_supply_enterprise WATER-01"}  # fmt: skip
    assert body["owner"]["code"] == "WATER-01"
    assert body["supervisor"] is None
    assert body["geometry"]["type"] == "Point"
    assert body["case_counts"] == {"total": 4, "this_year": 3, "open": 1}


def test_far_component_outside_the_block_has_its_own_cell(
    client: TestClient, auth: Auth, inventory: Inventory
) -> None:
    response = client.get(f"/api/components/{inventory.ids['far_cover']}", headers=auth(Role.ADMIN))
    assert response.json()["cell_code"] == FAR_CELL.code


def test_unknown_component_is_404(client: TestClient, auth: Auth, inventory: Inventory) -> None:
    for path in ("/api/components/999999", "/api/components/999999/cases"):
        response = client.get(path, headers=auth(Role.MANAGER))
        assert response.status_code == 404, path


def test_component_cases_newest_first_with_counts(
    client: TestClient, auth: Auth, session: Session, inventory: Inventory
) -> None:
    component_id = inventory.ids["ne_cover"]
    start = this_year_start()
    older, newer, newest = (start + timedelta(hours=h) for h in (1, 2, 3))
    (kept,) = add_cases(session, component_id, [older])
    add_cases(session, component_id, [newer], status="cancelled")
    add_cases(session, component_id, [newest], status="filed", merged_into_id=kept)
    add_cases(session, component_id, [start - timedelta(days=2)])
    add_cases(session, inventory.ids["nw_cover"], [older])  # another component's
    response = client.get(f"/api/components/{component_id}/cases", headers=auth(Role.DEPARTMENT))
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["component_code"] == "1101010102000001"
    assert [case["counted"] for case in history["cases"]] == [False, False, True, True]
    assert [case["status"] for case in history["cases"]] == [
        "filed", "cancelled", "closed", "closed"
    ]  # fmt: skip
    assert history["cases"][0]["merged_into_id"] == kept
    assert history["cases"][2]["category_code"] == "0102"
    assert history["counts"] == {"total": 2, "this_year": 1, "open": 0}
    assert history["summary"].startswith("failed once this year")


@pytest.mark.parametrize(
    ("this_year", "words"), [(0, "failed 0 times"), (1, "failed once"), (5, "failed 5 times")]
)
def test_failure_summary(this_year: int, words: str) -> None:
    counts = CaseCounts(total=7, this_year=this_year, open=1)
    assert service.failure_summary(counts) == f"{words} this year (7 in all, 1 open)"


@pytest.fixture
def repeats(session: Session, inventory: Inventory) -> Inventory:
    """In the period: nw_cover 4 cases, far_cover 3, ne_cover 3 (the latest last), sw_parking 2,
    se_fence 1. Outside it, or not counted: more cases that must not change the order."""
    at = [IN_PERIOD + timedelta(days=day) for day in range(5)]
    ids = inventory.ids
    add_cases(session, ids["nw_cover"], at[:4])
    add_cases(session, ids["far_cover"], at[:3])
    (first_ne, *_) = add_cases(session, ids["ne_cover"], [at[0], at[1], at[4]], status="filed")
    add_cases(session, ids["sw_parking"], at[:2])
    add_cases(session, ids["se_fence"], at[:1])
    add_cases(session, ids["se_fence"], [PERIOD_TO, PERIOD_FROM - timedelta(seconds=1)] * 3)
    add_cases(session, ids["sw_parking"], at[:3], status="cancelled")
    add_cases(session, ids["sw_parking"], at[:3], status="not_filed")
    add_cases(session, ids["sw_parking"], at[:3], merged_into_id=first_ne)
    return inventory


def ranking(client: TestClient, auth: Auth, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/api/components/repeats", params={**PERIOD, **params}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ranked_names(body: dict[str, Any], inventory: Inventory) -> list[tuple[int, str, int]]:
    name_of = {component_id: name for name, component_id in inventory.ids.items()}
    return [(c["rank"], name_of[c["component_id"]], c["cases"]) for c in body["components"]]


def test_repeat_ranking_order(client: TestClient, auth: Auth, repeats: Inventory) -> None:
    body = ranking(client, auth)
    assert ranked_names(body, repeats) == [
        (1, "nw_cover", 4), (2, "ne_cover", 3), (2, "far_cover", 3), (4, "sw_parking", 2)
    ]  # fmt: skip
    assert body["total"] == 4
    top, second = body["components"][:2]
    assert top["code"] == "1101010101000001"
    assert top["maintainer_name"] == "water_supply_enterprise WATER-01"
    assert top["cell_code"] == CELL_NW.code
    assert top["open_cases"] == 0
    assert second["open_cases"] == 3
    assert second["first_case_at"].startswith("2026-04-01")
    assert second["last_case_at"].startswith("2026-04-05")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 2}, [(1, "nw_cover", 4), (2, "ne_cover", 3)]),
        ({"min_cases": 3}, [(1, "nw_cover", 4), (2, "ne_cover", 3), (2, "far_cover", 3)]),
        ({"min_cases": 1, "category": "04"}, [(1, "se_fence", 1)]),
        ({"category": "0101"}, [(1, "nw_cover", 4), (2, "far_cover", 3)]),
        ({"category": "01"}, [(1, "nw_cover", 4), (2, "ne_cover", 3), (2, "far_cover", 3)]),
        ({"area": DISTRICT.code}, [(1, "nw_cover", 4), (2, "ne_cover", 3), (3, "sw_parking", 2)]),
        ({"area": COMMUNITY.code, "category": "02"}, [(1, "sw_parking", 2)]),
        ({"area": FAR_STREET.code}, [(1, "far_cover", 3)]),
        (
            {"period_from": "2026-04-02T00:00:00+00:00", "period_to": "2026-04-06T00:00:00Z"},
            [(1, "nw_cover", 3), (2, "ne_cover", 2), (2, "far_cover", 2)],
        ),
        ({"period_from": "2026-05-01T00:00:00+08:00"}, []),
    ],
)
def test_repeat_ranking_filters(
    client: TestClient,
    auth: Auth,
    repeats: Inventory,
    params: dict[str, Any],
    expected: list[tuple[int, str, int]],
) -> None:
    body = ranking(client, auth, **params)
    assert ranked_names(body, repeats) == expected


def test_repeat_ranking_total_counts_beyond_the_limit(
    client: TestClient, auth: Auth, repeats: Inventory
) -> None:
    body = ranking(client, auth, limit=1)
    assert len(body["components"]) == 1
    assert body["total"] == 4


def test_repeat_ranking_as_csv(client: TestClient, auth: Auth, repeats: Inventory) -> None:
    response = client.get(
        "/api/components/repeats",
        params={**PERIOD, "format": "csv"},
        headers=auth(Role.DISPATCHER),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "component-repeats.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert rows[0] == service.REPEAT_CSV_COLUMNS
    assert [(row[0], row[1], row[7]) for row in rows[1:]] == [
        ("1", "1101010101000001", "4"),
        ("2", "1101010102000001", "3"),
        ("2", "1101020101000001", "3"),
        ("4", "1101010201000001", "2"),
    ]
    assert rows[2][3] == "污水井盖"
    assert rows[4][5] == "water_supply_enterprise WATER-01"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period_from": "2026-06-01T00:00:00+00:00"}, "period_to"),
        ({"period_from": "2026-03-01T00:00:00"}, "period_from"),
        ({"category": "7777"}, "category"),
        ({"area": "999999"}, "area"),
    ],
)
def test_repeat_ranking_refuses_bad_parameters(
    client: TestClient, auth: Auth, inventory: Inventory, params: dict[str, str], field: str
) -> None:
    response = client.get(
        "/api/components/repeats", params={**PERIOD, **params}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 422, response.text
    assert refused_field(response) == field


@pytest.mark.parametrize("params", [{"format": "xml"}, {"limit": "0"}, {"min_cases": "0"}])
def test_repeat_ranking_refuses_bad_options(
    client: TestClient, auth: Auth, params: dict[str, str]
) -> None:
    response = client.get("/api/components/repeats", params=params, headers=auth(Role.MANAGER))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


PATHS = (
    "/api/components/repeats",
    "/api/components/{id}",
    "/api/components/{id}/cases",
)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", list(Role))
def test_staff_may_read_citizens_may_not(
    client: TestClient, auth: Auth, inventory: Inventory, path: str, role: Role
) -> None:
    url = path.replace("{id}", str(inventory.ids["nw_cover"]))
    response = client.get(url, headers=auth(role))
    assert response.status_code == (403 if role is Role.CITIZEN else 200), response.text


def test_anonymous_caller_is_401(client: TestClient) -> None:
    for path in ("/api/components/repeats", "/api/components/1", "/api/components/1/cases"):
        assert client.get(path).status_code == 401, path
