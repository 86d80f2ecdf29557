"""Performance evaluation in SQL: one set-based GROUP BY statement per group kind, the counts
turned into rates, scores and grades by `dispatch.evaluation.grading`.

Periods are half-open, [from, to), and each family has one anchor:
- departments: an assignment (case_assignment) belongs to the period its deadline (due_at, as it
  stands after postponements) falls in; an assignment without a deadline, to its dispatch time;
- areas: a case belongs to the period it was reported in (event_case.created_at);
- inspectors: a report to its created_at, a verification to the time of the verify transition.
  A verification is on time by the working hours since the handling it verifies, which the case
  action computed on the default calendar (holidays included) and recorded in its history row
  (details.verify_working_hours); a row without them counts as a verification, never as one on
  time. No time-zone or working-time arithmetic is done here.
Recurrence (events.recurrence.rules): of a department's assignments of the period that ended
with the case's closure (closed_cases), those whose case has come back as at least one linked
recurrence (recurred); recurrence_rate = recurred / closed_cases.
Outcomes (handled, closed, …) are counted as they stand at `now`. Merged duplicates
(merged_into_id set) are not cases of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch.evaluation import grading
from dispatch.evaluation.grading import GroupKind
from events.recurrence import service as recurrence

DEPARTMENT_SQL = f"""
WITH facts AS (
    SELECT a.department_id,
           count(*) AS dispatched,
           count(*) FILTER (WHERE a.returned_at IS NOT NULL) AS returned,
           count(*) FILTER (WHERE a.handled_at IS NOT NULL OR a.ended_at IS NULL)
               AS due_to_handle,
           count(a.handled_at) AS handled,
           count(*) FILTER (WHERE a.handled_at <= a.due_at
                               OR (a.handled_at IS NOT NULL AND a.due_at IS NULL))
               AS handled_on_time,
           count(*) FILTER (WHERE (a.handled_at IS NOT NULL OR a.ended_at IS NULL)
                               AND coalesce(a.handled_at, :now) > a.due_at) AS overdue,
           count(*) FILTER (WHERE a.handled_at IS NOT NULL AND a.rework_count > 0) AS reworked,
           coalesce(sum(a.postponement_count)
               FILTER (WHERE a.handled_at IS NOT NULL OR a.ended_at IS NULL), 0) AS postponements,
           sum(a.handling_hours) FILTER (WHERE a.handled_at IS NOT NULL) AS handling_hours_sum,
           count(a.handling_hours) FILTER (WHERE a.handled_at IS NOT NULL) AS timed_handled,
           count(*) FILTER (WHERE a.end_reason = 'closed') AS closed_cases,
           count(*) FILTER (WHERE a.end_reason = 'closed' AND EXISTS (
               SELECT 1 FROM case_recurrence r JOIN event_case n ON n.id = r.case_id
               WHERE r.previous_case_id = a.case_id AND {recurrence.COUNTS_AS_NEW})) AS recurred
    FROM case_assignment a
    WHERE a.case_id NOT IN (SELECT id FROM event_case WHERE merged_into_id IS NOT NULL)
      AND ((a.due_at >= :period_from AND a.due_at < :period_to)
        OR (a.due_at IS NULL AND a.dispatched_at >= :period_from AND a.dispatched_at < :period_to))
    GROUP BY a.department_id
)
SELECT d.id, d.code AS key, d.name, facts.*
FROM department d
LEFT JOIN facts ON facts.department_id = d.id
WHERE (d.is_active OR facts.department_id IS NOT NULL)
  AND (CAST(:only_department AS integer) IS NULL OR d.id = :only_department)
