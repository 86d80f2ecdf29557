"""Routing rules (pure): the rule-set format, specificity and precedence, conflicts, changes.

A rule sends cases of a category selector (a minor code, a major code or "*") in an area (a cell,
a set of cells, a community, a street, a district, a polygon, or citywide), optionally of one
urgency, to a department. The most specific matching rule wins: the smaller area first (by m²,
ties broken by kind: cell, cell set or polygon, community, street, district, citywide), then the
category (minor, major, any), then a rule for one urgency, then the higher priority. All rules of
a set are numbered 1..n in that order (`ordinal`), so routing is "lowest ordinal among the rules
that match", which the database answers with one `min()`.
"""

from __future__ import annotations

import enum
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from citygrid.errors import InvalidInput
from citygrid.json_schemas import schema_of
from dispatch.escalation.ladder import MAX_ESCALATION_STEPS, EscalationStep, parse_chain

CATEGORY_SELECTOR = re.compile(r"^(\*|\d{2}|\d{4,5})$")
# auto_dispatch may also name the kind, since codes overlap between kinds: "event:0102".
DISPATCH_SELECTOR = re.compile(r"^(\*|((event|component):)?(\d{2}|\d{4,5}))$")
CODE = Annotated[str, Field(min_length=1, max_length=32)]
MAX_RULES = 100_000
# Areas that differ by less than this many m² are equally specific (float noise of ST_Area).
AREA_RESOLUTION_M2 = 1.0
CHANGES_LISTED_MAX = 100


class AreaKind(enum.StrEnum):
    CELL = "cell"
    CELLS = "cells"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    POLYGON = "polygon"
    CITYWIDE = "citywide"


REGION_KINDS = frozenset({AreaKind.COMMUNITY, AreaKind.STREET, AreaKind.DISTRICT})
# Tie-break between equal areas: a community can be as large as its street (one community).
AREA_KIND_RANK = {
    AreaKind.CELL: 0,
    AreaKind.CELLS: 1,
    AreaKind.POLYGON: 1,
    AreaKind.COMMUNITY: 2,
    AreaKind.STREET: 3,
    AreaKind.DISTRICT: 4,
    AreaKind.CITYWIDE: 5,
}
# The area_key level of each kind a case is looked up by (cells and polygons expand to cells).
AREA_KEY_LEVEL = {
    AreaKind.CELL: 1,
    AreaKind.CELLS: 1,
    AreaKind.POLYGON: 1,
    AreaKind.COMMUNITY: 2,
    AreaKind.STREET: 3,
    AreaKind.DISTRICT: 4,
    AreaKind.CITYWIDE: 5,
}


class CategoryLevel(enum.StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    ANY = "any"


CATEGORY_RANK = {CategoryLevel.MINOR: 0, CategoryLevel.MAJOR: 1, CategoryLevel.ANY: 2}


def area_key(level: int, area_id: int) -> int:
    """The key a case is looked up by: the level in the high 32 bits, the region/cell id below."""
    return (level << 32) | area_id


@dataclass(frozen=True)
class AreaSelector:
    """An area as written: its kind, the codes it names, or a GeoJSON polygon."""

    kind: AreaKind
    codes: tuple[str, ...] = ()
    polygon: dict[str, Any] | None = None

    def label(self) -> str:
        """How the area reads in messages: 'street 110101001', '3 cells 110101…', 'citywide'."""
        if self.kind is AreaKind.CITYWIDE:
            return "citywide"
        if self.kind is AreaKind.POLYGON:
            return "polygon"
        if self.kind is AreaKind.CELLS:
            return f"cells {','.join(self.codes)}"
        return f"{self.kind} {self.codes[0]}"


def parse_area(raw: object) -> AreaSelector:
    """The selector of `"citywide"` or a one-key mapping ({cell: …}, {polygon: GeoJSON} …)."""
    if raw == "citywide":
        return AreaSelector(AreaKind.CITYWIDE)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ValueError(
            'area must be "citywide" or one of {cell: code}, {cells: [codes]}, '
            "{community: code}, {street: code}, {district: code}, {polygon: GeoJSON}"
        )
    ((key, value),) = raw.items()
    try:
        kind = AreaKind(key)
    except ValueError:
        raise ValueError(f"unknown area kind {key!r}") from None
    if kind is AreaKind.POLYGON:
        return AreaSelector(kind, polygon=checked_polygon(value))
    if kind is AreaKind.CELLS:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError("cells must be a non-empty list of cell codes")
        return AreaSelector(kind, codes=tuple(sorted(set(value))))
    if kind is AreaKind.CITYWIDE or not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must name one code")
    return AreaSelector(kind, codes=(value,))


def checked_polygon(value: object) -> dict[str, Any]:
    """The GeoJSON Polygon/MultiPolygon as given, its shape checked (validity: the database)."""
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValueError("polygon must be a GeoJSON Polygon or MultiPolygon geometry (WGS-84)")
    if not isinstance(value.get("coordinates"), list) or not value["coordinates"]:
        raise ValueError("polygon needs coordinates")
    return {"type": value["type"], "coordinates": value["coordinates"]}


def _named_area(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {kind: value},
        "required": [kind],
        "additionalProperties": False,
    }


_CODE_SCHEMA = {"type": "string", "minLength": 1}
# What parse_area reads, as the document says it (parse_area checks the same, and the database
# whether the codes exist and the polygon is valid).
AREA_SCHEMA: dict[str, Any] = {
    "description": '"citywide", or one of {cell: code}, {cells: [codes]}, {community: code}, '
    "{street: code}, {district: code}, {polygon: GeoJSON Polygon or MultiPolygon (WGS-84)}",
    "anyOf": [
        # Patterns, not enums: client generators (openapi-python-client) refuse inline enums in
        # a union; the values allowed are the same.
        {"type": "string", "pattern": "^citywide$"},
        *(_named_area(kind, _CODE_SCHEMA) for kind in ("cell", "community", "street", "district")),
        _named_area("cells", {"type": "array", "items": _CODE_SCHEMA, "minItems": 1}),
        _named_area(
            "polygon",
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "pattern": "^(Polygon|MultiPolygon)$"},
                    # `items: {}` said out loud: generators refuse an array of untyped arrays.
                    "coordinates": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "array", "items": {}},
                    },
                },
                "required": ["type", "coordinates"],
            },
        ),
    ],
}


