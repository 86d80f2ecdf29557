"""events.taxonomy: parsing and checking the taxonomy file, without a database."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from citygrid.errors import InvalidInput
from events.taxonomy import (
    STANDARD_2013,
    STANDARD_2026,
    Kind,
    Level,
    level_of_code,
    parse_taxonomy,
    read_taxonomy,
    urgent_limit_hours,
)

MAJORS = """
major_categories:
- {kind: event, code: '01', zh: 市容环境, en: City appearance, provenance: sourced, refs: [WX]}
- {kind: event, code: '06', standard: GB/T 47678.5-2026, zh: 市容环境, en: City appearance,
   provenance: inferred}
"""


def taxonomy_text(events: str) -> str:
    return MAJORS + "events:\n" + textwrap.dedent(events)


@pytest.mark.parametrize(
    ("normal", "urgent"), [(6, 3), (24, 12), (2, 1), (1.5, 1), (1, 1), (0.5, 0.5), (120, 60)]
)
def test_urgent_limit_is_half_at_least_one_hour_never_above_normal(
    normal: float, urgent: float
) -> None:
    assert urgent_limit_hours(normal) == urgent


@pytest.mark.parametrize(
    ("code", "level"), [("01", Level.MAJOR), ("0101", Level.MINOR), ("06010", Level.MINOR)]
)
def test_level_follows_the_code_length(code: str, level: Level) -> None:
    assert level_of_code(code) is level


@pytest.mark.parametrize("code", ["1", "010", "010101", "01a1", " 0101", ""])
def test_a_malformed_code_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidInput, match="must be 2 digits") as raised:
        level_of_code(code)
    assert raised.value.field == "code"


def test_a_minor_entry_keeps_its_provenance_and_gets_limits_and_standard() -> None:
    taxonomy = parse_taxonomy(
        taxonomy_text("""
        - code: '0102'
          zh: 暴露垃圾
          en: Exposed garbage
          major: '01'
          standard_ref: CJ/T 214-2007 / GB/T 30428.2-2013
          code_provenance: sourced
          code_refs: [WX, BJ]
          default_limit_wh: 4
          limit_provenance: sourced-local
          dept_type: sanitation
          dept_provenance: sourced
          note: MANUAL-A 4 工作时
        - {code: '06010', zh: 暴露垃圾, en: Exposed garbage, default_limit_wh: null}
        """)
    )
    old, new = taxonomy.of_level(Level.MINOR)
    assert (old.kind, old.code, old.standard) == (Kind.EVENT, "0102", STANDARD_2013)
    assert (old.limit_hours_normal, old.limit_hours_urgent) == (4.0, 2.0)
    assert old.department_type == "sanitation"
    assert old.provenance["code_refs"] == ["WX", "BJ"]
    assert old.provenance["note"] == "MANUAL-A 4 工作时"
    assert old.provenance["standard_ref"] == "CJ/T 214-2007 / GB/T 30428.2-2013"
    assert old.provenance["limit_hours_urgent"].startswith("derived")
    assert (new.standard, new.limit_hours_normal, new.limit_hours_urgent) == (
        STANDARD_2026,
        None,
        None,
    )


def test_an_urgent_limit_in_the_file_wins_over_the_rule() -> None:
    taxonomy = parse_taxonomy(
        taxonomy_text("""
        - {code: '0102', zh: 暴露垃圾, en: Garbage, default_limit_wh: 4, limit_hours_urgent: 1.5,
           criteria: 面积大于1平方米}
        """)
    )
    minor = taxonomy.of_level(Level.MINOR)[0]
    assert (minor.limit_hours_normal, minor.limit_hours_urgent) == (4.0, 1.5)
    assert minor.criteria == "面积大于1平方米"
    assert "limit_hours_urgent" not in minor.provenance


@pytest.mark.parametrize(
    ("events", "message", "field"),
    [
        ("- {code: 0101, zh: a, en: b}", "quote codes", "events[0].code"),
        ("- {code: '010', zh: a, en: b}", "must be 2 digits", "events[0].code"),
        ("- {code: '01', zh: a, en: b}", "not a minor code", "events[0].code"),
        ("- {code: '0101', en: b}", "zh is missing", "events[0].zh"),
        ("- {code: '0101', zh: a, en: b, kind: component}", "not event", "events[0].kind"),
        ("- {code: '0101', zh: a, en: b, major: '02'}", "first 2 digits", "events[0].major"),
        (
            "- {code: '0101', zh: a, en: b, default_limit_wh: -2}",
            "positive",
            "events[0].default_limit_wh",
        ),
        ("- {code: '0201', zh: a, en: b}", "no major category 02", "major_categories"),
        ("- {code: '01010', zh: a, en: b}", "no major category 01", "major_categories"),
        ("- {code: '0101', zh: a, en: b}\n- {code: '0101', zh: c, en: d}", "listed twice", "code"),
    ],
)
def test_a_bad_entry_is_refused_naming_where(events: str, message: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        parse_taxonomy(taxonomy_text(events))
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("meta: {}", "none of the sections"),
        ("events: [1, 2]", "list of mappings"),
        ("events: [", "not valid YAML"),
    ],
)
def test_a_document_that_is_no_taxonomy_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_taxonomy(text)


def test_the_shipped_taxonomy_parses_with_every_kind_and_level() -> None:
    taxonomy = read_taxonomy()
    assert taxonomy.counts() == {
        ("component", "major"): 7,
        ("component", "minor"): 88,
        ("event", "major"): 9,
        ("event", "minor"): 61,
    }
    assert "sources" in taxonomy.meta
    standards = {category.standard for category in taxonomy.categories}
    assert standards == {STANDARD_2013, STANDARD_2026}
    manhole = next(c for c in taxonomy.categories if c.key == ("component", "0101", STANDARD_2013))
    assert (manhole.name_zh, manhole.limit_hours_normal, manhole.limit_hours_urgent) == (
        "上水井盖",
        6.0,
        3.0,
    )


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot read .*missing\.yaml"):
        read_taxonomy(tmp_path / "missing.yaml")
