"""Rule sets: save a new version (resolved against the database, checked for conflicts and
expanded into lookup keys), find the version in force, list and show versions, simulate a draft.

The pure rules (specs, precedence, conflicts) are dispatch.rules.rulebook; resolving a spec's
names against the database is dispatch.rules.resolution; the lookup keys and the probe that
routes a case are dispatch.rules.lookup; routing cases is dispatch.rules.routing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from citygrid.errors import Conflict, NotFound
from dispatch.models import RuleSet
from dispatch.rules.lookup import CASE_FACTS_COLUMNS, CASE_FACTS_JOINS, expand_keys, winner_cte
from dispatch.rules.resolution import areas_overlap, resolve_rules, spec_polygons
from dispatch.rules.rulebook import (
    AreaKind,
    RuleFacts,
    RuleSetRejected,
    RuleSetSpec,
    conflict_problems,
    find_conflicts,
    precedence,
    summarize_changes,
)

# Serializes saves: the next version number is read, then written.
SAVE_LOCK_KEY = 0x52554C45  # "RULE"


def rule_set_in_force(session: Session, at: datetime) -> RuleSet | None:
    """The rule set with the greatest effective_from <= at, or None before the first."""
    return session.scalar(
        select(RuleSet)
        .where(RuleSet.effective_from <= at)
        .order_by(RuleSet.effective_from.desc(), RuleSet.version.desc())
        .limit(1)
    )


def newest_rule_set(session: Session) -> RuleSet | None:
    """The rule set with the highest version, or None when there is none."""
    return session.scalar(select(RuleSet).order_by(RuleSet.version.desc()).limit(1))


def rule_set_by_version(session: Session, version: int) -> RuleSet:
    """The rule set of that version; NotFound otherwise."""
    rule_set = session.scalar(select(RuleSet).where(RuleSet.version == version))
    if rule_set is None:
        raise NotFound(f"there is no rule set version {version}")
    return rule_set


def save_rule_set(
    session: Session, spec: RuleSetSpec, *, by: Principal | None, now: datetime
) -> RuleSet:
    """The new version, validated (422 naming rule and field, every conflicting pair) and
    expanded into lookup keys. Conflict (409) when it would take effect before the newest set:
    versions take effect in order, so a case's version is the one in force when routed."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SAVE_LOCK_KEY})
    previous = newest_rule_set(session)
    if previous is not None and spec.effective_from < previous.effective_from:
        raise Conflict(
            f"effective_from {spec.effective_from.isoformat()} is before the newest rule set "
            f"(v{previous.version}, effective from {previous.effective_from.isoformat()})"
        )
    facts = checked_rules(session, spec)
    previous_spec = RuleSetSpec.model_validate(previous.source) if previous else None
    changes = summarize_changes(previous_spec, previous.version if previous else None, spec)
    return store_rule_set(session, spec, facts, by=by, changes=changes)


def checked_rules(session: Session, spec: RuleSetSpec) -> list[RuleFacts]:
    """The rules resolved against the database; RuleSetRejected listing every conflict."""
    facts = resolve_rules(session, spec)
    polygons = {rule.index: rule.polygon for rule in spec_polygons(spec)}
    conflicts = find_conflicts(
        facts,
        areas_overlap=partial(areas_overlap, session, polygons=polygons),
    )
    if conflicts:
        raise RuleSetRejected(
            f"{len(conflicts)} pair(s) of rules conflict", problems=conflict_problems(conflicts)
        )
    return facts


def store_rule_set(
    session: Session,
    spec: RuleSetSpec,
    facts: Sequence[RuleFacts],
    *,
    by: Principal | None,
    changes: dict[str, Any],
) -> RuleSet:
    """The next version written with its rules (in precedence order) and their lookup keys."""
    version = (session.scalar(select(func.max(RuleSet.version))) or 0) + 1
    rule_set = RuleSet(
        version=version,
        effective_from=spec.effective_from,
        comment=spec.comment,
        auto_dispatch=spec.auto_dispatch,
        escalation=spec.escalation or [],
        source=spec.model_dump(mode="json", exclude_none=True),
        changes=changes,
        created_by=by.user_id if by else None,
    )
    session.add(rule_set)
    session.flush()
    insert_rules(session, rule_set.id, spec, facts)
    expand_keys(session, rule_set.id)
    return rule_set


