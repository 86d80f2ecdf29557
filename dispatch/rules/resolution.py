"""A rule-set spec resolved against the database: the departments, categories, regions, cells
and polygons its rules name, turned into ids and areas (RuleFacts), every unknown, ambiguous or
inactive name reported by rule and field; and whether two drawn areas overlap."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely.geometry
import shapely.validation
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from dispatch.rules.rulebook import (
    REGION_KINDS,
    AreaKind,
    CategoryLevel,
    RuleFacts,
    RuleSetRejected,
    RuleSetSpec,
    RuleSpec,
    rule_label,
)

ANY_CATEGORY = "*"
CELL_KINDS = frozenset({AreaKind.CELL, AreaKind.CELLS})


@dataclass(frozen=True)
class IndexedPolygon:
    """A rule's polygon area, with the rule's index in the spec."""

    index: int
    polygon: dict[str, Any]


def spec_polygons(spec: RuleSetSpec) -> list[IndexedPolygon]:
    """The polygon areas of the spec with their rule index."""
    found = []
    for index, rule in enumerate(spec.rules):
        area = rule.area_selector()
        if area.polygon is not None:
            found.append(IndexedPolygon(index, area.polygon))
    return found


@dataclass(frozen=True)
class Lookups:
    """What a spec's codes name in the database, fetched with one query per kind of code."""

    departments: dict[str, tuple[int, bool]]  # code → (id, is_active)
    categories: dict[str, list[tuple[str, int, str]]]  # code → [(kind, id, level)]
    regions: dict[str, tuple[int, str, float]]  # code → (id, level, area_m2)
    cells: dict[str, tuple[int, float]]  # code → (id, area_m2)
    polygons: dict[int, tuple[float, frozenset[int]]]  # rule index → (area_m2, touched cells)


def lookups_for(session: Session, spec: RuleSetSpec) -> Lookups:
    """The departments, categories, regions, cells and polygon areas a spec names."""
    areas = [rule.area_selector() for rule in spec.rules]
    region_codes = {code for area in areas if area.kind in REGION_KINDS for code in area.codes}
    cell_codes = {code for area in areas if area.kind in CELL_KINDS for code in area.codes}
    category_codes = {rule.category for rule in spec.rules if rule.category != ANY_CATEGORY}
    department_codes = {rule.department for rule in spec.rules}
    return Lookups(
        departments={
            row.code: (row.id, row.is_active)
            for row in by_codes(session, "id, code, is_active", "department", department_codes)
        },
        categories=categories_by_code(session, category_codes),
        regions={
            row.code: (row.id, row.level, row.area_m2)
            for row in by_codes(session, "id, code, level, area_m2", "grid_region", region_codes)
        },
        cells={
            row.code: (row.id, row.area_m2)
            for row in by_codes(session, "id, code, area_m2", "grid_cell", cell_codes)
        },
        polygons=polygon_facts(session, spec_polygons(spec)),
    )


def by_codes(session: Session, columns: str, table: str, codes: set[str]) -> Sequence[Row[Any]]:
    """Rows of `table` whose code is one of `codes` (table and columns are ours, not input)."""
    if not codes:
        return []
    statement = text(f"SELECT {columns} FROM {table} WHERE code = ANY(:codes)")
    return session.execute(statement, {"codes": sorted(codes)}).all()


def categories_by_code(session: Session, codes: set[str]) -> dict[str, list[tuple[str, int, str]]]:
    """(kind, id, level) of the categories with each code; codes overlap between kinds."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    for row in by_codes(session, "id, kind, code, level", "category", codes):
        found.setdefault(row.code, []).append((row.kind, row.id, row.level))
    return found


POLYGON_FACTS = text("""
SELECT p.ordinality - 1 AS position, ST_Area(g.geom::geography) AS area_m2,
    ARRAY(SELECT gc.id FROM grid_cell gc WHERE ST_Intersects(gc.geom, g.geom)) AS cell_ids
FROM jsonb_array_elements(CAST(:polygons AS jsonb)) WITH ORDINALITY AS p(geojson, ordinality)
CROSS JOIN LATERAL (
    SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(p.geojson::text), 4326)) AS geom) AS g
""")


def polygon_facts(
    session: Session, polygons: Sequence[IndexedPolygon]
) -> dict[int, tuple[float, frozenset[int]]]:
    """Area and touched cells of each valid polygon by rule index (one statement for all);
    polygons that shapely cannot read or finds invalid are left out (resolve_rules says why)."""
    readable = [item for item in polygons if polygon_problem(item.polygon) is None]
    if not readable:
        return {}
    rows = session.execute(
        POLYGON_FACTS, {"polygons": json.dumps([item.polygon for item in readable])}
    ).all()
    return {readable[row.position].index: (row.area_m2, frozenset(row.cell_ids)) for row in rows}


def polygon_problem(polygon: dict[str, Any]) -> str | None:
    """Why a GeoJSON polygon cannot be a rule's area, or None when it can."""
    try:
        geometry = shapely.geometry.shape(polygon)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        return f"polygon is not readable GeoJSON: {error!r}"
    if geometry.is_empty or not geometry.is_valid:
        return f"polygon is empty or invalid: {shapely.validation.explain_validity(geometry)}"
    return None


