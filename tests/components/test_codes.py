"""Component identifiers: structure, the part at fault, agreement with the category (pure)."""

from __future__ import annotations

import re

import pytest

from citygrid.errors import InvalidInput
from components.codes import (
    VALID_CODE_PATTERN,
    ComponentCode,
    category_part,
    category_problem,
    code_problem,
    parse_code,
)


@pytest.mark.parametrize(
    ("code", "parts"),
    [
        ("1101010101000001", ("110101", "01", "01", "000001")),
        ("11010101001000001", ("110101", "01", "001", "000001")),
        ("4403052103999999", ("440305", "21", "03", "999999")),
        ("8200000601000123", ("820000", "06", "01", "000123")),
    ],
    ids=["2013 minor", "2026 minor", "local major 21", "Macao"],
)
def test_a_valid_identifier_splits_into_its_four_parts(
    code: str, parts: tuple[str, str, str, str]
) -> None:
    parsed = parse_code(code)
    assert parsed == ComponentCode(*parts)
    assert str(parsed) == code
    assert parsed.category_code == parts[1] + parts[2]
    assert category_part(code) == parsed.category_code


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("11010101010000a1", "digits only"),
        ("1101010101 00001", "digits only"),
        ("", "digits only"),
        ("110101010100001", "has 15 digits"),
        ("110101010100000001", "has 18 digits"),
        ("0001010101000001", "division code 000101"),
        ("9901010101000001", "division code 990101"),
        ("1101010001000001", "major category code 00"),
        ("1101010100000001", "minor category code 00"),
        ("11010101000000001", "minor category code 000"),
        ("1101010101000000", "sequence number 000000"),
        ("11010101001000000", "sequence number 000000"),
    ],
)
def test_an_invalid_identifier_names_the_part_at_fault(code: str, reason: str) -> None:
    problem = code_problem(code)
    assert problem is not None and reason in problem
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        parse_code(code)


@pytest.mark.parametrize(
    "code",
    [
        "1101010101000001",
        "11010101001000001",
        "11010101010000a1",
        "110101010100001",
        "0001010101000001",
        "1101010001000001",
        "1101010100000001",
        "11010101000000001",
        "1101010101000000",
        "11010101001000000",
        "11010100001000001",
        "1101010110000000",
    ],
)
def test_the_sql_pattern_accepts_exactly_what_code_problem_accepts(code: str) -> None:
    assert (re.fullmatch(VALID_CODE_PATTERN, code) is not None) == (code_problem(code) is None)


@pytest.mark.parametrize(
    ("code", "category", "reason"),
    [
        ("1101010101000001", "0101", None),
        ("11010101001000001", "01001", None),
        ("1101010101000001", "0102", "says category 0101 (major 01, minor 01)"),
        ("1101010201000001", "0101", "says category 0201 (major 02, minor 01)"),
        ("1101010101000001", "01", "01 is a major category"),
        ("11010101001000001", "0101", "has 17 digits, so its category code has 5"),
        ("1101010101000001", "01001", "has 16 digits, so its category code has 4"),
    ],
    ids=["agrees", "agrees 2026", "minor differs", "major differs", "major", "17 vs 4", "16 vs 5"],
)
def test_the_identifier_must_agree_with_its_category(
    code: str, category: str, reason: str | None
) -> None:
    problem = category_problem(code, category)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem
