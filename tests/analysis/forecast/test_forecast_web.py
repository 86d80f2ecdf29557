"""The forecast over a small city (two streets, two category groups, ten weeks of cases with a
weekly pattern), as managers read it: the JSON and CSV of /api/analysis/forecast and the page
/analysis/forecast, each with the next 14 days, their intervals and the backtest's figures."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from tests.events.seed import add_user
from tests.maps.city import EAST_STREET, WEST_STREET, seed_city, two_minor_categories
from tests.web.pages_support import EN, ZH, log_in

Auth = Callable[[Role], dict[str, str]]
HISTORY_DAYS = 70
# Cases a day per weekday (Monday first) in each street's own group.
WEST_WEEK = (5, 4, 6, 5, 4, 1, 1)
EAST_WEEK = (2, 3, 2, 2, 3, 0, 1)

CASES_SQL = """
INSERT INTO event_case (number, status, category_id, description, geom, cell_id, created_at)
SELECT 'F' || :street || '-' || d || '-' || n, 'filed', :category_id, 'forecast test',
       ST_PointOnSurface(c.geom), c.id,
       (CAST(:today AS date) - d + time '10:00') AT TIME ZONE :zone
FROM generate_series(1, :days) d
CROSS JOIN LATERAL generate_series(1, (CAST(:week AS int[]))[
    extract(isodow FROM CAST(:today AS date) - d)::int] + (d % 3 = 0)::int) n
CROSS JOIN LATERAL (SELECT g.id, g.geom FROM grid_cell g JOIN grid_region m
                    ON m.id = g.community_id JOIN grid_region s ON s.id = m.parent_id
                    WHERE s.code = :street ORDER BY g.id LIMIT 1) c
