"""The case list page (/cases) as a person uses it: search box and filters are a GET form whose
empty fields mean "any", the total is true, the pages follow by link, times are in city time,
and the page speaks the signed-in language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.events.listing.support import World, seed_world

ZH = {"Accept": "text/html", "Accept-Language": "zh-CN"}
EN = {"Accept": "text/html", "Accept-Language": "en"}
EMPTY_FORM = (
    "status=&category_code=&area_code=&area_code=&department_code=&urgency=&light=&channel="
    "&created_from=&created_to="
)


@pytest.fixture
def world(session: Session) -> World:
    seeded = seed_world(session)
    seeded.cases["c3"].address = "东城区东四北大街 12 号"
    session.flush()
    return seeded


def get(client: TestClient, world: World, url: str, who: str = "manager", **headers: str) -> str:
    response = client.get(url, headers={**ZH, **headers, **world.headers(who)})
    assert response.status_code == 200, response.text
    return str(response.text)


def listed_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-case-id="(\d+)"', page)]


def test_a_manager_finds_a_case_by_its_number_and_opens_it_from_the_list(
    client: TestClient, world: World
) -> None:
    c3 = world.cases["c3"]
    page = get(client, world, f"/cases?q={c3.number}&{EMPTY_FORM}")
    assert listed_ids(page) == [c3.id]
    assert f'<a href="/cases/{c3.id}">{c3.number}</a>' in page
    assert "共 1 件" in page


def test_chinese_address_words_find_the_case(client: TestClient, world: World) -> None:
    page = get(client, world, f"/cases?q=东四北大街&{EMPTY_FORM}")
    assert listed_ids(page) == [world.cases["c3"].id]


def test_the_list_is_newest_first_with_a_true_total_and_times_in_city_time(
    client: TestClient, world: World
) -> None:
    page = get(client, world, "/cases")
    expected = sorted(world.cases.values(), key=lambda case: case.created_at, reverse=True)
    assert listed_ids(page) == [case.id for case in expected]
    assert "共 6 件" in page
    # c1 was reported on 1 January 2026 at 08:00 UTC: 16:00 in Beijing.
    assert "2026-01-01 16:00" in page and "2026-01-01 08:00" not in page


def test_pages_follow_by_their_links_without_gaps(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.listing.pages.PAGE_SIZE_DEFAULT", 4)
    first = get(client, world, "/cases?status=&q=")
    following = re.search(r'href="(/cases\?[^"]*)" rel="next"', first)
    assert following is not None and "status=" not in following.group(1)
    second = get(client, world, following.group(1).replace("&amp;", "&"))
    assert 'rel="first"' in second and 'rel="next"' not in second
    assert len(listed_ids(first)) == 4 and len(listed_ids(second)) == 2
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))


def test_filters_stay_in_the_url_and_in_the_form(client: TestClient, world: World) -> None:
    page = get(client, world, "/cases?status=closed&category_code=0201")
    assert listed_ids(page) == [world.cases["c4"].id]
    assert '<option value="closed" selected>' in page
    assert re.search(r'<option value="0201" selected>', page)


def test_the_narrower_of_street_and_community_applies(client: TestClient, world: World) -> None:
    page = get(client, world, "/cases?area_code=110101001&area_code=110101001001")
    assert world.cases["c6"].id not in listed_ids(page)  # c6 lies in another street
    assert listed_ids(page)


def test_picked_dates_are_city_days(client: TestClient, world: World, session: Session) -> None:
    c1 = world.cases["c1"]
    c1.created_at = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)  # 2 January 01:00 in Beijing
    session.flush()
    page = get(client, world, "/cases?created_from=2026-01-02&created_to=2026-01-02")
    assert listed_ids(page) == [c1.id]


def test_a_bad_filter_is_an_error_page_naming_the_field(client: TestClient, world: World) -> None:
    response = client.get("/cases?light=purple", headers={**EN, **world.headers("manager")})
    assert response.status_code == 422
    assert "light" in response.text


def test_the_page_speaks_english_when_asked(client: TestClient, world: World) -> None:
    page = get(client, world, "/cases", **EN)
    assert "6 cases in all" in page and "Newest first" in page


def test_inspectors_have_their_own_lists_not_this_one(client: TestClient, world: World) -> None:
    response = client.get("/cases", headers={**ZH, **world.headers("inspector")})
    assert response.status_code == 403


def test_a_department_lists_only_its_cases(client: TestClient, world: World) -> None:
    member = next(name for name, user in world.users.items() if user.department_id is not None)
    page = get(client, world, "/cases", who=member)
    department_id = world.users[member].department_id
    held = {case.id for case in world.cases.values() if case.department_id == department_id}
    assert set(listed_ids(page)) <= held | {world.cases["c5"].id}
    assert listed_ids(page)