class RuleSpec(BaseModel):
    """One rule as written in a rule file or API body."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] | None = None
    category: Annotated[str, Field(pattern=CATEGORY_SELECTOR.pattern)]
    category_kind: Literal["event", "component"] | None = None
    area: Annotated[Any, WithJsonSchema(AREA_SCHEMA)]
    urgency: Literal["normal", "urgent"] | None = None
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    department: CODE

    @field_validator("area")
    @classmethod
    def area_well_formed(cls, value: object) -> object:
        parse_area(value)
        return value

    def area_selector(self) -> AreaSelector:
        return parse_area(self.area)

    def identity(self) -> str:
        """What the rule selects, as text: the same in two versions means the same rule."""
        kind = f" ({self.category_kind})" if self.category_kind else ""
        urgency = self.urgency or "any urgency"
        return (
            f"category {self.category}{kind} × {self.area_selector().label()} × {urgency}"
            f" × priority {self.priority}"
        )


# The steps parse_chain reads (their names unique and in firing order: checked by the chain).
ESCALATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": schema_of(EscalationStep), "maxItems": MAX_ESCALATION_STEPS},
        {"type": "null"},
    ]
}


class RuleSetSpec(BaseModel):
    """A rule set as submitted: when it takes effect, what it auto-dispatches, its rules."""

    model_config = ConfigDict(extra="forbid")

    effective_from: AwareDatetime
    comment: Annotated[str, Field(max_length=2000)] | None = None
    auto_dispatch: list[Annotated[str, Field(pattern=DISPATCH_SELECTOR.pattern)]] = []
    escalation: Annotated[list[dict[str, Any]] | None, WithJsonSchema(ESCALATION_SCHEMA)] = None
    rules: list[RuleSpec] = Field(min_length=1, max_length=MAX_RULES)

    @field_validator("escalation")
    @classmethod
    def escalation_valid(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        parse_chain(value)
        return value


def rule_label(index: int, name: str | None) -> str:
    """How a rule is named in messages: "rules[3] 'sanitation citywide'" or "rules[3]"."""
    return f"rules[{index}] {name!r}" if name else f"rules[{index}]"


class RuleSetRejected(InvalidInput):
    """A rule set with problems (unknown codes, conflicts): each names the rule and field."""

    def __init__(self, message: str, *, problems: list[dict[str, Any]]) -> None:
        first_field = problems[0].get("field") if problems else None
        super().__init__(message, field=first_field)
        self.problems = problems

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "problems": self.problems}


@dataclass(frozen=True)
class RuleFacts:
    """A rule resolved against the database: ids and areas, ready to be ordered and checked."""

    index: int
    name: str | None
    area_kind: AreaKind
    area_id: int | None  # the region for community/street/district, the cell for cell
    footprint: frozenset[int]  # cells of a cell, cell set or polygon (those it touches)
    area_m2: float | None  # None: citywide
    category_level: CategoryLevel
    category_id: int | None  # None: any
    urgency: str | None
    priority: int
    department_id: int

    @property
    def label(self) -> str:
        return rule_label(self.index, self.name)


SpecificityKey = tuple[float, int, int, int, int]


def specificity(rule: RuleFacts) -> SpecificityKey:
    """The sort key of a rule: smaller sorts first and wins (area, category, urgency, priority)."""
    area = math.inf if rule.area_m2 is None else round(rule.area_m2 / AREA_RESOLUTION_M2)
    return (
        area,
        AREA_KIND_RANK[rule.area_kind],
        CATEGORY_RANK[rule.category_level],
        0 if rule.urgency else 1,
        -rule.priority,
    )


def precedence(rules: Sequence[RuleFacts]) -> list[RuleFacts]:
    """The rules in precedence order (the first wins); equal keys keep the order written."""
    return sorted(rules, key=lambda rule: (specificity(rule), rule.index))


@dataclass(frozen=True)
class RuleConflict:
    """Two equally specific rules that can match the same case and name different departments."""

    first: RuleFacts
    second: RuleFacts

    def reason(self) -> str:
        return (
            f"{self.first.label} and {self.second.label} are equally specific, can match the "
            "same case and name different departments: change one's area, category, urgency "
            "or priority"
        )


# Decides whether two cell-set / polygon areas overlap (share interior), given the rules.
OverlapCheck = Callable[[RuleFacts, RuleFacts], bool]


def find_conflicts(
    rules: Iterable[RuleFacts], *, areas_overlap: OverlapCheck
) -> list[RuleConflict]:
    """Every pair of conflicting rules, in rule order. `areas_overlap` is asked only about pairs
    of equally specific rules sharing a cell where one is a polygon."""
    seen: set[tuple[int, int]] = set()
    conflicts: list[RuleConflict] = []
    for first, second in candidate_pairs(rules):
        pair = (first.index, second.index)
        if pair in seen or first.department_id == second.department_id:
            continue
        seen.add(pair)
        polygon = AreaKind.POLYGON in (first.area_kind, second.area_kind)
        if not polygon or areas_overlap(first, second):
            conflicts.append(RuleConflict(first, second))
    return sorted(conflicts, key=lambda conflict: (conflict.first.index, conflict.second.index))


def candidate_pairs(rules: Iterable[RuleFacts]) -> Iterable[tuple[RuleFacts, RuleFacts]]:
    """Pairs (lower index first) with the same specificity, category selector and urgency whose
    areas are the same region or share a cell: bucketed, never all pairs of the set."""
    buckets: dict[tuple[Any, ...], list[RuleFacts]] = defaultdict(list)
    for rule in rules:
        selects = (specificity(rule), rule.category_id, rule.urgency)
        if rule.area_kind in REGION_KINDS or rule.area_kind is AreaKind.CITYWIDE:
            buckets[(*selects, "region", rule.area_id)].append(rule)
        else:
            for cell_id in rule.footprint:
                buckets[(*selects, "cell", cell_id)].append(rule)
    for bucket in buckets.values():
        yield from combinations(sorted(bucket, key=lambda rule: rule.index), 2)


def conflict_problems(conflicts: Sequence[RuleConflict]) -> list[dict[str, Any]]:
    """The conflicts as problems of a rejected set, each naming both rules."""
    return [
        {
            "field": f"rules[{conflict.second.index}]",
            "rules": [conflict.first.index, conflict.second.index],
            "detail": conflict.reason(),
        }
        for conflict in conflicts
    ]


def summarize_changes(
    previous: RuleSetSpec | None, previous_version: int | None, current: RuleSetSpec
) -> dict[str, Any]:
    """What changed since the previous version: rules added, removed, sent elsewhere; lists are
    cut at CHANGES_LISTED_MAX entries, the counts are complete."""
    before = departments_by_identity(previous.rules if previous else [])
    after = departments_by_identity(current.rules)
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = [
        {"rule": identity, "from": before[identity], "to": after[identity]}
        for identity in sorted(before.keys() & after.keys())
        if before[identity] != after[identity]
    ]
    old_auto = set(previous.auto_dispatch if previous else [])
    return {
        "previous_version": previous_version,
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)},
        "added": added[:CHANGES_LISTED_MAX],
        "removed": removed[:CHANGES_LISTED_MAX],
        "changed": changed[:CHANGES_LISTED_MAX],
        "auto_dispatch_added": sorted(set(current.auto_dispatch) - old_auto),
        "auto_dispatch_removed": sorted(old_auto - set(current.auto_dispatch)),
    }


def departments_by_identity(rules: Sequence[RuleSpec]) -> dict[str, str]:
    """Department codes by what each rule selects (several for one selection: joined)."""
    by_identity: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        by_identity[rule.identity()].append(rule.department)
    return {identity: ",".join(sorted(codes)) for identity, codes in by_identity.items()}


def auto_dispatched(
    selectors: Iterable[str], *, kind: str, minor_code: str, major_code: str
) -> bool:
    """Whether a category is dispatched on filing: its minor or major code (bare or with its
    kind, "event:0102") or "*" listed. The database asks the same of a batch (DECIDE_ROUTES)."""
    own = {minor_code, major_code, f"{kind}:{minor_code}", f"{kind}:{major_code}", "*"}
    return bool(own & set(selectors))
