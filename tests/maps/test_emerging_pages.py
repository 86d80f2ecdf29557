"""The emerging hot spot map: page, table view, CSV and JSON over a test city with planted
weekly patterns (a new hot spot, an intensifying one and an untouched control)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from tests.maps.city import add_cases, block, cell_code, every_cell, seed_city, two_minor_categories
from tests.maps.page_support import embedded_geojson

Auth = Callable[[Role], dict[str, str]]
WEEKS = 12
# Monday 7 December 2026, 00:00 in Beijing: the twelve weeks run 14 September – 6 December.
END = "2026-12-07T00:00:00+08:00"
FIRST_WEDNESDAY = datetime(2026, 9, 16, 2, 0, tzinfo=UTC)
NEW, INTENSIFYING, CONTROL = (4, 4), (4, 14), (15, 15)
QUERY = {"end": END, "periods": str(WEEKS)}


@pytest.fixture
def weekly_city(session: Session) -> None:
    """Every week 1–2 cases in every cell; the block around NEW 12 more per cell in the last week
    only; the block around INTENSIFYING 4 + week more per cell every week."""
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    for week in range(WEEKS):
        at = FIRST_WEDNESDAY + timedelta(weeks=week)
        background = {cell: 1 + (sum(cell) + week) % 2 for cell in every_cell()}
        for cell in block((INTENSIFYING[0] - 1, INTENSIFYING[1] - 1)):
            background[cell] += 4 + week
        if week == WEEKS - 1:
            for cell in block((NEW[0] - 1, NEW[1] - 1)):
                background[cell] += 12
        add_cases(session, background, created_at=at, category_id=category_id)
    session.flush()


def get(client: TestClient, auth: Auth, path: str, language: str = "zh-CN", **params: str) -> str:
    headers = {**auth(Role.MANAGER), "Accept-Language": language}
    response = client.get(path, params={**QUERY, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body: str = response.text
    return body


def csv_rows(client: TestClient, auth: Auth, **params: str) -> dict[str, dict[str, str]]:
    body = get(client, auth, "/maps/emerging/csv", **params).lstrip("\ufeff")
    return {row["code"]: row for row in csv.DictReader(io.StringIO(body))}


def test_csv_gives_the_planted_cells_their_category_and_the_control_none(
    client: TestClient, auth: Auth, weekly_city: None
) -> None:
    rows = csv_rows(client, auth)
    assert len(rows) == 400
    assert rows[cell_code(NEW)]["category"] == "new_hot"
    intensifying = rows[cell_code(INTENSIFYING)]
    assert intensifying["category"] == "intensifying_hot"
    assert intensifying["hot_periods"] == str(WEEKS) and float(intensifying["tau"]) > 0.5
    control = rows[cell_code(CONTROL)]
    assert control["category"] == "none" and control["tau"] == ""
    assert control["reports"] == str(sum(1 + (sum(CONTROL) + week) % 2 for week in range(WEEKS)))
    assert list(next(iter(rows.values()))) == [
        "code", "name", "category", "reports", "last_period_reports", "hot_periods",
        "cold_periods", "tau", "trend_p", "last_z",
    ]  # fmt: skip


def test_the_page_in_chinese_draws_the_categories_with_a_legend(
    client: TestClient, auth: Auth, weekly_city: None
) -> None:
    page = get(client, auth, "/maps/emerging")
    assert '<html lang="zh-CN">' in page and "新增热点" in page and "加剧热点" in page
    assert "2026-09-14 00:00 – 2026-12-07 00:00" in page  # the twelve weeks in city time
    assert "12 周" in page
    legend = page.split('<div id="map-legend">', 1)[1].split("</div>", 1)[0]
    assert "时空热点趋势" in legend and "振荡冷点 (0)" in legend and "未发现模式 (" in legend
    (drawn,) = [
        layer
        for layer in embedded_geojson(page)
        if layer["features"] and "category" in layer["features"][0]["properties"]
    ]
    by_code = {feature["id"]: feature["properties"] for feature in drawn["features"]}
    assert by_code[cell_code(NEW)]["category"] == "新增热点"
    assert by_code[cell_code(INTENSIFYING)]["category"] == "加剧热点"
    assert cell_code(CONTROL) not in by_code  # no pattern: not drawn
    assert 'href="/maps/emerging/table?' in page and 'href="/maps/emerging/csv?' in page


def test_the_table_view_in_english_names_columns_and_categories(
    client: TestClient, auth: Auth, weekly_city: None
) -> None:
    table = get(client, auth, "/maps/emerging/table", language="en")
    assert '<th scope="col">Hot periods</th>' in table
    assert "Intensifying hot spot" in table and "New hot spot" in table
    assert "No pattern detected" in table


def test_json_by_community_and_by_month(client: TestClient, auth: Auth, weekly_city: None) -> None:
    headers = auth(Role.DISPATCHER)
    answer = client.get(
        "/api/maps/emerging", params={**QUERY, "unit": "community"}, headers=headers
    ).json()
    assert len(answer["locations"]) == 2 and answer["unit"] == "community"
    assert answer["message"] == "fewer than 3 locations in the area: no analysis"
    monthly = client.get(
        "/api/maps/emerging",
        params={"end": END, "period": "month", "periods": "3"},
        headers=headers,
    ).json()
    assert monthly["periods"] == [
        "2026-09-01T00:00:00+08:00", "2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00",
    ]  # fmt: skip
    assert sum(location["reports"] for location in monthly["locations"]) > 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"confidence": "0.5"}, "confidence"),
        ({"periods": "2"}, "periods"),
        ({"period": "day"}, "period"),
        ({"end": "2026-12-07T00:00:00"}, "end"),
        ({"area": "999"}, None),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, auth: Auth, params: dict[str, str], field: str | None
) -> None:
    response = client.get("/maps/emerging/csv", params=params, headers=auth(Role.MANAGER))
    if field is None:
        assert response.status_code == 404 and "999" in response.text
    else:
        assert response.status_code == 422 and field in response.text


def test_other_roles_are_refused(client: TestClient, auth: Auth) -> None:
    for path in ("/maps/emerging", "/maps/emerging/table", "/maps/emerging/csv",
                 "/api/maps/emerging"):  # fmt: skip
        assert client.get(path, headers=auth(Role.INSPECTOR)).status_code == 403
        assert client.get(path).status_code == 401
