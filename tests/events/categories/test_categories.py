"""Categories through HTTP as each role, the taxonomy loader and `citygrid taxonomy load`.

The test database holds the shipped taxonomy (loaded once by the engine fixture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from events.categories.service import LoadCounts, load_taxonomy
from events.models import Case, Category
from events.taxonomy import STANDARD_2013, STANDARD_2026, parse_taxonomy, read_taxonomy
from tests.citygrid.refusals import refusal_text, refused_field
from tests.events.seed import add_case

Auth = Callable[[Role], dict[str, str]]
SHIPPED_TOTAL = 165
NON_ADMIN_ROLES = [role for role in Role if role is not Role.ADMIN]
SMALL_TAXONOMY = """
major_categories:
- {kind: event, code: '05', standard: GB/T 47678.5-2026, zh: 街面秩序, en: Street order}
- {kind: component, code: '31', zh: 测试部件, en: Test components}
events:
- {code: '05001', zh: 流动摊贩, en: Street pedlar, default_limit_wh: 2}
components:
- {code: '3101', zh: 测试井盖, en: Test manhole cover, default_limit_wh: 6, code_provenance: single}
"""


def search(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = client.get("/api/categories", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def codes(page: dict[str, Any]) -> list[str]:
    return [item["code"] for item in page["items"]]


def category_id(session: Session, kind: str, code: str, standard: str = STANDARD_2013) -> int:
    found = session.scalar(
        select(Category.id).where(
            Category.kind == kind, Category.code == code, Category.standard == standard
        )
    )
    assert found is not None
    return found


def row_versions(session: Session) -> dict[int, str]:
    """Each category's row version (xmin): an UPDATE changes it even when values are equal."""
    rows = session.execute(text("SELECT id, xmin::text FROM category"))
    return {row_id: xmin for row_id, xmin in rows}


# Searching: anyone, with or without a token.


@pytest.mark.parametrize("role", [None, *Role], ids=lambda role: str(role or "anonymous"))
def test_anyone_searches_by_code_prefix(client: TestClient, auth: Auth, role: Role | None) -> None:
    page = search(client, auth(role) if role else None, q="0101", page_size=500)
    assert sorted(codes(page)) == ["0101", "0101"]  # a component and an event share the code
    assert {item["kind"] for item in page["items"]} == {"component", "event"}


def test_search_by_chinese_name_substring(client: TestClient) -> None:
    page = search(client, q="井盖", page_size=500)
    assert "上水井盖" in [item["name_zh"] for item in page["items"]]
    assert all("井盖" in item["name_zh"] for item in page["items"])
    assert page["total"] >= 14


@pytest.mark.parametrize("q", ["MANHOLE COVER", "manhole cover", "Manhole"])
def test_search_by_english_name_ignores_case(client: TestClient, q: str) -> None:
    page = search(client, q=q, page_size=500)
    assert "Water-supply manhole cover" in [item["name_en"] for item in page["items"]]
    assert all("manhole" in item["name_en"].lower() for item in page["items"])


def test_like_wildcards_in_q_are_plain_characters(client: TestClient) -> None:
    assert search(client, q="%")["total"] == 0
    assert search(client, q="_")["total"] == 0


def test_filters_by_kind_and_level(client: TestClient) -> None:
    page = search(client, kind="component", level="major")
    assert codes(page) == ["01", "02", "03", "04", "05", "06", "21"]
    assert {(item["kind"], item["level"]) for item in page["items"]} == {("component", "major")}


def test_filters_by_major_and_standard(client: TestClient) -> None:
    page = search(client, kind="event", standard=STANDARD_2026, page_size=500)
    assert page["total"] == 13  # majors 06, 07, 09 and ten 5-digit minors
    assert all(len(code) in (2, 5) for code in codes(page))
    under_09 = search(client, kind="event", major="09", level="minor")
    assert codes(under_09) == ["09005", "09006"]
    parent = under_09["items"][0]["parent_id"]
    assert code_and_standard_of(parent, client) == ("09", STANDARD_2026)


