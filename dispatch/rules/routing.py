"""Batch routing: decide where cases go under the rule set in force, store each decision with
its reason, and read the latest decisions back.

Routing a batch of cases is one statement over the lookup of dispatch.rules.lookup; a matched
component's active maintaining department wins over the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from dispatch.rules.lookup import CASE_FACTS_COLUMNS, CASE_FACTS_JOINS, winner_cte
from dispatch.rules.service import rule_set_in_force
from events.cases.schemas import RoutingReasonFields


@dataclass(frozen=True)
class RouteDecision:
    """Where a case goes (or why nowhere) under one rule-set version."""

    case_id: int
    decision_id: int  # the stored routing_decision row
    department_id: int | None
    department_code: str | None
    rule_set_id: int | None
    rule_set_version: int | None
    rule_id: int | None
    auto_dispatch: bool
    reason: str
    component_id: int | None = None  # set when the matched component's maintainer decided


# Why: "rule 12 'name' (v3): category 0102 in street 110101001 → 110101-HW".
REASON_SQL = """CASE WHEN r.id IS NULL THEN
    'no rule of v' || rs.version || ' matches category ' || b.category_code || ' in cell '
        || b.cell_code || ' (urgency ' || b.urgency || ')'
ELSE 'rule ' || r.ordinal || coalesce(' ''' || r.name || '''', '') || ' (v' || rs.version
    || '): category ' || b.category_code || ' in ' || CASE r.area_kind
        WHEN 'citywide' THEN 'citywide'
        WHEN 'cell' THEN 'cell ' || b.cell_code
        WHEN 'cells' THEN 'a set of ' || jsonb_array_length(r.area_cell_ids) || ' cells'
        WHEN 'polygon' THEN 'a polygon of ' || round(r.area_m2) || ' m²'
        ELSE r.area_kind || ' ' || area.code END
    || ' → ' || d.code
END"""

# A matched component with an active maintaining department (养护单位) wins over the rules.
MAINTAINER_JOINS = """LEFT JOIN component cp ON cp.id = b.component_id
    LEFT JOIN department md ON md.id = cp.maintainer_department_id AND md.is_active"""
MAINTAINER_REASON_SQL = (
    "'component ' || cp.code || '''s maintainer (养护单位) ' || md.name || ' → ' || md.code"
)

DECIDED_CTES = f"""
WITH batch AS (
    SELECT {CASE_FACTS_COLUMNS}, CAST(:rule_set_id AS integer) AS rule_set_id
    FROM unnest(CAST(:case_ids AS bigint[])) AS ids(id)
    JOIN event_case c ON c.id = ids.id
    {CASE_FACTS_JOINS}
),
{winner_cte("winner", "batch")},
decided AS (
    SELECT b.case_id, rs.id AS rule_set_id, CASE WHEN md.id IS NULL THEN r.id END AS rule_id,
        CASE WHEN md.id IS NOT NULL THEN cp.id END AS component_id,
        coalesce(md.id, r.department_id) AS department_id,
        ((r.id IS NOT NULL OR md.id IS NOT NULL)
            AND rs.auto_dispatch ?| ARRAY[b.category_code, b.major_code, '*',
            b.category_kind || ':' || b.category_code, b.category_kind || ':' || b.major_code])
            AS auto_dispatch,
        CASE WHEN md.id IS NOT NULL THEN {MAINTAINER_REASON_SQL} ELSE {REASON_SQL} END AS reason
    FROM batch b
    JOIN rule_set rs ON rs.id = b.rule_set_id
    LEFT JOIN winner w ON w.case_id = b.case_id
    LEFT JOIN routing_rule r ON r.rule_set_id = b.rule_set_id AND r.ordinal = w.ordinal
    LEFT JOIN department d ON d.id = r.department_id
    LEFT JOIN grid_region area ON area.id = r.area_region_id
    {MAINTAINER_JOINS}
)"""
INSERT_DECISIONS = """
    INSERT INTO routing_decision (case_id, rule_set_id, rule_id, component_id, department_id,
        auto_dispatch, reason, decided_at)
    SELECT case_id, rule_set_id, rule_id, component_id, department_id, auto_dispatch, reason, :at
    FROM decided"""
DECIDE_ROUTES = text(f"""{DECIDED_CTES},
stored AS ({INSERT_DECISIONS}
    RETURNING id, case_id, rule_set_id, rule_id, component_id, department_id, auto_dispatch,
        reason
)
SELECT s.case_id, s.id AS decision_id, s.department_id, d.code AS department_code, s.rule_set_id,
    CAST(:version AS integer) AS rule_set_version, s.rule_id, s.auto_dispatch, s.reason,
    s.component_id
FROM stored s LEFT JOIN department d ON d.id = s.department_id
""")
# The same decisions, stored without sending them back (bulk re-routing needs only the count).
STORE_ROUTES = text(f"{DECIDED_CTES}{INSERT_DECISIONS}")

# Without rules only a component's maintainer can decide.
DECIDE_WITHOUT_RULES = text(f"""
WITH stored AS (
    INSERT INTO routing_decision (case_id, component_id, department_id, auto_dispatch, reason,
        decided_at)
    SELECT b.id, CASE WHEN md.id IS NOT NULL THEN cp.id END, md.id, false,
        CASE WHEN md.id IS NOT NULL THEN {MAINTAINER_REASON_SQL} ELSE :reason END, :at
    FROM unnest(CAST(:case_ids AS bigint[])) AS ids(id) JOIN event_case b ON b.id = ids.id
    {MAINTAINER_JOINS}
    RETURNING id, case_id, component_id, department_id, auto_dispatch, reason
)
SELECT s.case_id, s.id AS decision_id, s.department_id, d.code AS department_code,
    NULL::int AS rule_set_id, NULL::int AS rule_set_version, NULL::int AS rule_id,
    s.auto_dispatch, s.reason, s.component_id
FROM stored s LEFT JOIN department d ON d.id = s.department_id
""")