def insert_rules(
    session: Session, rule_set_id: int, spec: RuleSetSpec, facts: Sequence[RuleFacts]
) -> None:
    """One INSERT … SELECT of all rules from a JSON array, numbered in precedence order."""
    polygons = {item.index: json.dumps(item.polygon) for item in spec_polygons(spec)}
    rows = [
        rule_row(ordinal, rule, polygons.get(rule.index))
        for ordinal, rule in enumerate(precedence(facts), start=1)
    ]
    session.execute(INSERT_RULES, {"rule_set_id": rule_set_id, "rules": json.dumps(rows)})


def rule_row(ordinal: int, rule: RuleFacts, polygon: str | None) -> dict[str, Any]:
    """A routing_rule row as JSON for INSERT_RULES."""
    cells = rule.area_kind in (AreaKind.CELL, AreaKind.CELLS)
    return {
        "ordinal": ordinal,
        "name": rule.name,
        "category_level": rule.category_level.value,
        "category_id": rule.category_id,
        "urgency": rule.urgency,
        "area_kind": rule.area_kind.value,
        "area_region_id": rule.area_id if rule.area_kind is not AreaKind.CELL else None,
        "area_cell_ids": sorted(rule.footprint) if cells else None,
        "polygon": polygon,
        "area_m2": rule.area_m2,
        "priority": rule.priority,
        "department_id": rule.department_id,
    }


INSERT_RULES = text("""
INSERT INTO routing_rule (rule_set_id, ordinal, name, category_level, category_id, urgency,
    area_kind, area_region_id, area_cell_ids, area_geom, area_m2, priority, department_id)
SELECT :rule_set_id, r.ordinal, r.name, r.category_level, r.category_id, r.urgency,
    r.area_kind, r.area_region_id, r.area_cell_ids,
    ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(r.polygon), 4326)), r.area_m2, r.priority,
    r.department_id
FROM jsonb_to_recordset(CAST(:rules AS jsonb)) AS r(ordinal int, name text,
    category_level text, category_id int, urgency text, area_kind text, area_region_id int,
    area_cell_ids jsonb, polygon text, area_m2 float8, priority int, department_id int)
""")


def rules_in_precedence(session: Session, rule_set_id: int) -> Sequence[Row[Any]]:
    """The rules of a set, first (winning) first, with department, category and region codes."""
    return session.execute(
        text("""
        SELECT r.id, r.ordinal, r.name, r.category_level, cat.kind AS category_kind,
            cat.code AS category_code, r.urgency, r.area_kind, area.code AS area_code,
            r.area_cell_ids, r.area_m2, r.priority, d.code AS department_code
        FROM routing_rule r
        JOIN department d ON d.id = r.department_id
        LEFT JOIN category cat ON cat.id = r.category_id
        LEFT JOIN grid_region area ON area.id = r.area_region_id
        WHERE r.rule_set_id = :rule_set_id ORDER BY r.ordinal
        """),
        {"rule_set_id": rule_set_id},
    ).all()