def code_and_standard_of(parent_id: int, client: TestClient) -> tuple[str, str]:
    parent = client.get(f"/api/categories/{parent_id}").json()
    return parent["code"], parent["standard"]


def test_results_come_in_pages(client: TestClient) -> None:
    first = search(client, page_size=100)
    assert (first["total"], len(first["items"]), first["next_page"]) == (SHIPPED_TOTAL, 100, 2)
    second = search(client, page=2, page_size=100)
    assert (len(second["items"]), second["next_page"]) == (SHIPPED_TOTAL - 100, None)
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}


def test_a_category_carries_its_limits_and_provenance(client: TestClient, session: Session) -> None:
    garbage = category_id(session, "event", "0102")
    body = client.get(f"/api/categories/{garbage}").json()
    assert (body["name_zh"], body["limit_hours_normal"], body["limit_hours_urgent"]) == (
        "暴露垃圾",
        4.0,
        2.0,
    )
    assert body["department_type"] == "sanitation"
    assert body["provenance"]["limit_provenance"] == "sourced-local"
    assert body["provenance"]["code_refs"] == ["WX", "BJ"]


def test_an_unknown_id_is_404(client: TestClient) -> None:
    response = client.get("/api/categories/999999")
    assert response.status_code == 404
    assert response.json()["field"] == "id"


# Administration.


def test_admin_adds_a_major_and_a_minor_under_it(client: TestClient, auth: Auth) -> None:
    major = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={
            "kind": "event",
            "standard": STANDARD_2013,
            "code": "31",
            "name_zh": "本地事件",
            "name_en": "Local events",
        },
    )
    assert major.status_code == 201, major.text
    assert (major.json()["level"], major.json()["parent_id"]) == ("major", None)
    minor = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={
            "kind": "event",
            "standard": STANDARD_2013,
            "code": "3101",
            "name_zh": "共享单车乱停",
            "name_en": "Badly parked shared bikes",
            "limit_hours_normal": 8,
            "limit_hours_urgent": 2,
            "department_type": "urban_mgmt_enforcement",
            "criteria": "5辆以上",
            "duplicate_radius_m": 20,
        },
    )
    assert minor.status_code == 201, minor.text
    body = minor.json()
    assert (body["level"], body["parent_id"]) == ("minor", major.json()["id"])
    assert (body["limit_hours_normal"], body["duplicate_radius_m"]) == (8.0, 20.0)
    assert codes(search(client, q="共享单车")) == ["3101"]


def test_the_same_code_coexists_under_two_standards(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={
            "kind": "event",
            "standard": STANDARD_2026,
            "code": "01",
            "name_zh": "市容环境",
            "name_en": "City appearance",
        },
    )
    assert response.status_code == 201, response.text
    page = search(client, kind="event", level="major", q="01")
    assert sorted(item["standard"] for item in page["items"]) == [STANDARD_2013, STANDARD_2026]


def test_a_duplicate_key_is_409(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={
            "kind": "component",
            "standard": STANDARD_2013,
            "code": "0101",
            "name_zh": "又一个",
            "name_en": "Again",
        },
    )
    assert response.status_code == 409
    assert response.json()["field"] == "code"


@pytest.mark.parametrize(
    ("code", "standard", "message"),
    [
        ("1", STANDARD_2013, "must be 2 digits"),
        ("010101", STANDARD_2013, "must be 2 digits"),
        ("01a1", STANDARD_2013, "must be 2 digits"),
        ("4101", STANDARD_2013, "needs a major 41"),
        ("01001", "GB/T 99999-2030", "needs a major 01"),
    ],
)
def test_a_bad_code_is_422_naming_the_field(
    client: TestClient, auth: Auth, code: str, standard: str, message: str
) -> None:
    response = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={"kind": "event", "standard": standard, "code": code, "name_zh": "甲", "name_en": "A"},
    )
    assert response.status_code == 422, response.text
    assert refused_field(response) == "code"
    assert message in refusal_text(response)