def decide_routes(
    session: Session, case_ids: Sequence[int], *, at: datetime
) -> dict[int, RouteDecision]:
    """The decision for each case under the rule set in force at `at`, each stored as a
    RoutingDecision row (one INSERT … SELECT … RETURNING); cases that do not exist are left out."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rule_set = rule_set_in_force(session, at)
    if rule_set is None:
        reason = f"no rule set in force at {at.isoformat()}"
        rows = session.execute(DECIDE_WITHOUT_RULES, {"case_ids": ids, "reason": reason, "at": at})
    else:
        params = {"case_ids": ids, "rule_set_id": rule_set.id, "version": rule_set.version}
        rows = session.execute(DECIDE_ROUTES, {**params, "at": at})
    return decisions_by_case(rows.all())


def store_routes(session: Session, case_ids: Sequence[int], *, at: datetime) -> int:
    """Route the cases like `decide_routes` and store the decisions, returning only how many
    were stored: bulk re-routing does not carry a million decisions back to Python."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    rule_set = rule_set_in_force(session, at)
    if rule_set is None:
        return len(decide_routes(session, ids, at=at))
    params = {"case_ids": ids, "rule_set_id": rule_set.id, "at": at}
    return int(session.execute(STORE_ROUTES, params).rowcount)  # type: ignore[attr-defined]


def decisions_by_case(rows: Sequence[Row[Any]]) -> dict[int, RouteDecision]:
    """RouteDecisions by case id from rows shaped like RouteDecision."""
    return {row.case_id: RouteDecision(**row._asdict()) for row in rows}


LATEST_DECISIONS = text("""
SELECT DISTINCT ON (rd.case_id) rd.case_id, rd.id AS decision_id, rd.department_id,
    d.code AS department_code,
    rd.rule_set_id, rs.version AS rule_set_version, rd.rule_id, rd.auto_dispatch, rd.reason,
    rd.component_id
FROM routing_decision rd
LEFT JOIN department d ON d.id = rd.department_id
LEFT JOIN rule_set rs ON rs.id = rd.rule_set_id
WHERE rd.case_id = ANY(CAST(:case_ids AS bigint[]))
ORDER BY rd.case_id, rd.decided_at DESC, rd.id DESC
""")


def latest_decisions(session: Session, case_ids: Sequence[int]) -> dict[int, RouteDecision]:
    """The last stored decision of each case that has one."""
    if not case_ids:
        return {}
    rows = session.execute(LATEST_DECISIONS, {"case_ids": list(case_ids)}).all()
    return decisions_by_case(rows)


# The fields of REASON_SQL / MAINTAINER_REASON_SQL read back from the decision's own columns
# (rule, rule set, component, department) and the case's category and cell, so that pages can
# say the reason in any language (events.cases.routing_reasons) without a column of its own.
REASON_FIELDS = text("""
SELECT rd.id AS decision_id,
    CASE WHEN rd.component_id IS NOT NULL THEN 'component_maintainer'
        WHEN rd.rule_id IS NOT NULL THEN 'rule'
        WHEN rd.rule_set_id IS NOT NULL THEN 'no_matching_rule'
        ELSE 'no_rule_set' END AS code,
    rs.version AS rule_set_version, r.id AS rule_id, r.ordinal AS rule_ordinal,
    r.name AS rule_name, cat.code AS category_code, cat.name_zh AS category_name_zh,
    cat.name_en AS category_name_en, cat.standard AS category_standard, r.area_kind,
    CASE WHEN r.area_kind = 'cell' THEN g.code ELSE area.code END AS area_code,
    area.name AS area_name, jsonb_array_length(r.area_cell_ids) AS area_cell_count,
    CASE WHEN r.area_kind = 'polygon' THEN r.area_m2 END AS area_m2,
    g.code AS cell_code, c.urgency, cp.code AS component_code,
    d.code AS department_code, d.name AS department_name
FROM routing_decision rd
JOIN event_case c ON c.id = rd.case_id
JOIN category cat ON cat.id = c.category_id
JOIN grid_cell g ON g.id = c.cell_id
LEFT JOIN rule_set rs ON rs.id = rd.rule_set_id
LEFT JOIN routing_rule r ON r.id = rd.rule_id
LEFT JOIN grid_region area ON area.id = r.area_region_id
LEFT JOIN component cp ON cp.id = rd.component_id
LEFT JOIN department d ON d.id = rd.department_id
WHERE rd.id = ANY(CAST(:decision_ids AS bigint[]))
""")


def reason_fields(session: Session, decision_ids: Sequence[int]) -> dict[int, RoutingReasonFields]:
    """The reason of each stored decision as fields, by decision id (one statement)."""
    if not decision_ids:
        return {}
    rows = session.execute(REASON_FIELDS, {"decision_ids": sorted(set(decision_ids))}).mappings()
    return {row["decision_id"]: RoutingReasonFields.model_validate(dict(row)) for row in rows}
