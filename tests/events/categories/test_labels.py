"""Category labels: code and name, and the standard when two categories share a name (积存垃圾渣土
is 0103 of GB/T 30428.2-2013 and 06011 of GB/T 47678.5-2026); the report form's picker."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.categories.labels import (
    CategoryNames,
    category_label,
    shared_category_names,
    shared_name_labels,
    with_code,
)
from tests.events.seed import add_user
from tests.web.pages_support import EN, ZH, log_in, script_messages

OLD = CategoryNames("0103", "GB/T 30428.2-2013", "积存垃圾渣土", "Accumulated garbage & muck")
NEW = CategoryNames("06011", "GB/T 47678.5-2026", "积存垃圾渣土", "Accumulated garbage & muck")


@pytest.mark.parametrize(
    ("language", "shared", "expected"),
    [
        ("zh-CN", set(), "0103 积存垃圾渣土"),
        ("en", set(), "0103 Accumulated garbage & muck"),
        ("zh-CN", {"积存垃圾渣土"}, "0103 积存垃圾渣土（GB/T 30428.2-2013）"),
        (
            "en",
            {"Accumulated garbage & muck"},
            "0103 Accumulated garbage & muck (GB/T 30428.2-2013)",
        ),
        ("en", {"积存垃圾渣土"}, "0103 Accumulated garbage & muck"),  # shared in the other language
    ],
)
def test_a_label_adds_the_standard_only_to_a_shared_name(
    language: str, shared: set[str], expected: str
) -> None:
    assert category_label(OLD, language, shared_names=shared) == expected


@pytest.mark.parametrize(
    ("name", "code", "language", "expected"),
    [
        ("东华门街道", "110101001", "zh-CN", "东华门街道（110101001）"),
        ("东华门街道", "110101001", "en", "东华门街道 (110101001)"),
        ("110101009008020", "110101009008020", "zh-CN", "110101009008020"),  # once, not twice
        (None, "HW", "zh-CN", "HW"),
        ("环卫所", None, "zh-CN", "环卫所"),
        (None, None, "zh-CN", "—"),
    ],
)
def test_a_name_with_its_code_says_a_code_used_as_name_once(
    name: str | None, code: str | None, language: str, expected: str
) -> None:
    assert with_code(name, code, language) == expected


def test_the_taxonomy_s_shared_names_get_their_standard(session: Session) -> None:
    shared = shared_category_names(session)
    assert {OLD.name_zh, OLD.name_en} <= shared
    labels = set(shared_name_labels(session, "zh-CN").values())
    assert {
        "0103 积存垃圾渣土（GB/T 30428.2-2013）",
        "06011 积存垃圾渣土（GB/T 47678.5-2026）",
    } <= labels
    assert "0103 Accumulated garbage & muck (GB/T 30428.2-2013)" in set(
        shared_name_labels(session, "en").values()
    )


@pytest.mark.parametrize(
    ("headers", "old", "new"),
    [
        (ZH, "0103 积存垃圾渣土（GB/T 30428.2-2013）", "06011 积存垃圾渣土（GB/T 47678.5-2026）"),
        (
            EN,
            "0103 Accumulated garbage & muck (GB/T 30428.2-2013)",
            "06011 Accumulated garbage & muck (GB/T 47678.5-2026)",
        ),
    ],
)
def test_the_report_form_tells_the_two_apart(
    session: Session, client: TestClient, headers: dict[str, str], old: str, new: str
) -> None:
    log_in(client, add_user(session, Role.INSPECTOR))
    page = client.get("/m/report", headers=headers)
    assert page.status_code == 200, page.text
    found = re.search(r'id="inspector-setup">([^<]+)<', page.text)
    assert found is not None
    labels = set(json.loads(found.group(1))["category_labels"].values())
    assert {old, new} <= labels
    # A cell whose name is its code is said once ("网格 110101009008020，…").
    unnamed = script_messages(page.text)["locate.cell_unnamed"]
    assert unnamed.count("{code}") == 1 and "{name}" not in unnamed