def test_a_minor_under_a_retired_major_is_refused(
    client: TestClient, auth: Auth, session: Session
) -> None:
    major = category_id(session, "component", "21")
    client.post(f"/api/categories/{major}/retire", headers=auth(Role.ADMIN))
    response = client.post(
        "/api/categories",
        headers=auth(Role.ADMIN),
        json={
            "kind": "component",
            "standard": STANDARD_2013,
            "code": "2150",
            "name_zh": "甲",
            "name_en": "A",
        },
    )
    assert response.status_code == 422
    assert "only a retired one" in response.json()["detail"]


def test_admin_renames_and_changes_limits(client: TestClient, auth: Auth, session: Session) -> None:
    garbage = category_id(session, "event", "0102")
    response = client.patch(
        f"/api/categories/{garbage}",
        headers=auth(Role.ADMIN),
        json={
            "name_zh": "暴露垃圾（新）",
            "name_en": "Exposed rubbish",
            "limit_hours_urgent": 1,
            "criteria": "垃圾外露面积大于0.5平方米",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name_zh"], body["name_en"], body["limit_hours_urgent"]) == (
        "暴露垃圾（新）",
        "Exposed rubbish",
        1.0,
    )
    assert body["limit_hours_normal"] == 4.0  # fields not sent stay
    assert codes(search(client, q="rubbish")) == ["0102"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_zh": None}, "name_zh"),
        ({"name_en": ""}, "name_en"),
        ({"limit_hours_normal": 0}, "limit_hours_normal"),
    ],
)
def test_a_bad_change_is_422(
    client: TestClient, auth: Auth, session: Session, changes: dict[str, Any], field: str
) -> None:
    garbage = category_id(session, "event", "0102")
    response = client.patch(f"/api/categories/{garbage}", headers=auth(Role.ADMIN), json=changes)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_retired_is_hidden_from_search_and_stays_valid_on_old_cases(
    client: TestClient, auth: Auth, session: Session
) -> None:
    garbage = session.get(Category, category_id(session, "event", "0102"))
    assert garbage is not None
    case = add_case(session, category=garbage)
    retired = client.post(f"/api/categories/{garbage.id}/retire", headers=auth(Role.ADMIN))
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None
    assert "0102" not in codes(search(client, kind="event", q="01", page_size=500))
    shown = search(client, kind="event", q="01", include_retired=True, page_size=500)
    assert "0102" in codes(shown)
    assert client.get(f"/api/categories/{garbage.id}").json()["retired_at"] is not None
    assert session.scalar(select(Case.category_id).where(Case.id == case.id)) == garbage.id

    back = client.post(f"/api/categories/{garbage.id}/unretire", headers=auth(Role.ADMIN))
    assert back.json()["retired_at"] is None
    assert "0102" in codes(search(client, kind="event", q="01", page_size=500))


def test_retiring_twice_keeps_the_first_date(
    client: TestClient, auth: Auth, session: Session
) -> None:
    lamp = category_id(session, "component", "0101")
    first = client.post(f"/api/categories/{lamp}/retire", headers=auth(Role.ADMIN)).json()
    again = client.post(f"/api/categories/{lamp}/retire", headers=auth(Role.ADMIN)).json()
    assert again["retired_at"] == first["retired_at"]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES, ids=str)
