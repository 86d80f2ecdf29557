"""The listing's search box (`q`) and keyset paging (`after`) through GET /api/cases: a case is
found by number, report UUID, cell code, category code or name, and Chinese words of its address
or description; pages follow each other without gaps or repeats in every sort; a bad cursor is a
422 naming `after`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from events.listing import service as listing_service
from events.listing.schemas import CaseSort
from events.listing.search import parse_search, search_key, search_trigrams
from events.listing.service import search_condition, search_text, text_condition
from events.models import Case, Report
from tests.events.listing.support import World, seed_world
from tests.grid.places import CELL_NE


@pytest.fixture
def world(session: Session) -> World:
    seeded = seed_world(session)
    seeded.cases["c3"].address = "东城区东四北大街 12 号"
    seeded.cases["c3"].description = "井盖破损，行人绊倒 broken manhole"
    seeded.cases["c6"].description = "王府井大街路灯不亮"
    session.flush()
    return seeded


def found(client: TestClient, world: World, query: str, **params: Any) -> set[str]:
    response = client.get(
        "/api/cases", params={"q": query, **params}, headers=world.headers("dispatcher")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return set(world.names(body))


def test_the_search_key_in_python_spells_like_the_database_function(session: Session) -> None:
    for sample in ("王府井大街 12号", "Broken_Manhole 100%", "𠀋 emoji 🙂 ，。", "", "ab"):
        in_database = session.scalar(text("SELECT case_search_key(:t)"), {"t": sample})
        assert in_database == search_key(sample)
        # A query's trigrams are pg_trgm's of its key, less the padded ones of the words' ends.
        of_key = session.scalar(text("SELECT show_trgm(case_search_key(:t))"), {"t": sample})
        assert search_trigrams(sample) == sorted(t for t in of_key if " " not in t)


# Texts and queries on which the indexed search must agree with a plain ILIKE: Chinese and
# ASCII, case, digits, punctuation, a phrase across the address and the description, words
# whose trigrams all occur but apart, and queries shorter than a trigram.
VARIED_TEXTS = (
    ("东城区东四北大街 12 号", "井盖破损，行人绊倒 broken manhole"),
    ("王府井大街 150号", "路灯不亮，夜间照明不足"),
    ("东四北大街 150号", "路边垃圾堆积，无人清理 Rubbish"),
    (None, "共享单车乱停放堵住人行道 (12号楼)"),
    ("前门大街 1号", "北大街的井盖 MANHOLE-12"),
    ("朝阳门内大街 30号", "大街东四北 号150 墙面乱贴小广告"),
)
VARIED_QUERIES = (
    "东四北大街", "东四北大街 150号", "150号", "12 号", "大街", "井盖破损", "井", "王府井",
    "manhole", "MANHOLE-12", "Rubbish", "号 井盖", "12号楼", "(12", "北大街的", "bro", "b",
    "150", "50", "东四北 号", "1号", "， 无人", "西直门",
)  # fmt: skip


def test_the_indexed_search_finds_what_a_plain_ilike_finds(session: Session, world: World) -> None:
    """The exact trigram index (array containment, no recheck) and ILIKE alone agree, the index
    really read (sequential scans off)."""
    cases = [world.cases[name] for name in ("c1", "c2", "c3", "c4", "c5", "c6")]
    for case, (address, description) in zip(cases, VARIED_TEXTS, strict=True):
        case.address, case.description = address, description
    session.flush()
    session.execute(text("SET LOCAL enable_seqscan = off"))
    ids = {case.id for case in cases}
    for query in VARIED_QUERIES:
        indexed = set(session.scalars(select(Case.id).where(text_condition(query)))) & ids
        plain = set(
            session.scalars(select(Case.id).where(search_text().icontains(query, autoescape=True)))
        )
        assert indexed == plain & ids, query
    east_four = select(Case.id).where(text_condition("东四北大街"))
    assert set(session.scalars(east_four)) & ids == {cases[0].id, cases[2].id}
    assert search_trigrams("井") and not search_trigrams("b")


def test_a_case_is_found_by_chinese_words_of_its_address_or_description(
    client: TestClient, world: World
) -> None:
    assert found(client, world, "东四北大街") == {"c3"}
    assert found(client, world, "12 号") == {"c3"}
    assert found(client, world, "井盖破损") == {"c3"}
    assert found(client, world, "王府井") == {"c6"}
    assert found(client, world, "路灯") == {"c6"}
    assert found(client, world, "BROKEN manhole") >= {"c3"}
    assert found(client, world, "西直门") == set()


def test_a_search_for_text_uses_the_trigram_index(session: Session, world: World) -> None:
    """The listing's own statement (its LIKE with an ESCAPE clause) reads the index."""
    terms = parse_search("王府井")
    assert terms is not None
    statement = select(Case.id).where(search_condition(terms))
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(session.scalars(text(f"EXPLAIN {compiled}")))
    assert "ix_event_case_search" in plan