"""


@pytest.fixture
def city(session: Session) -> dict[str, str]:
    """The test city and its cases; the codes of the two groups by street."""
    seed_city(session)
    (west_category, _, west_group), (east_category, _, east_group) = two_minor_categories(session)
    zone = get_settings().city_zone
    today = datetime.now(UTC).astimezone(zone).date()
    for street, category, week in (
        (WEST_STREET, west_category, WEST_WEEK),
        (EAST_STREET, east_category, EAST_WEEK),
    ):
        params = {"street": street, "category_id": category, "week": list(week)}
        params |= {"today": today, "zone": str(zone), "days": HISTORY_DAYS}
        session.execute(text(CASES_SQL), params)
    session.flush()
    return {WEST_STREET: west_group, EAST_STREET: east_group}


def test_json_has_14_days_with_intervals_and_the_backtest_per_series(
    client: TestClient, auth: Auth, city: dict[str, str]
) -> None:
    answer = client.get("/api/analysis/forecast?history_days=70", headers=auth(Role.MANAGER))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    zone = get_settings().city_zone
    today = datetime.now(UTC).astimezone(zone).date()
    assert body["history_to"] == (today - timedelta(days=1)).isoformat()
    assert body["horizon_days"] == 14 and body["interval"] == 0.8
    assert len(body["backtest_origins"]) == 4
    overall = body["backtest"]
    assert overall["scored_days"] == 2 * 4 * 14
    assert overall["mase"] < overall["seasonal_naive_mase"]
    assert 0.5 <= overall["coverage"] <= 1
    series = {(s["street_code"], s["group_code"]): s for s in body["series"]}
    assert set(series) == {(WEST_STREET, city[WEST_STREET]), (EAST_STREET, city[EAST_STREET])}
    west = series[(WEST_STREET, city[WEST_STREET])]
    assert [day["day"] for day in west["days"]] == [
        (today + timedelta(days=k)).isoformat() for k in range(14)
    ]
    assert all(d["lower"] <= d["mean"] <= d["upper"] for d in west["days"])
    # The weekly pattern carries over: the west street's weekdays are busier than its Sundays.
    by_weekday = {datetime.fromisoformat(d["day"]).isoweekday(): d["mean"] for d in west["days"]}
    assert by_weekday[3] > 2 * by_weekday[7]
    assert west["backtest"]["mase"] is not None and west["backtest"]["scored_days"] == 56


def test_csv_has_a_line_per_street_group_and_day(
    client: TestClient, auth: Auth, city: dict[str, str]
) -> None:
    answer = client.get(
        f"/api/analysis/forecast?street={EAST_STREET}&format=csv", headers=auth(Role.DISPATCHER)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(lines) == 14
    assert {line["street_code"] for line in lines} == {EAST_STREET}
    assert all(line["backtest_mase"] and line["backtest_coverage"] for line in lines)
    assert int(lines[0]["lower"]) <= float(lines[0]["mean"]) <= int(lines[0]["upper"])


@pytest.mark.parametrize(
    ("query", "status_code", "field"),
    [
        ("street=999999999", 404, "street"),
        ("group=98", 404, "group"),
        ("history_days=7", 422, "history_days"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    client: TestClient, auth: Auth, query: str, status_code: int, field: str
) -> None:
    answer = client.get(f"/api/analysis/forecast?{query}", headers=auth(Role.MANAGER))
    assert answer.status_code == status_code
    assert field in answer.text


def test_citizens_and_departments_may_not_read_the_forecast(client: TestClient, auth: Auth) -> None:
    for role in (Role.CITIZEN, Role.DEPARTMENT, Role.INSPECTOR):
        assert client.get("/api/analysis/forecast", headers=auth(role)).status_code == 403


def test_the_page_shows_the_forecast_and_the_backtest_in_the_readers_language(
    session: Session, client: TestClient, city: dict[str, str]
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="forecast-manager"))
    page = client.get("/analysis/forecast?history_days=70", headers=ZH)
    assert page.status_code == 200, page.text
    assert "案卷预测" in page.text and "以往预测准不准？" in page.text
    assert "（本市时间）" in page.text
    mase = re.search(r'id="backtest-mase">([0-9.]+)<', page.text)
    coverage = re.search(r'id="backtest-coverage">([0-9]+)%<', page.text)
    assert mase and float(mase.group(1)) < 1
    assert coverage and 50 <= int(coverage.group(1)) <= 100
    rows = re.findall(r'<tr data-street="(\d+)"', page.text)
    assert sorted(rows) == [WEST_STREET, EAST_STREET]
    assert page.text.count("<polygon points=") == 2  # each row's interval band
    assert len(re.findall(r'class="forecast-mase">[0-9.]+<', page.text)) == 2
    english = client.get(f"/analysis/forecast?history_days=70&street={WEST_STREET}", headers=EN)
    assert "How good were past forecasts?" in english.text
    assert re.findall(r'<tr data-street="(\d+)"', english.text) == [WEST_STREET]


def test_an_empty_city_says_there_is_nothing_to_forecast(
    session: Session, client: TestClient
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="forecast-empty"))
    page = client.get("/analysis/forecast", headers=EN)
    assert page.status_code == 200, page.text
    assert 'id="forecast-empty"' in page.text and 'id="backtest-none"' in page.text


def test_the_command_prints_the_backtest_and_writes_the_csv(
    run_cli: Callable[..., Result], city: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "forecast.csv"
    result = run_cli("analysis", "forecast", "--history-days", "70", "--csv", str(target))
    assert result.exit_code == 0, result.output
    assert "2 street × group series" in result.output
    assert re.search(r"MASE 0\.\d\d \(last week's numbers: \d\.\d\d\)", result.output)
    assert re.search(r"80 % interval coverage \d+%", result.output)
    assert "28 lines written" in result.output
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 1 + 28


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--history-days", "7"], "--history-days must be 28 to 730"),
        (["--street", "999999999"], "no street with code '999999999'"),
    ],
)
def test_the_command_refuses_bad_options_in_one_line(
    run_cli: Callable[..., Result], arguments: list[str], message: str
) -> None:
    result = run_cli("analysis", "forecast", *arguments)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_the_page_refuses_an_unknown_street_with_a_page_naming_it(
    session: Session, client: TestClient
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="forecast-unknown"))
    page = client.get("/analysis/forecast?street=999999999", headers=EN)
    assert page.status_code == 404
    assert "<!doctype html>" in page.text and "no street with code" in page.text
