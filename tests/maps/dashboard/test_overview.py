"""The command centre's overview at /dashboard: tiles for today, this month and now against the
period before, top categories and streets, each linking to its case list; and the large hot-spot
map's data. Cases are seeded at the middle of the city's today and yesterday-up-to-now, so the
figures hold at any time of day."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from maps.dashboard.overview import Window, comparisons, snapshot_before
from tests.maps.city import EAST_STREET, WEST_STREET, cell_code, seed_city, two_minor_categories

Auth = Callable[[Role], dict[str, str]]
CITY = ZoneInfo(get_settings().city_time_zone)
TILE = re.compile(
    r'<a class="tile" href="([^"]+)" data-tile="(\w+)">\s*<span class="tile-label">([^<]+)</span>'
    r'\s*<strong class="tile-value">([^<]+)</strong>'
    r'(?:\s*<span class="tile-change (\w+)">([^<]+)</span>)?'
)


@dataclass(frozen=True)
class Moments:
    """The windows the page counts (from the same clock) and a time inside each."""

    now: datetime
    today: Window
    yesterday: Window
    month: Window
    last_month: Window

    @property
    def mid_today(self) -> datetime:
        return self.today.start + (self.now - self.today.start) / 2

    @property
    def mid_yesterday(self) -> datetime:
        return self.yesterday.start + (self.yesterday.end - self.yesterday.start) / 2

    @property
    def two_days_ago(self) -> datetime:
        return self.yesterday.start - timedelta(hours=23)


def moments() -> Moments:
    now = datetime.now(UTC)
    today, month = comparisons(now, CITY)
    return Moments(now, today.current, today.previous, month.current, month.previous)


@dataclass
class Seeded:
    at: Moments
    west_category: str
    east_category: str
    times: list[dict[str, datetime | None]] = field(default_factory=list)


def add_case(session: Session, seeded: Seeded, cell: tuple[int, int], status: str,
             category: str | None = None, **times: datetime | None) -> None:  # fmt: skip
    """A case in the test city with its times (and an assignment when dispatched)."""
    columns = ("created_at", "filed_at", "dispatched_at", "due_at", "handled_at", "closed_at")
    values = {name: times.get(name) for name in columns}
    case_id = session.scalar(
        text(
            "INSERT INTO event_case (number, status, category_id, description, geom, cell_id, "
            "department_id, created_at, filed_at, dispatched_at, due_at, handled_at, closed_at) "
            "SELECT 'O' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 19), :status, "
            "(SELECT id FROM category WHERE code = :category AND kind = 'event' LIMIT 1), "
            "'overview test', ST_PointOnSurface(c.geom), c.id, "
            "CASE WHEN CAST(:dispatched_at AS timestamptz) IS NOT NULL "
            "THEN (SELECT id FROM department WHERE code = 'OV-01') END, "
            ":created_at, :filed_at, :dispatched_at, :due_at, :handled_at, :closed_at "
            "FROM grid_cell c WHERE c.code = :cell RETURNING id"
        ),
        {"status": status, "category": category or seeded.west_category,
         "cell": cell_code(cell), **values},
    )  # fmt: skip
    if values["dispatched_at"] is not None:
        session.execute(
            text(
                "INSERT INTO case_assignment (case_id, department_id, dispatched_at, due_at, "
                "handled_at) SELECT :case_id, id, :dispatched_at, :due_at, :handled_at "
                "FROM department WHERE code = 'OV-01'"
            ),
            {"case_id": case_id, **values},
        )
    seeded.times.append(values)


@pytest.fixture
def seeded(session: Session) -> Seeded:
    """Nine cases in the west street (see the figures in the tests) and one in the east."""
    seed_city(session)
    session.add(Department(code="OV-01", name="环卫所", kind="sanitation"))
    session.flush()
    (_, west, _), (_, east, _) = two_minor_categories(session)
    at = moments()
    s = Seeded(at, west, east)
    today, yesterday, old = at.mid_today, at.mid_yesterday, at.two_days_ago
    add_case(session, s, (1, 1), "reported", created_at=today)
    add_case(session, s, (1, 2), "reported", created_at=today)
    add_case(session, s, (1, 3), "filed", created_at=today, filed_at=today)
    add_case(session, s, (1, 4), "dispatched", created_at=today, filed_at=today,
             dispatched_at=today, due_at=at.now + timedelta(hours=4))  # fmt: skip
    # Closed today: late (and overdue this time yesterday), and on time.
    late = at.yesterday.start - timedelta(hours=1)
    add_case(session, s, (2, 1), "closed", created_at=old, filed_at=old, dispatched_at=old,
             due_at=late, handled_at=today, closed_at=today)  # fmt: skip
    add_case(session, s, (2, 2), "closed", created_at=old, filed_at=old, dispatched_at=old,
             due_at=at.now + timedelta(days=1), handled_at=today, closed_at=today)  # fmt: skip
    # Yesterday: one filed and still waiting, one dispatched and closed on time.
    add_case(session, s, (3, 1), "filed", created_at=yesterday, filed_at=yesterday)
    add_case(session, s, (3, 2), "closed", created_at=yesterday, filed_at=yesterday,
             dispatched_at=yesterday, due_at=at.now + timedelta(days=1),
             handled_at=yesterday, closed_at=yesterday)  # fmt: skip
    # Overdue now (not yet this time yesterday).
    add_case(session, s, (4, 1), "accepted", created_at=old, filed_at=old, dispatched_at=old,
             due_at=at.now - timedelta(hours=2))  # fmt: skip
    # Another category in the east street, reported today.
    add_case(session, s, (5, 15), "reported", s.east_category, created_at=today)
    session.flush()
    return s


def dashboard(client: TestClient, auth: Auth, language: str = "zh-CN", **params: str) -> str:
    headers = {**auth(Role.MANAGER), "Accept": "text/html", "Accept-Language": language}
    response = client.get("/dashboard", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.text)


@dataclass(frozen=True)
class ShownTile:
    href: str
    label: str
    value: str
    trend: str | None
    change: str | None


def tiles(page: str, group: str) -> dict[str, ShownTile]:
    """The tiles of one group (today, month, now) by name."""
    section = page.split(f'id="tiles-{group}"', 1)[1].split("</div>\n  </div>", 1)[0]
    return {
        name: ShownTile(html.unescape(href), label, value, trend, change)
        for href, name, label, value, trend, change in TILE.findall(section)
    }


def query_of(href: str) -> dict[str, list[str]]:
    parts = urlsplit(href)
    assert parts.path == "/cases"
    return parse_qs(parts.query)


def in_window(moment: datetime | None, window: Window) -> bool:
    return moment is not None and window.start <= moment < window.end


def test_today_against_yesterday_at_this_time(
    client: TestClient, auth: Auth, seeded: Seeded
) -> None:
    today = tiles(dashboard(client, auth), "today")
    shown = {name: (tile.value, tile.change) for name, tile in today.items()}
    assert shown == {
        "reported": ("5", "较昨日同一时刻 +3"),
        "filed": ("2", "较昨日同一时刻 ±0"),
        "dispatched": ("1", "较昨日同一时刻 ±0"),
        "closed": ("2", "较昨日同一时刻 +1"),
        "on_time_rate": ("50.0%", "较昨日同一时刻 −50.0 个百分点"),
    }
    assert [tile.label for tile in today.values()] == ["上报数", "立案数", "派遣数", "结案数",
                                                        "按时处置率"]  # fmt: skip
    assert (today["closed"].trend, today["on_time_rate"].trend) == ("better", "worse")
    assert today["reported"].trend == "neutral"


def test_now_against_this_time_yesterday(client: TestClient, auth: Auth, seeded: Seeded) -> None:
    now = tiles(dashboard(client, auth), "now")
    assert (now["waiting"].label, now["waiting"].value) == ("待派遣", "2")
    assert (now["waiting"].change, now["waiting"].trend) == ("较昨日此时 +1", "worse")
    assert (now["overdue"].label, now["overdue"].value) == ("当前超时", "1")
    assert now["overdue"].change == "较昨日此时 ±0"  # one late case closed, one fell due


def test_this_month_against_last_month(client: TestClient, auth: Auth, seeded: Seeded) -> None:
    at = seeded.at
    month = tiles(dashboard(client, auth), "month")
    for name, column in (("reported", "created_at"), ("filed", "filed_at"),
                         ("dispatched", "dispatched_at"), ("closed", "closed_at")):  # fmt: skip
        expected = sum(in_window(times[column], at.month) for times in seeded.times)
        before = sum(in_window(times[column], at.last_month) for times in seeded.times)
        assert month[name].value == str(expected), name
        difference = expected - before
        change = f"{'+' if difference > 0 else '−'}{abs(difference)}" if difference else "±0"
        assert month[name].change == f"较上月同期 {change}", name


def test_every_tile_links_to_the_cases_behind_it(
    client: TestClient, auth: Auth, seeded: Seeded
) -> None:
    page = dashboard(client, auth)
    today, month, now = tiles(page, "today"), tiles(page, "month"), tiles(page, "now")
    midnight = seeded.at.today.start.isoformat()
    assert midnight.endswith("T00:00:00+08:00")
    assert query_of(today["reported"].href) == {"created_from": [midnight], "sort": ["-created_at"]}
    assert query_of(today["filed"].href) == {"filed_from": [midnight]}
    assert query_of(today["dispatched"].href) == {"dispatched_from": [midnight]}
    assert query_of(today["closed"].href) == {"status": ["closed"], "closed_from": [midnight]}
    assert query_of(today["on_time_rate"].href) == query_of(today["closed"].href)
    first = seeded.at.month.start.isoformat()
    assert first.endswith("-01T00:00:00+08:00")
    assert query_of(month["closed"].href) == {"status": ["closed"], "closed_from": [first]}
    assert query_of(now["overdue"].href) == {"overdue": ["true"], "sort": ["due_at"]}
    assert query_of(now["waiting"].href) == {"status": ["filed,returned"], "sort": ["created_at"]}
    # The brief's form of a link: a + in the offset is escaped.
    assert "closed_from=" + midnight.replace(":", "%3A").replace("+", "%2B") in page


def test_filters_narrow_the_tiles_and_follow_their_links(
    client: TestClient, auth: Auth, seeded: Seeded
) -> None:
    east = tiles(dashboard(client, auth, area=EAST_STREET), "today")
    assert east["reported"].value == "1" and east["closed"].value == "0"
    assert query_of(east["closed"].href)["area_code"] == [EAST_STREET]
    urgent = tiles(dashboard(client, auth, urgency="urgent", category=seeded.west_category), "now")
    assert urgent["waiting"].value == "0"
    assert query_of(urgent["waiting"].href)["urgency"] == ["urgent"]
    assert query_of(urgent["waiting"].href)["category_code"] == [seeded.west_category]


def test_top_categories_and_streets_of_the_month(
    client: TestClient, auth: Auth, seeded: Seeded
) -> None:
    page = dashboard(client, auth)
    at = seeded.at
    west = sum(in_window(t["created_at"], at.month) for t in seeded.times) - 1  # one is east
    rows = re.findall(
        r'<tr data-code="(\w+)"><td>(\d+)</td><th scope="row"><a href="([^"]+)">([^<]+)</a></th>'
        r"\s*<td>([\d,]+)</td><td>([^<]+)</td></tr>",
        page.split('id="top-streets"', 1)[1].split("</table>", 1)[0],
    )
    assert [(code, rank, int(count)) for code, rank, _, _, count, _ in rows] == [
        (WEST_STREET, "1", west), (EAST_STREET, "2", 1)]  # fmt: skip
    assert rows[0][3] == f"street {WEST_STREET}"
    link = query_of(html.unescape(rows[0][2]))
    assert link == {"area_code": [WEST_STREET], "created_from": [at.month.start.isoformat()]}
    categories = page.split('id="top-categories"', 1)[1].split("</table>", 1)[0]
    codes = re.findall(r'<tr data-code="(\w+)">', categories)
    assert codes == [seeded.west_category, seeded.east_category]
    assert f"category_code={seeded.west_category}" in categories
    assert f">{seeded.west_category} " in categories  # the label: code and Chinese name


def test_the_overview_speaks_english_too(client: TestClient, auth: Auth, seeded: Seeded) -> None:
    page = dashboard(client, auth, "en")
    today = tiles(page, "today")
    assert today["reported"].label == "Cases reported"
    assert today["reported"].change == "+3 than yesterday at this time"
    assert tiles(page, "now")["waiting"].label == "Waiting for dispatch"
    assert "Most reported streets this month" in page


def test_the_page_says_its_time_in_city_time(
    client: TestClient, auth: Auth, seeded: Seeded
) -> None:
    page = dashboard(client, auth)
    shown = re.search(r"截至 (\d{4}-\d\d-\d\d \d\d:\d\d)（本市时间）", page)
    assert shown is not None
    as_of = datetime.strptime(shown[1], "%Y-%m-%d %H:%M").replace(tzinfo=CITY)
    assert abs(as_of - seeded.at.now) < timedelta(minutes=2)
    first = seeded.at.month.start.astimezone(CITY)
    assert f"自 {first:%Y-%m-%d} 00:00 起" in page


def test_the_hot_spot_map_is_drawn_by_the_page_from_its_data(
    client: TestClient, auth: Auth, planted_city: int
) -> None:
    page = dashboard(client, auth, **{"from": "2026-11-01", "to": "2026-11-19"})
    assert '<div id="hotspot-map" class="hotspot-map"' in page
    assert 'id="map-hotspots"' not in page  # no longer a framed thumbnail
    for script in ("/maps/assets/leaflet/leaflet.js", "/static/maps/dashboard.js"):
        assert f'<script src="{script}"></script>' in page
    source = html.unescape(page.split('data-src="', 1)[1].split('"', 1)[0])
    assert parse_qs(urlsplit(source).query)["period_from"] == ["2026-11-01T00:00:00+08:00"]
    headers = {**auth(Role.MANAGER), "Accept-Language": "zh-CN"}
    data = client.get(source, headers=headers).json()
    cells = data["cells"]["features"]
    assert cells and all(f["properties"]["colour"].startswith("#") for f in cells)
    classes = {f["properties"]["class"] for f in cells}
    assert "热点（置信度 99%）" in classes and "不显著" not in classes  # significant cells only
    assert data["legend"][0] == ["#b2182b", "热点（置信度 99%）"]
    assert data["description"].startswith("2026-11-01 00:00 – 2026-11-20 00:00")
    assert data["fields"] == {"count": "上报数", "class": "冷热点类型", "trend": "趋势"}


def test_snapshot_moment_is_this_time_yesterday() -> None:
    now = datetime(2026, 12, 6, 2, 34, tzinfo=UTC)  # 10:34 in the city
    assert snapshot_before(now, CITY) == datetime(2026, 12, 5, 10, 34, tzinfo=CITY)


def city(moment: str) -> datetime:
    """A wall-clock time in the city, "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(moment, "%Y-%m-%d %H:%M").replace(tzinfo=CITY)