SIMULATE = text(f"""
WITH period AS (
    SELECT {CASE_FACTS_COLUMNS},
        coalesce(c.rule_set_id, (SELECT rs.id FROM rule_set rs
            WHERE rs.effective_from <= c.created_at AND rs.id <> :draft_id
            ORDER BY rs.effective_from DESC, rs.version DESC LIMIT 1)) AS actual_set_id
    FROM event_case c
    {CASE_FACTS_JOINS}
    WHERE c.created_at >= :period_from AND c.created_at < :period_to
),
draft_batch AS (SELECT p.*, CAST(:draft_id AS integer) AS rule_set_id FROM period p),
actual_batch AS (SELECT p.*, p.actual_set_id AS rule_set_id FROM period p),
{winner_cte("draft_winner", "draft_batch")},
{winner_cte("actual_winner", "actual_batch")},
compared AS (
    SELECT p.case_id, p.number, ar.department_id AS from_id, dr.department_id AS to_id
    FROM period p
    LEFT JOIN actual_winner aw ON aw.case_id = p.case_id
    LEFT JOIN routing_rule ar ON ar.rule_set_id = p.actual_set_id AND ar.ordinal = aw.ordinal
    LEFT JOIN draft_winner dw ON dw.case_id = p.case_id
    LEFT JOIN routing_rule dr ON dr.rule_set_id = :draft_id AND dr.ordinal = dw.ordinal
),
moved AS (
    SELECT from_id, to_id, case_id, number,
        row_number() OVER (PARTITION BY from_id, to_id ORDER BY case_id) AS position
    FROM compared WHERE from_id IS DISTINCT FROM to_id
),
pairs AS (
    SELECT from_id, to_id, count(*) AS cases,
        array_agg(number ORDER BY case_id) FILTER (WHERE position <= :examples) AS examples
    FROM moved GROUP BY from_id, to_id
)
SELECT
    (SELECT jsonb_build_object(
        'cases', count(*),
        'unchanged', count(*) FILTER (WHERE from_id IS NOT DISTINCT FROM to_id),
        'changed', count(*) FILTER (WHERE from_id <> to_id),
        'newly_unrouted', count(*) FILTER (WHERE from_id IS NOT NULL AND to_id IS NULL),
        'newly_routed', count(*) FILTER (WHERE from_id IS NULL AND to_id IS NOT NULL))
     FROM compared) AS totals,
    coalesce((SELECT jsonb_agg(jsonb_build_object('from', fd.code, 'to', td.code,
            'cases', pr.cases, 'examples', coalesce(pr.examples, '{{}}'))
            ORDER BY pr.cases DESC, fd.code, td.code)
        FROM pairs pr
        LEFT JOIN department fd ON fd.id = pr.from_id
        LEFT JOIN department td ON td.id = pr.to_id), '[]') AS pairs
""")


@dataclass(frozen=True)
class Simulation:
    """A draft set against the cases of a period: totals and moves by department pair."""

    totals: dict[str, int]
    pairs: list[dict[str, Any]]  # {from, to, cases, examples}; None codes: unrouted


def simulate_rule_set(
    session: Session,
    spec: RuleSetSpec,
    *,
    period_from: datetime,
    period_to: datetime,
    examples_per_pair: int,
) -> Simulation:
    """How the cases created in [period_from, period_to) would be routed by the draft, compared
    with the version each was routed with (or in force at its creation). The draft is saved in
    a savepoint that is always rolled back: nothing of it persists."""
    savepoint = session.begin_nested()
    try:
        facts = checked_rules(session, spec)
        draft = store_rule_set(session, spec, facts, by=None, changes={})
        params = {
            "draft_id": draft.id,
            "period_from": period_from,
            "period_to": period_to,
            "examples": examples_per_pair,
        }
        row = session.execute(SIMULATE, params).one()
    finally:
        savepoint.rollback()
    return Simulation(totals=row.totals, pairs=row.pairs)


RULE_SET_SUMMARIES = text("""
SELECT rs.id, rs.version, rs.effective_from, rs.comment, rs.auto_dispatch, rs.changes,
    rs.created_at, rs.created_by, u.username AS created_by_username,
    (SELECT count(*) FROM routing_rule r WHERE r.rule_set_id = rs.id) AS rule_count
FROM rule_set rs LEFT JOIN app_user u ON u.id = rs.created_by
ORDER BY rs.version DESC
""")


def rule_set_summaries(session: Session) -> Sequence[Row[Any]]:
    """Every version, newest first, with its author's username and rule count."""
    return session.execute(RULE_SET_SUMMARIES).all()


# Batch routing moved to dispatch.rules.routing (issue 14). Until every importer reads it from
# there, the names they use still resolve through this module, loaded on first use (routing
# imports this module, so a top-level import would be circular).