@pytest.mark.parametrize(
    ("method", "path_end", "body"),
    [
        (
            "POST",
            "",
            {
                "kind": "event",
                "standard": STANDARD_2013,
                "code": "31",
                "name_zh": "甲",
                "name_en": "A",
            },
        ),
        ("PATCH", "/{id}", {"name_en": "Renamed"}),
        ("POST", "/{id}/retire", None),
        ("POST", "/{id}/unretire", None),
    ],
)
def test_only_an_admin_changes_categories(
    client: TestClient,
    auth: Auth,
    session: Session,
    role: Role,
    method: str,
    path_end: str,
    body: dict[str, Any] | None,
) -> None:
    target = category_id(session, "event", "0102")
    url = "/api/categories" + path_end.format(id=target)
    response = client.request(method, url, headers=auth(role), json=body)
    assert response.status_code == 403, response.text
    anonymous = client.request(method, url, json=body)
    assert anonymous.status_code == 401
    assert client.get(f"/api/categories/{target}").json()["name_en"] == "Exposed garbage"


# The loader.


def test_loading_the_shipped_taxonomy_again_changes_no_row(session: Session) -> None:
    before = row_versions(session)
    counts = load_taxonomy(session, read_taxonomy())
    assert counts == LoadCounts(inserted=0, updated=0, unchanged=SHIPPED_TOTAL)
    assert row_versions(session) == before


def test_the_loader_inserts_then_leaves_equal_rows_alone(session: Session) -> None:
    small = parse_taxonomy(SMALL_TAXONOMY)
    assert load_taxonomy(session, small) == LoadCounts(inserted=4, updated=0, unchanged=0)
    before = row_versions(session)
    assert load_taxonomy(session, small) == LoadCounts(inserted=0, updated=0, unchanged=4)
    assert row_versions(session) == before
    pedlar = session.get(Category, category_id(session, "event", "05001", STANDARD_2026))
    assert pedlar is not None
    assert pedlar.parent_id == category_id(session, "event", "05", STANDARD_2026)
    # Event major 05 of the older standard is untouched: same code, other standard.
    assert session.get(Category, category_id(session, "event", "05"))


def test_a_reload_keeps_edits_an_update_renames_and_none_unretires(
    client: TestClient, session: Session
) -> None:
    load_taxonomy(session, parse_taxonomy(SMALL_TAXONOMY))
    cover = session.get(Category, category_id(session, "component", "3101"))
    assert cover is not None
    cover.retired_at = session.scalar(text("SELECT now()"))
    cover.department_type = "asset_owner"  # an admin's choice the file does not override
    session.flush()
    renamed = parse_taxonomy(SMALL_TAXONOMY.replace("测试井盖", "测试井盖（改）"))
    assert load_taxonomy(session, renamed) == LoadCounts(inserted=0, updated=0, unchanged=4)
    session.refresh(cover)
    assert cover.name_zh == "测试井盖"  # a plain reload keeps what the database has
    assert load_taxonomy(session, renamed, update=True) == LoadCounts(
        inserted=0, updated=1, unchanged=3
    )
    session.refresh(cover)
    assert (cover.name_zh, cover.department_type) == ("测试井盖（改）", "asset_owner")
    assert cover.retired_at is not None


# The command.


def test_the_command_loads_the_shipped_file_idempotently(run_cli: Callable[..., Result]) -> None:
    result = run_cli("taxonomy", "load")
    assert result.exit_code == 0, result.output
    assert f"0 added, 0 updated, {SHIPPED_TOTAL} unchanged" in result.output
    assert "component" in result.output and "88" in result.output


def test_the_command_loads_a_given_file(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(SMALL_TAXONOMY, encoding="utf-8")
    result = run_cli("taxonomy", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "4 added, 0 updated, 0 unchanged" in result.output
    assert category_id(session, "component", "3101")
    again = run_cli("taxonomy", "load", str(path))
    assert "0 added, 0 updated, 4 unchanged" in again.output


def test_the_command_reports_a_bad_file(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("events:\n- {code: '0101', zh: 甲, en: A}\n", encoding="utf-8")
    result = run_cli("taxonomy", "load", str(path))
    assert result.exit_code == 1
    assert "no major category 01" in result.output