ORDER BY d.code
"""

# The region of each cell at the level asked for: a community, its street, or its district.
CELL_REGION_SQL = {
    GroupKind.COMMUNITY: "SELECT g.id AS cell_id, g.community_id AS region_id FROM grid_cell g",
    GroupKind.STREET: (
        "SELECT g.id AS cell_id, community.parent_id AS region_id FROM grid_cell g "
        "JOIN grid_region community ON community.id = g.community_id"
    ),
    GroupKind.DISTRICT: (
        "SELECT g.id AS cell_id, street.parent_id AS region_id FROM grid_cell g "
        "JOIN grid_region community ON community.id = g.community_id "
        "JOIN grid_region street ON street.id = community.parent_id"
    ),
}

AREA_SQL = """
WITH cell_region AS ({cell_region}),
facts AS (
    SELECT cr.region_id,
           count(*) AS reported,
           count(c.filed_at) AS filed,
           count(*) FILTER (WHERE c.filed_at IS NOT NULL AND c.status <> 'cancelled')
               AS due_to_close,
           count(*) FILTER (WHERE c.status = 'closed') AS closed,
           count(*) FILTER (WHERE c.status = 'closed'
                               AND (c.due_at IS NULL OR c.handled_at <= c.due_at))
               AS closed_on_time
    FROM event_case c
    JOIN cell_region cr ON cr.cell_id = c.cell_id
    WHERE c.created_at >= :period_from AND c.created_at < :period_to
      AND c.merged_into_id IS NULL
    GROUP BY cr.region_id
)
SELECT r.id, r.code AS key, r.name, r.area_m2, facts.*
FROM grid_region r
LEFT JOIN facts ON facts.region_id = r.id
WHERE r.level = :level
ORDER BY r.code
"""

INSPECTOR_SQL = """
WITH report_counts AS (
    SELECT r.reporter_id AS user_id,
           count(*) AS reports,
           count(*) - count(invalid.id) AS valid_reports
    FROM report r
    -- Only the few invalid cases (not filed, or merged) are joined: a far smaller hash.
    LEFT JOIN event_case invalid
           ON invalid.id = r.original_case_id
          AND (invalid.filed_at IS NULL OR invalid.merged_into_id IS NOT NULL)
    WHERE r.created_at >= :period_from AND r.created_at < :period_to
      AND r.reporter_id IS NOT NULL
    GROUP BY r.reporter_id
),
verification_counts AS (
    SELECT v.actor_id AS user_id,
           count(*) AS verifications,
           -- A missing key is NULL, and NULL <= limit is not true: not on time.
           count(*) FILTER (WHERE CAST(v.details ->> 'verify_working_hours' AS float8)
                                  <= :verification_limit_hours) AS verifications_on_time
    FROM case_transition v
    WHERE v.action IN ('verify_pass', 'verify_fail')
      AND v.at >= :period_from AND v.at < :period_to
    GROUP BY v.actor_id
)
SELECT u.id, u.username AS key, u.display_name AS name, rc.reports, rc.valid_reports,
       vc.verifications, vc.verifications_on_time
FROM app_user u
LEFT JOIN report_counts rc ON rc.user_id = u.id
LEFT JOIN verification_counts vc ON vc.user_id = u.id
WHERE u.role = 'inspector'
ORDER BY u.username
"""


@dataclass(frozen=True)
class Evaluation:
    """The evaluated groups of one kind over one period, with the totals row."""

    kind: GroupKind
    period_from: datetime
    period_to: datetime
    as_of: datetime
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


def evaluate(
    session: Session,
    kind: GroupKind,
    *,
    period_from: datetime,
    period_to: datetime,
    now: datetime,
    city_zone: ZoneInfo,
    verification_limit_hours: float,
    only_department_id: int | None = None,
) -> Evaluation:
    """The evaluation of every group of `kind` (one department only when given) over
    [period_from, period_to); naive bounds are read in the city's time zone."""
    start, end = grading.period_bounds(period_from, period_to, city_zone)
    params: dict[str, Any] = {"period_from": start, "period_to": end, "now": now}
    if kind is GroupKind.DEPARTMENT:
        sql, params["only_department"] = DEPARTMENT_SQL, only_department_id
    elif kind is GroupKind.INSPECTOR:
        sql, params["verification_limit_hours"] = INSPECTOR_SQL, verification_limit_hours
    else:
        sql = AREA_SQL.format(cell_region=CELL_REGION_SQL[kind])
        params["level"] = kind.value
    found = session.execute(text(sql), params).mappings().all()
    rows = [group_row(kind, dict(row)) for row in found]
    return Evaluation(
        kind, start, end, now, rows, grading.totals(kind, (dict(row) for row in found))
    )


def group_row(kind: GroupKind, counts: dict[str, Any]) -> dict[str, Any]:
    """One output row: who the group is, then its evaluated figures."""
    who = {"id": counts["id"], "key": counts["key"], "name": counts["name"]}
    return {**who, **grading.evaluated(kind, counts)}
