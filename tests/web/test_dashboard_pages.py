"""The manager dashboard over HTTP: maps, evaluation, trend and exports under one set of filters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.roles import Role
from dispatch.evaluation.grading import GroupKind
from events.models import Case
from maps.dashboard.filters import DashboardFilters, parse_filters
from maps.dashboard.service import format_figure
from maps.dashboard.trend import TrendPoint, filled_trend, nice_ceiling, trend_chart
from maps.schemas import Metric, Unit
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import COMMUNITY, DISTRICT
from tests.web.pages_support import EN, HTML, ZH, log_in

CITY = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(CITY).date()


@pytest.fixture
def seeded_case(session: Session) -> Case:
    category = add_category(session)
    add_department(session, code="HW-01")
    return add_case(session, category=category)


def signed_in(session: Session, client: TestClient, role: Role = Role.MANAGER) -> None:
    log_in(client, add_user(session, role, username=f"dash-{role}"))


def frame_urls(page: str) -> dict[str, str]:
    """Each map frame's src, by layer."""
    urls = {}
    for part in page.split('<iframe class="map-box dashboard-map" id="map-')[1:]:
        layer = part.split('"', 1)[0]
        urls[layer] = part.split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return urls


def table_row(page: str, key: str) -> list[str]:
    """The cells of the evaluation row of `key`."""
    row = page.split(f'<tr data-key="{key}">', 1)[1].split("</tr>", 1)[0]
    return [cell.split(">", 1)[1] for cell in row.replace("</th>", "</td>").split("</td>")[:-1]]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (ZH, ["管理看板", "上报热力图", "按部门的绩效评价", "每日上报与结案数", "导出"]),
        (EN, ["Dashboard", "Heatmap of reports", "Evaluation by Department", "per day", "Exports"]),
    ],
)
def test_manager_sees_maps_evaluation_trend_and_exports(
    session: Session,
    client: TestClient,
    seeded_case: Case,
    headers: dict[str, str],
    expected: list[str],
) -> None:
    signed_in(session, client)
    page = client.get("/dashboard", headers=headers)
    assert page.status_code == 200, page.text
    for text in expected:
        assert text in page.text
    # The hot spots are drawn on the page itself (large); the other two maps are framed.
    assert sorted(frame_urls(page.text)) == ["choropleth", "heatmap"]
    assert 'id="hotspot-map"' in page.text and "/dashboard/maps/hotspots.json?" in page.text
    assert '<svg id="trend-chart"' in page.text and 'id="trend-table"' in page.text
    for export in ("/api/evaluation?", "/api/cases/export?", "/maps/heatmap/csv?"):
        assert export in page.text
    for control in ("filter-from", "filter-to", "filter-category", "filter-area", "filter-by"):
        assert f'<label for="{control}">' in page.text


@pytest.mark.parametrize(
    ("role", "status_code"),
    [
        (Role.MANAGER, 200),
        (Role.DISPATCHER, 200),
        (Role.ADMIN, 200),
        (Role.DEPARTMENT, 403),
        (Role.INSPECTOR, 403),
        (Role.CITIZEN, 403),
    ],
)
def test_only_managers_dispatchers_and_admins_open_it(
    session: Session, client: TestClient, role: Role, status_code: int
) -> None:
    signed_in(session, client, role)
    assert client.get("/dashboard", headers=EN).status_code == status_code
    framed = client.get("/dashboard/maps/heatmap", headers=EN)
    assert framed.status_code == status_code


def test_without_a_session_the_dashboard_sends_to_login(client: TestClient) -> None:
    answer = client.get("/dashboard?by=street", headers=HTML, follow_redirects=False)
    assert answer.headers["location"] == "/login?next=/dashboard%3Fby%3Dstreet"


