"""Emptying one district's grid for a re-import: `citygrid grid reset --district CODE`.

What refers to a district's units decides whether it can go, by this table (every foreign key
to grid_cell or grid_region is found in the catalogue, so a reference added later is refused
until it is given a rule here):

| reference                       | on reset                                                   |
|---------------------------------|------------------------------------------------------------|
| grid_cell.community_id,         | the district's own units: deleted (cells, communities,     |
| grid_region.parent_id           | streets, then the district)                                |
| component.cell_id (nullable)    | the link is cleared; the component keeps its point and     |
|                                 | is linked again when it is next imported or edited         |
| event_case.cell_id (NOT NULL)   | refused: a case must keep its cell and its history is      |
|                                 | append-only, so no option deletes or unlinks cases         |
| routing_rule.area_region_id,    | refused: the rule would silently widen to "anywhere";      |
| routing_rule.area_cell_ids      | change or retire the rule (a new rule set) first           |
| any other                       | refused, naming the table and column                       |

Caches built on the grid (the cell index, the spatial weights of the hotspot maps) are keyed on
the grid's revision, which the reset changes in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import Conflict, NotFound
from grid.revision import record_grid_change

OWN_REFERENCES = frozenset({("grid_cell", "community_id"), ("grid_region", "parent_id")})
CLEARED_LINKS = {("component", "cell_id"): "component cell links"}
EXAMPLES = 5  # how many referencing rows a refusal names

REFERENCES = text(
    """
    SELECT child.relname AS table_name, attribute.attname AS column_name,
           parent.relname AS referenced
    FROM pg_constraint fk
    JOIN pg_class child ON child.oid = fk.conrelid
    JOIN pg_class parent ON parent.oid = fk.confrelid
    JOIN pg_namespace ns ON ns.oid = child.relnamespace AND ns.nspname = current_schema()
    JOIN pg_attribute attribute
      ON attribute.attrelid = fk.conrelid AND attribute.attnum = fk.conkey[1]
    WHERE fk.contype = 'f' AND parent.relname IN ('grid_cell', 'grid_region')
    ORDER BY child.relname, attribute.attname
    """
)
DISTRICT_REGIONS = text(
    """
    WITH RECURSIVE unit AS (
        SELECT id, level FROM grid_region WHERE code = :code AND level = 'district'
        UNION ALL
        SELECT r.id, r.level FROM grid_region r JOIN unit ON r.parent_id = unit.id
    )
    SELECT id, level FROM unit
    """
)


@dataclass
class ResetPlan:
    """What resetting a district removes, clears, and what stands in its way."""

    code: str
    name: str
    region_ids: dict[str, list[int]]  # level → ids
    cell_ids: list[int]
    cleared: dict[str, int] = field(default_factory=dict)  # link description → rows
    blockers: list[str] = field(default_factory=list)

    def removed(self) -> str:
        """'1 district, 2 streets, 6 communities, 150 cells'."""
        counts = (
            (len(self.region_ids.get("district", [])), "district", "districts"),
            (len(self.region_ids.get("street", [])), "street", "streets"),
            (len(self.region_ids.get("community", [])), "community", "communities"),
            (len(self.cell_ids), "cell", "cells"),
        )
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)

    def links(self) -> str:
        """'3 component cell links' or 'no links'."""
        parts = [f"{rows} {what}" for what, rows in self.cleared.items() if rows]
        return ", ".join(parts) or "no links"


def plan_reset(session: Session, code: str, *, lock: bool = False) -> ResetPlan:
    """What `reset_district` would do; NotFound when there is no such district. With `lock`, the
    district's units are locked first, so no case can be filed into them until the end of the
    transaction (a case's foreign key takes a share lock on its cell)."""
    rows = session.execute(DISTRICT_REGIONS, {"code": code}).all()
    if not rows:
        raise NotFound(f"no district with code {code}", field="district")
    region_ids: dict[str, list[int]] = {}
    for row in rows:
        region_ids.setdefault(row.level, []).append(row.id)
    every_region = [row.id for row in rows]
    if lock:
        session.execute(
            text("SELECT id FROM grid_region WHERE id = ANY(:ids) FOR UPDATE"),
            {"ids": every_region},
        )
    cells_sql = "SELECT id FROM grid_cell WHERE community_id = ANY(:ids) ORDER BY id"
    cell_ids = list(
        session.scalars(
            text(cells_sql + (" FOR UPDATE" if lock else "")),
            {"ids": region_ids.get("community", [])},
        )
    )
    name = session.scalar(
        text("SELECT name FROM grid_region WHERE id = :id"), {"id": region_ids["district"][0]}
    )
    plan = ResetPlan(code, str(name), region_ids, cell_ids)
    ids_of = {"grid_cell": cell_ids, "grid_region": every_region}
    for reference in session.execute(REFERENCES).all():
        key = (reference.table_name, reference.column_name)
        if key in OWN_REFERENCES:
            continue
        ids = ids_of[reference.referenced]
        count = _count_referencing(session, *key, ids)
        if key in CLEARED_LINKS:
            plan.cleared[CLEARED_LINKS[key]] = count
        elif count:
            plan.blockers.append(_blocker(session, *key, ids, count))
    plan.blockers += _rules_naming_cells(session, cell_ids)
    return plan


def _count_referencing(session: Session, table: str, column: str, ids: list[int]) -> int:
    # Names from the catalogue, quoted: never user input.
    sql = f'SELECT count(*) FROM "{table}" WHERE "{column}" = ANY(:ids)'
    return int(session.scalar(text(sql), {"ids": ids}) or 0)


def _blocker(session: Session, table: str, column: str, ids: list[int], count: int) -> str:
    if (table, column) == ("event_case", "cell_id"):
        numbers = session.scalars(
            text("SELECT number FROM event_case WHERE cell_id = ANY(:ids) ORDER BY id LIMIT :n"),
            {"ids": ids, "n": EXAMPLES},
        ).all()
        return (
            f"{count} cases lie in the district's cells (e.g. {', '.join(numbers)}). A case must "
            "keep its cell (event_case.cell_id is required) and case history is append-only, so "
            "the grid of a district with cases cannot be emptied, not even with --force: import "
            "corrections as new units instead"
        )
    if (table, column) == ("routing_rule", "area_region_id"):
        rules = session.scalars(
            text(
                "SELECT id FROM routing_rule WHERE area_region_id = ANY(:ids) ORDER BY id LIMIT :n"
            ),
            {"ids": ids, "n": EXAMPLES},
        ).all()
        return (
            f"{count} routing rules name the district's streets or communities (rule ids "
            f"{', '.join(map(str, rules))}); change or retire them first (a new rule set)"
        )
    return f"{count} rows of {table}.{column} refer to the district's units"


def _rules_naming_cells(session: Session, cell_ids: list[int]) -> list[str]:
    """Routing rules whose area lists cells by id (a JSON array, not a foreign key)."""
    exists = session.scalar(text("SELECT to_regclass('routing_rule') IS NOT NULL"))
    if not exists or not cell_ids:
        return []
    rules = session.scalars(
        text(
            "SELECT id FROM routing_rule WHERE area_cell_ids IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM jsonb_array_elements_text(area_cell_ids) AS cell(id) "
            "WHERE cell.id::bigint = ANY(:ids)) ORDER BY id"
        ),
        {"ids": cell_ids},
    ).all()
    if not rules:
        return []
    shown = ", ".join(map(str, rules[:EXAMPLES]))
    return [
        f"{len(rules)} routing rules name the district's cells (rule ids {shown}); change or "
        "retire them first (a new rule set)"
    ]


def reset_district(session: Session, code: str) -> ResetPlan:
    """Delete the district's cells, communities, streets and the district, clear the links to
    them, and change the grid's revision, in the session's transaction; Conflict (nothing
    changed) when anything in `ResetPlan.blockers` refers to them."""
    plan = plan_reset(session, code, lock=True)
    if plan.blockers:
        raise Conflict(
            f"district {code} cannot be reset: " + "; ".join(plan.blockers), field="district"
        )
    for table, column in CLEARED_LINKS:
        session.execute(
            text(f'UPDATE "{table}" SET "{column}" = NULL WHERE "{column}" = ANY(:ids)'),
            {"ids": plan.cell_ids},
        )
    session.execute(text("DELETE FROM grid_cell WHERE id = ANY(:ids)"), {"ids": plan.cell_ids})
    for level in ("community", "street", "district"):
        session.execute(
            text("DELETE FROM grid_region WHERE id = ANY(:ids)"),
            {"ids": plan.region_ids.get(level, [])},
        )
    record_grid_change(session)
    session.flush()
    return plan