def test_a_case_is_found_by_number_report_uuid_cell_code_and_category(
    client: TestClient, world: World, session: Session
) -> None:
    c3 = world.cases["c3"]
    assert found(client, world, c3.number) == {"c3"}
    report_uuid = session.scalar(select(Report.report_uuid).where(Report.case_id == c3.id))
    assert found(client, world, str(report_uuid)) == {"c3"}
    assert found(client, world, CELL_NE.code) == {"c2", "c5"}
    assert found(client, world, "0201") == {"c3", "c4", "c6"}
    assert found(client, world, "井盖") == {"c3", "c4", "c6"}  # the category's name
    assert found(client, world, "Manhole cover") == {"c3", "c4", "c6"}


def test_a_common_query_pages_newest_first_with_the_same_answers(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SEARCH_IDS_MAX matches a query newest first is counted through its index and paged
    by a walk of the newest cases (its readings tested row by row): the same cases, the same
    totals, page by page."""
    queries = ("东四北大街", "井盖", "0201", "路灯", CELL_NE.code, world.cases["c3"].number)
    expected = {query: found(client, world, query) for query in queries}
    monkeypatch.setattr(listing_service, "SEARCH_IDS_MAX", 0)
    for query in queries:
        assert found(client, world, query) == expected[query], query
    headers = world.headers("dispatcher")
    params: dict[str, Any] = {"q": "井盖", "page_size": 1, "sort": "-created_at"}
    walked: list[str] = []
    while True:
        body = client.get("/api/cases", params=params, headers=headers).json()
        assert body["total"] == 3
        walked += world.names(body)
        if body["next_cursor"] is None:
            break
        params["after"] = body["next_cursor"]
    assert set(walked) == expected["井盖"] and len(walked) == 3


def test_common_trigrams_are_left_to_the_ilike_with_the_same_answers(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    """Trigrams most cases have are not asked of the index (the statistics say which); the
    answers stay those of every trigram, and the least common trigram is always asked."""
    queries = ("东四北大街", "12 号", "井盖破损", "路灯", "BROKEN manhole")
    expected = {query: found(client, world, query) for query in queries}

    def all_but_the_first_common(_: Session, trigrams: list[str]) -> dict[str, float]:
        return {trigram: 0.5 + n / 100 for n, trigram in enumerate(trigrams)}

    monkeypatch.setattr(listing_service, "trigram_shares", all_but_the_first_common)
    for query in queries:
        assert found(client, world, query) == expected[query], query
    terms = parse_search("井盖破损")
    assert terms is not None
    asked = listing_service.narrowed(session, terms).trigrams
    assert asked is not None and list(asked) == search_trigrams("井盖破损")[:1]


def test_search_combines_with_the_other_filters(client: TestClient, world: World) -> None:
    assert found(client, world, "0201", status="closed") == {"c4"}


def test_wildcards_in_the_query_are_plain_characters(client: TestClient, world: World) -> None:
    assert found(client, world, "%") == set()
    assert found(client, world, "_") == set()


def test_a_query_over_100_characters_is_refused_naming_q(client: TestClient, world: World) -> None:
    response = client.get("/api/cases", params={"q": "街" * 101}, headers=world.headers("admin"))
    assert response.status_code == 422
    assert "q" in response.text


def test_queries_are_read_every_way_their_shape_allows() -> None:
    terms = parse_search("  110101001001 ")
    assert terms is not None
    assert terms.area_code == "110101001001" and terms.text == "110101001001"
    assert terms.category_code is None
    number = parse_search("20261206-000123")
    assert number is not None and number.number == "20261206-000123"
    assert parse_search("   ") is None


def pages(client: TestClient, world: World, sort: str, page_size: int) -> list[list[str]]:
    """Every page of the dispatcher's listing in this sort, by following next_cursor."""
    params: dict[str, Any] = {"sort": sort, "page_size": page_size}
    seen: list[list[str]] = []
    while True:
        response = client.get("/api/cases", params=params, headers=world.headers("dispatcher"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 6
        seen.append(world.names(body))
        if body["next_cursor"] is None:
            return seen
        params["after"] = body["next_cursor"]


@pytest.mark.parametrize("sort", [sort.value for sort in CaseSort])
def test_keyset_pages_follow_each_other_without_gaps_or_repeats(
    client: TestClient, world: World, sort: str
) -> None:
    whole = client.get(
        "/api/cases", params={"sort": sort, "page_size": 50}, headers=world.headers("dispatcher")
    )
    expected = world.names(whole.json())
    for page_size in (1, 2, 4):
        followed = pages(client, world, sort, page_size)
        assert [name for page in followed for name in page] == expected
        assert all(len(page) == page_size for page in followed[:-1])


def test_urgency_sort_puts_urgent_cases_first_then_the_newest(
    client: TestClient, world: World
) -> None:
    response = client.get(
        "/api/cases", params={"sort": "urgency"}, headers=world.headers("dispatcher")
    )
    names = world.names(response.json())
    assert names[0] == "c2"
    assert names[1:] == ["c6", "c5", "c4", "c3", "c1"]


@pytest.mark.parametrize("cursor", ["garbage", "e30", "W10", "x" * 401])
def test_a_bad_cursor_is_refused_naming_after(
    client: TestClient, world: World, cursor: str
) -> None:
    response = client.get("/api/cases", params={"after": cursor}, headers=world.headers("admin"))
    assert response.status_code == 422
    assert "after" in response.text


def test_a_cursor_of_another_sort_is_refused(client: TestClient, world: World) -> None:
    first = client.get(
        "/api/cases", params={"page_size": 2, "sort": "due_at"}, headers=world.headers("admin")
    ).json()
    response = client.get(
        "/api/cases",
        params={"after": first["next_cursor"], "sort": "-created_at"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert "after" in response.text


def test_page_and_after_together_are_refused(client: TestClient, world: World) -> None:
    first = client.get("/api/cases", params={"page_size": 2}, headers=world.headers("admin"))
    response = client.get(
        "/api/cases",
        params={"after": first.json()["next_cursor"], "page": 2},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("light", "expected"), [("red", {"c2"}), ("yellow", set()), ("green", {"c6"})]
)
def test_the_light_filter(
    client: TestClient, world: World, session: Session, light: str, expected: set[str]
) -> None:
    world.cases["c6"].status = "dispatched"  # due tomorrow: green
    session.flush()
    response = client.get("/api/cases", params={"light": light}, headers=world.headers("admin"))
    assert set(world.names(response.json())) == expected


def test_the_channel_filter_reads_the_first_report(client: TestClient, world: World) -> None:
    response = client.get(
        "/api/cases", params={"channel": "hotline"}, headers=world.headers("admin")
    )
    assert world.names(response.json()) == []
    response = client.get("/api/cases", params={"channel": "app"}, headers=world.headers("admin"))
    assert len(world.names(response.json())) == 6


@pytest.mark.parametrize("gathered_at_most", [1, 5_000])
def test_a_search_pages_and_counts_alike_whether_its_matches_are_gathered_or_counted(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch, gathered_at_most: int
) -> None:
    monkeypatch.setattr("events.listing.service.SEARCH_IDS_MAX", gathered_at_most)
    params: dict[str, Any] = {"q": "0201", "page_size": 2, "sort": "-created_at"}
    first = client.get("/api/cases", params=params, headers=world.headers("dispatcher")).json()
    assert first["total"] == 3 and world.names(first) == ["c6", "c4"]
    params["after"] = first["next_cursor"]
    second = client.get("/api/cases", params=params, headers=world.headers("dispatcher")).json()
    assert second["total"] == 3 and world.names(second) == ["c3"]