def test_the_seeded_case_is_counted_by_community_and_in_the_trend(
    session: Session, client: TestClient, seeded_case: Case
) -> None:
    signed_in(session, client)
    page = client.get("/dashboard?by=community", headers=EN).text
    assert "Evaluation by Community" in page
    row = table_row(page, COMMUNITY.code)
    assert row[:3] == [COMMUNITY.code, COMMUNITY.name, "1"]  # code, name, cases reported
    today = page.split(f'<th scope="row">{TODAY.isoformat()}</th>', 1)[1].split("</tr>")[0]
    assert today == "<td>1</td><td>0</td>"


def test_a_dispatched_case_is_counted_for_its_department(
    session: Session, client: TestClient, seeded_case: Case
) -> None:
    log_in(client, add_user(session, Role.DISPATCHER, username="clerk"))
    for action, body in (("file", {}), ("dispatch", {"department_code": "HW-01"})):
        url = f"/api/cases/{seeded_case.id}/actions/{action}"
        answer = client.post(url, json=body, headers={PAGE_HEADER: "1"})
        assert answer.status_code == 200, answer.text
    # An assignment counts in the period of its deadline, a few working days ahead at most.
    last_day = TODAY + timedelta(days=14)
    page = client.get(f"/dashboard?by=department&to={last_day}", headers=EN).text
    assert table_row(page, "HW-01")[:3] == ["HW-01", "sanitation HW-01", "1"]  # dispatched


def test_filters_reach_every_map_and_export(
    session: Session, client: TestClient, seeded_case: Case
) -> None:
    signed_in(session, client)
    query = f"from=2026-11-01&to=2026-11-20&category=01&area={DISTRICT.code}&urgency=urgent"
    page = client.get(f"/dashboard?{query}&metric=overdue&unit=street", headers=EN).text
    frames = frame_urls(page)
    hotspots = page.split('id="hotspot-map"', 1)[1].split('data-src="', 1)[1].split('"', 1)[0]
    frames["hotspots"] = hotspots.replace("&amp;", "&")
    for layer, url in frames.items():
        params = parse_qs(urlsplit(url).query)
        assert params["period_from"] == ["2026-11-01T00:00:00+08:00"], layer
        assert params["period_to"] == ["2026-11-21T00:00:00+08:00"], layer
        assert (params["category"], params["area"], params["urgency"]) == (
            ["01"],
            [DISTRICT.code],
            ["urgent"],
        )
    assert parse_qs(urlsplit(frames["choropleth"]).query)["metric"] == ["overdue"]
    assert "category_code=01&amp;area_code=110101&amp;urgency=urgent" in page
    assert 'value="2026-11-01"' in page and 'value="urgent" selected' in page


def test_invalid_filters_are_shown_beside_their_fields_in_the_users_language(
    session: Session, client: TestClient
) -> None:
    signed_in(session, client)
    query = "from=2026-11-20&to=2026-11-01&area=12&department=NOPE&by=galaxy"
    page = client.get(f"/dashboard?{query}", headers=ZH)
    assert page.status_code == 200
    text = page.text
    assert '<p class="field-error" id="to-error">结束日期不能早于开始日期。</p>' in text
    assert '<p class="field-error" id="area-error">区域代码为 6、9 或 12 位数字。</p>' in text
    assert 'id="department-error">没有此代码的部门。' in text
    assert 'id="by-error">请从选项中选择一项。' in text
    assert 'aria-describedby="area-error"' in text


def test_an_unknown_area_is_refused_beside_its_field(session: Session, client: TestClient) -> None:
    signed_in(session, client)
    page = client.get("/dashboard?area=999999", headers=EN).text
    assert "No district, street or community has this code." in page
    assert "area=999999" not in page


def test_framed_maps_may_be_framed_by_this_site_only(
    session: Session, client: TestClient, seeded_case: Case
) -> None:
    signed_in(session, client)
    for layer in ("heatmap", "choropleth", "hotspots"):
        framed = client.get(f"/dashboard/maps/{layer}", headers=EN)
        assert framed.status_code == 200, framed.text
        assert framed.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    standalone = client.get("/maps/heatmap", headers=EN)
    assert standalone.headers["x-frame-options"] == "DENY"