def resolve_rules(session: Session, spec: RuleSetSpec) -> list[RuleFacts]:
    """The spec's rules with ids and areas; RuleSetRejected naming every rule and field that
    names something unknown, ambiguous or inactive."""
    lookups = lookups_for(session, spec)
    facts: list[RuleFacts] = []
    problems: list[dict[str, Any]] = []
    for index, rule in enumerate(spec.rules):
        resolved = resolve_rule(index, rule, lookups)
        if isinstance(resolved, RuleFacts):
            facts.append(resolved)
        else:
            problems.extend(resolved)
    if problems:
        raise RuleSetRejected(f"{len(problems)} problem(s) in the rule set", problems=problems)
    return facts


def problem(index: int, rule: RuleSpec, field: str, detail: str) -> dict[str, Any]:
    """A problem of one rule's field, named by index and name."""
    return {
        "field": f"rules[{index}].{field}",
        "rules": [index],
        "detail": f"{rule_label(index, rule.name)}: {detail}",
    }


def resolve_rule(index: int, rule: RuleSpec, lookups: Lookups) -> RuleFacts | list[dict[str, Any]]:
    """The rule's facts, or its problems."""
    problems: list[dict[str, Any]] = []
    department = lookups.departments.get(rule.department)
    if department is None:
        problems.append(problem(index, rule, "department", f"no department {rule.department}"))
    elif not department[1]:
        problems.append(
            problem(index, rule, "department", f"department {rule.department} is inactive")
        )
    category = resolve_category(rule, lookups)
    if isinstance(category, str):
        problems.append(problem(index, rule, "category", category))
    area = resolve_area(index, rule, lookups)
    if isinstance(area, str):
        problems.append(problem(index, rule, "area", area))
    if problems or department is None or isinstance(category, str) or isinstance(area, str):
        return problems
    return RuleFacts(
        index=index,
        name=rule.name,
        area_kind=area.kind,
        area_id=area.area_id,
        footprint=area.footprint,
        area_m2=area.area_m2,
        category_level=category[0],
        category_id=category[1],
        urgency=rule.urgency,
        priority=rule.priority,
        department_id=department[0],
    )


def resolve_category(rule: RuleSpec, lookups: Lookups) -> tuple[CategoryLevel, int | None] | str:
    """(level, id) of the rule's category selector, or what is wrong with it."""
    if rule.category == ANY_CATEGORY:
        return CategoryLevel.ANY, None
    candidates = [
        found
        for found in lookups.categories.get(rule.category, [])
        if rule.category_kind in (None, found[0])
    ]
    kind = f" ({rule.category_kind})" if rule.category_kind else ""
    if not candidates:
        return f"no category {rule.category}{kind}"
    if len(candidates) > 1:
        kinds = ", ".join(sorted({found[0] for found in candidates}))
        return f"category {rule.category} exists as {kinds}: give category_kind"
    _, category_id, level = candidates[0]
    return CategoryLevel(level), category_id


@dataclass(frozen=True)
class ResolvedArea:
    kind: AreaKind
    area_id: int | None
    footprint: frozenset[int]
    area_m2: float | None


def resolve_area(index: int, rule: RuleSpec, lookups: Lookups) -> ResolvedArea | str:
    """The rule's area with ids and m², or what is wrong with it."""
    area = rule.area_selector()
    if area.kind is AreaKind.CITYWIDE:
        return ResolvedArea(area.kind, None, frozenset(), None)
    if area.kind is AreaKind.POLYGON:
        assert area.polygon is not None
        if index not in lookups.polygons:
            return polygon_problem(area.polygon) or "polygon is not readable"
        area_m2, cells = lookups.polygons[index]
        return ResolvedArea(area.kind, None, cells, area_m2)
    if area.kind in REGION_KINDS:
        region = lookups.regions.get(area.codes[0])
        if region is None or region[1] != area.kind.value:
            return f"no {area.kind} {area.codes[0]}"
        return ResolvedArea(area.kind, region[0], frozenset(), region[2])
    missing = [code for code in area.codes if code not in lookups.cells]
    if missing:
        return f"no cell {', '.join(missing[:10])}"
    listed = [lookups.cells[code] for code in area.codes]
    area_id = listed[0][0] if area.kind is AreaKind.CELL else None
    footprint = frozenset(cell_id for cell_id, _ in listed)
    return ResolvedArea(area.kind, area_id, footprint, sum(area_m2 for _, area_m2 in listed))


AREAS_OVERLAP = text("""
WITH geometries AS (
    SELECT side, CASE WHEN polygon IS NOT NULL
        THEN ST_SetSRID(ST_GeomFromGeoJSON(polygon), 4326)
        ELSE (SELECT ST_Union(gc.geom) FROM grid_cell gc WHERE gc.id = ANY(cell_ids)) END AS geom
    FROM (VALUES (1, CAST(:polygon_a AS text), CAST(:cells_a AS int[])),
        (2, CAST(:polygon_b AS text), CAST(:cells_b AS int[]))) AS s(side, polygon, cell_ids)
)
SELECT ST_Relate(a.geom, b.geom, 'T********')
FROM geometries a, geometries b WHERE a.side = 1 AND b.side = 2
""")


def areas_overlap(
    session: Session, first: RuleFacts, second: RuleFacts, polygons: dict[int, dict[str, Any]]
) -> bool:
    """Whether the interiors of two cell-set/polygon areas intersect (touching is not enough)."""

    def polygon_of(rule: RuleFacts) -> str | None:
        polygon = polygons.get(rule.index)
        return json.dumps(polygon) if polygon is not None else None

    params = {
        "polygon_a": polygon_of(first),
        "cells_a": sorted(first.footprint),
        "polygon_b": polygon_of(second),
        "cells_b": sorted(second.footprint),
    }
    return bool(session.scalar(AREAS_OVERLAP, params))