@pytest.mark.parametrize(
    ("now", "yesterday", "last_month"),
    [
        ("2026-12-06 10:34", "2026-12-05", ("2026-11-01", "2026-11-06 10:34")),
        ("2026-03-31 23:05", "2026-03-30", ("2026-02-01", "2026-02-28 23:05")),
        ("2026-01-01 00:20", "2025-12-31", ("2025-12-01", "2025-12-01 00:20")),
        ("2028-03-30 08:00", "2028-03-29", ("2028-02-01", "2028-02-29 08:00")),
    ],
)
def test_periods_are_city_days_and_months(
    now: str, yesterday: str, last_month: tuple[str, str]
) -> None:
    today, month = comparisons(city(now).astimezone(UTC), CITY)
    assert today.current == Window(city(now[:10] + " 00:00"), city(now))
    assert today.previous == Window(city(yesterday + " 00:00"), city(yesterday + now[10:]))
    assert month.current.start == city(now[:8] + "01 00:00")
    assert month.previous == Window(city(last_month[0] + " 00:00"), city(last_month[1]))


@pytest.mark.parametrize(
    ("role", "status_code"),
    [(Role.MANAGER, 200), (Role.DISPATCHER, 200), (Role.ADMIN, 200), (Role.DEPARTMENT, 403),
     (Role.INSPECTOR, 403), (Role.CITIZEN, 403)],
)  # fmt: skip
def test_only_map_viewers_read_the_hot_spot_data(
    client: TestClient, auth: Auth, role: Role, status_code: int
) -> None:
    assert client.get("/dashboard/maps/hotspots.json", headers=auth(role)).status_code == (
        status_code
    )