# Pure parts ------------------------------------------------------------------------------------

NOV_26 = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("raw", "expected", "errors"),
    [
        ({}, DashboardFilters(date(2026, 10, 28), NOV_26), set()),
        (
            {"from": "2026-11-01", "to": "2026-11-02", "by": "street", "metric": "overdue"},
            DashboardFilters(
                date(2026, 11, 1), date(2026, 11, 2), by=GroupKind.STREET, metric=Metric.OVERDUE
            ),
            set(),
        ),
        (
            {"category": " 0102 ", "area": "110101001", "urgency": "urgent", "unit": "street"},
            DashboardFilters(
                date(2026, 10, 28), NOV_26, "0102", "110101001", urgency="urgent", unit=Unit.STREET
            ),
            set(),
        ),
        ({"from": "yesterday"}, DashboardFilters(date(2026, 10, 28), NOV_26), {"from"}),
        (
            {"from": "2026-11-20", "to": "2026-11-01"},
            DashboardFilters(date(2026, 10, 28), NOV_26),
            {"to"},
        ),
        (
            {"from": "2025-01-01", "to": "2026-11-01"},
            DashboardFilters(date(2026, 10, 28), NOV_26),
            {"to"},
        ),
        (
            {"category": "01-02", "area": "1101", "urgency": "soon", "by": "inspector"},
            DashboardFilters(date(2026, 10, 28), NOV_26),
            {"category", "area", "urgency", "by"},
        ),
    ],
)
def test_parse_filters(raw: dict[str, str], expected: DashboardFilters, errors: set[str]) -> None:
    parsed = parse_filters(raw, NOV_26)
    assert parsed.filters == expected
    assert set(parsed.errors) == errors


@pytest.mark.parametrize(
    ("first", "last", "step"),
    [
        (NOV_26, NOV_26, "day"),
        (date(2026, 9, 26), NOV_26, "day"),
        (date(2026, 9, 1), NOV_26, "week"),
    ],
)
def test_trend_step(first: date, last: date, step: str) -> None:
    assert DashboardFilters(first, last).trend_step() == step


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (5, 5), (7, 10), (11, 20), (480, 500), (501, 1000)],
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_trend_chart_places_the_points_between_the_margins() -> None:
    points = [
        TrendPoint(NOV_26 + timedelta(days=i), reports, i) for i, reports in enumerate([0, 5, 2])
    ]
    chart = trend_chart(points)
    assert chart.y_max == 5
    assert chart.reports_points == "32.0,188.0 320.0,32.0 608.0,125.6"
    assert chart.closures_points == "32.0,188.0 320.0,156.8 608.0,125.6"
    assert [label for _, label in chart.labels] == ["11-26", "11-27", "11-28"]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("handling_rate", 0.8766, "87.7%"),
        ("handled", 3, "3"),
        ("score", 71.25, "71.2"),
        ("score", None, "—"),
    ],
)
def test_format_figure(name: str, value: float | None, shown: str) -> None:
    assert format_figure(name, value) == shown


@pytest.mark.parametrize(
    ("first", "last", "step", "starts"),
    [
        (NOV_26, NOV_26, "day", [NOV_26]),
        (date(2026, 11, 24), NOV_26, "day", [date(2026, 11, 24), date(2026, 11, 25), NOV_26]),
        # Thursday 26 November is in the week from Monday 23; Monday 30 starts the next one.
        (NOV_26, date(2026, 11, 30), "week", [date(2026, 11, 23), date(2026, 11, 30)]),
        (date(2026, 11, 23), date(2026, 11, 29), "week", [date(2026, 11, 23)]),
    ],
)
def test_filled_trend_has_every_bucket(
    first: date, last: date, step: str, starts: list[date]
) -> None:
    counts = {starts[-1]: (4, 2)}
    points = filled_trend(counts, first, last, step)
    assert [point.start for point in points] == starts
    assert [(p.reports, p.closures) for p in points] == [(0, 0)] * (len(starts) - 1) + [(4, 2)]
