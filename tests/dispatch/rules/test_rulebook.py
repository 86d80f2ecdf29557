"""Pure routing rules: the rule-set format, specificity ordering, conflicts, change summaries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dispatch.rules.rulebook import (
    AreaKind,
    AreaSelector,
    CategoryLevel,
    RuleFacts,
    RuleSetSpec,
    auto_dispatched,
    find_conflicts,
    parse_area,
    precedence,
    summarize_changes,
)

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
CELL_M2 = 10_000.0
COMMUNITY_M2 = 250_000.0
STREET_M2 = 4_000_000.0
DISTRICT_M2 = 40_000_000.0


def facts(
    index: int,
    *,
    kind: AreaKind = AreaKind.CITYWIDE,
    area_id: int | None = None,
    footprint: frozenset[int] = frozenset(),
    area_m2: float | None = None,
    level: CategoryLevel = CategoryLevel.ANY,
    category_id: int | None = None,
    urgency: str | None = None,
    priority: int = 0,
    department_id: int = 1,
) -> RuleFacts:
    return RuleFacts(
        index=index,
        name=f"r{index}",
        area_kind=kind,
        area_id=area_id,
        footprint=footprint,
        area_m2=area_m2,
        category_level=level,
        category_id=category_id,
        urgency=urgency,
        priority=priority,
        department_id=department_id,
    )


CELL_RULE: dict[str, Any] = {
    "kind": AreaKind.CELL,
    "area_id": 7,
    "footprint": frozenset({7}),
    "area_m2": CELL_M2,
}
COMMUNITY_RULE: dict[str, Any] = {"kind": AreaKind.COMMUNITY, "area_id": 3, "area_m2": COMMUNITY_M2}
STREET_RULE: dict[str, Any] = {"kind": AreaKind.STREET, "area_id": 2, "area_m2": STREET_M2}
DISTRICT_RULE: dict[str, Any] = {"kind": AreaKind.DISTRICT, "area_id": 1, "area_m2": DISTRICT_M2}
MINOR: dict[str, Any] = {"level": CategoryLevel.MINOR, "category_id": 12}
MAJOR: dict[str, Any] = {"level": CategoryLevel.MAJOR, "category_id": 10}


@pytest.mark.parametrize(
    ("winner", "loser", "why"),
    [
        (CELL_RULE, COMMUNITY_RULE, "a cell beats its community"),
        (COMMUNITY_RULE, STREET_RULE, "a community beats its street"),
        (STREET_RULE, DISTRICT_RULE, "a street beats its district"),
        (DISTRICT_RULE, {}, "a district beats citywide"),
        ({**CELL_RULE}, {**DISTRICT_RULE, **MINOR}, "area comes before category"),
        (
            {"kind": AreaKind.POLYGON, "footprint": frozenset({7}), "area_m2": 5_000.0},
            CELL_RULE,
            "a polygon smaller than a cell beats it",
        ),
        (
            STREET_RULE,
            {"kind": AreaKind.POLYGON, "footprint": frozenset({7}), "area_m2": 9_000_000.0},
            "a polygon larger than the street loses to it",
        ),
        (
            {"kind": AreaKind.CELLS, "footprint": frozenset({7, 8}), "area_m2": 2 * CELL_M2},
            COMMUNITY_RULE,
            "a set of cells counts by its area",
        ),
        (
            {**COMMUNITY_RULE, "area_m2": STREET_M2},
            STREET_RULE,
            "a community as large as its street still wins",
        ),
        (MINOR, MAJOR, "minor beats major in the same area"),
        (MAJOR, {}, "major beats any category"),
        ({"urgency": "urgent"}, {}, "an urgency-specific rule beats one for any urgency"),
        ({**MAJOR}, {"urgency": "urgent"}, "category comes before urgency"),
        ({"priority": 5}, {"priority": 1}, "higher priority wins last"),
        ({"urgency": "normal"}, {"priority": 99}, "urgency comes before priority"),
    ],
)
def test_precedence_puts_the_more_specific_rule_first(
    winner: dict[str, Any], loser: dict[str, Any], why: str
) -> None:
    # The loser is written first, so only specificity can put the winner ahead.
    ordered = precedence([facts(0, **loser), facts(1, **winner)])
    assert [rule.index for rule in ordered] == [1, 0], why


def test_equally_specific_rules_keep_their_written_order() -> None:
    ordered = precedence([facts(0, **STREET_RULE), facts(1, **STREET_RULE, department_id=1)])
    assert [rule.index for rule in ordered] == [0, 1]


def never_overlap(first: RuleFacts, second: RuleFacts) -> bool:
    return False


def always_overlap(first: RuleFacts, second: RuleFacts) -> bool:
    return True


@pytest.mark.parametrize(
    ("first", "second", "overlap", "conflicting"),
    [
        ({}, {"department_id": 2}, never_overlap, True),
        ({}, {}, never_overlap, False),  # same department: redundant, not a conflict
        (STREET_RULE, {**STREET_RULE, "department_id": 2}, never_overlap, True),
        (STREET_RULE, {**STREET_RULE, "area_id": 9, "department_id": 2}, never_overlap, False),
        (MINOR, {**MINOR, "department_id": 2}, never_overlap, True),
        (MINOR, {**MINOR, "category_id": 13, "department_id": 2}, never_overlap, False),
        ({"urgency": "urgent"}, {"urgency": "normal", "department_id": 2}, never_overlap, False),
        ({"urgency": "urgent"}, {"urgency": "urgent", "department_id": 2}, never_overlap, True),
        ({"priority": 1}, {"department_id": 2}, never_overlap, False),
        (CELL_RULE, {**CELL_RULE, "department_id": 2}, never_overlap, True),
        (
            {"kind": AreaKind.CELLS, "footprint": frozenset({7, 8}), "area_m2": 2.0},
            {
                "kind": AreaKind.CELLS,
                "footprint": frozenset({8, 9}),
                "area_m2": 2.0,
                "department_id": 2,
            },
            never_overlap,
            True,
        ),
        (
            {"kind": AreaKind.CELLS, "footprint": frozenset({7, 8}), "area_m2": 2.0},
            {
                "kind": AreaKind.CELLS,
                "footprint": frozenset({9, 10}),
                "area_m2": 2.0,
                "department_id": 2,
            },
            always_overlap,
            False,
        ),
        (
            {"kind": AreaKind.POLYGON, "footprint": frozenset({7}), "area_m2": 2.0},
            {
                "kind": AreaKind.CELLS,
                "footprint": frozenset({7}),
                "area_m2": 2.0,
                "department_id": 2,
            },
            always_overlap,
            True,
        ),
        (
            {"kind": AreaKind.POLYGON, "footprint": frozenset({7}), "area_m2": 2.0},
            {
                "kind": AreaKind.POLYGON,
                "footprint": frozenset({7}),
                "area_m2": 2.0,
                "department_id": 2,
            },
            never_overlap,  # both touch cell 7 but do not share interior
            False,
        ),
        (
            {"kind": AreaKind.POLYGON, "footprint": frozenset({7}), "area_m2": 2.0},
            {
                "kind": AreaKind.POLYGON,
                "footprint": frozenset({7}),
                "area_m2": 3.0,
                "department_id": 2,
            },
            always_overlap,  # different areas: the smaller wins, no conflict
            False,
        ),
    ],
)
def test_conflicts_are_equally_specific_overlapping_rules_with_different_departments(
    first: dict[str, Any], second: dict[str, Any], overlap: Any, conflicting: bool
) -> None:
    conflicts = find_conflicts([facts(0, **first), facts(1, **second)], areas_overlap=overlap)
    assert bool(conflicts) is conflicting
    if conflicting:
        assert "rules[0] 'r0' and rules[1] 'r1' are equally specific" in conflicts[0].reason()


def test_every_conflicting_pair_is_reported_once() -> None:
    rules = [facts(i, **CELL_RULE, department_id=i) for i in range(3)]
    conflicts = find_conflicts(rules, areas_overlap=always_overlap)
    assert [(c.first.index, c.second.index) for c in conflicts] == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("citywide", AreaSelector(AreaKind.CITYWIDE)),
        ({"cell": "110101001001001"}, AreaSelector(AreaKind.CELL, codes=("110101001001001",))),
        ({"cells": ["b", "a", "b"]}, AreaSelector(AreaKind.CELLS, codes=("a", "b"))),
        ({"street": "110101001"}, AreaSelector(AreaKind.STREET, codes=("110101001",))),
        ({"polygon": SQUARE}, AreaSelector(AreaKind.POLYGON, polygon=SQUARE)),
    ],
)
def test_areas_parse(raw: object, expected: AreaSelector) -> None:
    assert parse_area(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("everywhere", "area must be"),
        ({"cell": "1", "street": "2"}, "area must be"),
        ({"county": "1"}, "unknown area kind 'county'"),
        ({"cells": []}, "non-empty list"),
        ({"polygon": {"type": "Point", "coordinates": [1, 2]}}, "Polygon or MultiPolygon"),
        ({"street": ""}, "must name one code"),
    ],
)
def test_bad_areas_are_refused(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_area(raw)


def spec(rules: list[dict[str, Any]], **extra: Any) -> RuleSetSpec:
    return RuleSetSpec.model_validate(
        {"effective_from": datetime(2026, 12, 1, tzinfo=UTC), "rules": rules, **extra}
    )


def test_validation_errors_name_the_rule_and_field() -> None:
    with pytest.raises(ValidationError) as raised:
        spec([{"category": "0102", "area": "citywide", "department": "HW"}, {"category": "x"}])
    locations = {error["loc"] for error in raised.value.errors()}
    assert ("rules", 1, "category") in locations
    assert ("rules", 1, "department") in locations


def test_a_bad_escalation_chain_is_refused() -> None:
    rule = {"category": "*", "area": "citywide", "department": "HW"}
    with pytest.raises(ValidationError, match="escalation"):
        spec([rule], escalation=[{"step": "late", "at_fraction": 0.5, "notify": ["department"]}])


def test_changes_list_added_removed_and_redirected_rules() -> None:
    before = spec(
        [
            {"category": "0102", "area": "citywide", "department": "HW"},
            {"category": "01", "area": {"street": "110101001"}, "department": "JD"},
        ],
        auto_dispatch=["0102"],
    )
    after = spec(
        [
            {"category": "0102", "area": "citywide", "department": "CG"},
            {"category": "*", "area": "citywide", "department": "JD"},
        ],
        auto_dispatch=["*"],
    )
    changes = summarize_changes(before, 3, after)
    assert changes["previous_version"] == 3
    assert changes["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert changes["changed"][0]["from"] == "HW" and changes["changed"][0]["to"] == "CG"
    assert changes["auto_dispatch_added"] == ["*"]
    assert changes["auto_dispatch_removed"] == ["0102"]


@pytest.mark.parametrize(
    ("selectors", "dispatched"),
    [
        (["0102"], True),
        (["01"], True),
        (["*"], True),
        (["event:0102"], True),
        (["event:01"], True),
        (["component:0102"], False),
        (["0103", "02"], False),
        ([], False),
    ],
)
def test_auto_dispatch_by_minor_major_or_any(selectors: list[str], dispatched: bool) -> None:
    assert (
        auto_dispatched(selectors, kind="event", minor_code="0102", major_code="01") is dispatched
    )
