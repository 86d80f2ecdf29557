"""Performance evaluation in SQL: one set-based GROUP BY statement per group kind, the counts
turned into rates, scores and grades by `dispatch.evaluation`.

Periods are half-open, [from, to), and each family has one anchor:
- departments: an assignment (case_assignment) belongs to the period its deadline (due_at, as it
  stands after postponements) falls in; an assignment without a deadline, to its dispatch time;
- areas: a case belongs to the period it was reported in (event_case.created_at);
- inspectors: a report to its created_at, a verification to the time of the verify transition.
  A verification is timed from the handling it verifies, which its history row records
  (details.handled_at); a row without it counts as a verification, never as one on time.
Outcomes (handled, closed, …) are counted as they stand at `now`. Merged duplicates
(merged_into_id set) are not cases of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.errors import InvalidInput, NotFound
from dispatch import evaluation
from dispatch.evaluation import GroupKind, WeekPattern
from dispatch.models import WorkCalendar

# Any Monday before every case: day numbers count from it, in local time (seconds since the
# Unix epoch of 2000-01-03 00:00 read as UTC, which is how a local timestamp's epoch is counted).
EPOCH_MONDAY = datetime(2000, 1, 3)
EPOCH_MONDAY_S = int((EPOCH_MONDAY - datetime(1970, 1, 1)).total_seconds())

DEPARTMENT_SQL = """
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
           count(a.handling_hours) FILTER (WHERE a.handled_at IS NOT NULL) AS timed_handled
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
verification AS (
    SELECT v.actor_id AS user_id,
           date_part('epoch', v.at AT TIME ZONE :time_zone) - :epoch_s AS verified_s,
           date_part('epoch', CAST(v.details ->> 'handled_at' AS timestamptz)
                              AT TIME ZONE :time_zone) - :epoch_s AS handled_s
    FROM case_transition v
    WHERE v.action IN ('verify_pass', 'verify_fail')
      AND v.at >= :period_from AND v.at < :period_to
    OFFSET 0  -- a fence: convert each time once, the formula below reads it several times
),
verification_days AS (
    SELECT user_id,
           CAST(floor(verified_s / 86400) AS integer) AS v_days,
           verified_s - floor(verified_s / 86400) * 86400 AS v_tod,
           CAST(floor(handled_s / 86400) AS integer) AS h_days,
           handled_s - floor(handled_s / 86400) * 86400 AS h_tod
    FROM verification
),
verification_counts AS (
    SELECT user_id,
           count(*) AS verifications,
           count(*) FILTER (WHERE {verified_w} - {handled_w} <= :verification_limit_s)
               AS verifications_on_time
    FROM verification_days
    GROUP BY user_id
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
    calendar_code: str,
    verification_limit_hours: float,
    only_department_id: int | None = None,
) -> Evaluation:
    """The evaluation of every group of `kind` (one department only when given) over
    [period_from, period_to); naive bounds are read in the default calendar's time zone."""
    calendar = default_calendar(session, calendar_code)
    time_zone = ZoneInfo(calendar.time_zone)
    start, end = evaluation.period_bounds(period_from, period_to, time_zone)
    params: dict[str, Any] = {"period_from": start, "period_to": end, "now": now}
    if kind is GroupKind.DEPARTMENT:
        sql, params["only_department"] = DEPARTMENT_SQL, only_department_id
    elif kind is GroupKind.INSPECTOR:
        pattern = evaluation.week_pattern(calendar.periods, calendar.weekdays)
        sql = inspector_sql(pattern)
        params.update(pattern_params(pattern), time_zone=calendar.time_zone)
        params["verification_limit_s"] = verification_limit_hours * evaluation.SECONDS_PER_HOUR
    else:
        sql = AREA_SQL.format(cell_region=CELL_REGION_SQL[kind])
        params["level"] = kind.value
    found = session.execute(text(sql), params).mappings().all()
    rows = [group_row(kind, dict(row)) for row in found]
    return Evaluation(
        kind, start, end, now, rows, evaluation.totals(kind, (dict(r) for r in found))
    )


def group_row(kind: GroupKind, counts: dict[str, Any]) -> dict[str, Any]:
    """One output row: who the group is, then its evaluated figures."""
    who = {"id": counts["id"], "key": counts["key"], "name": counts["name"]}
    return {**who, **evaluation.evaluated(kind, counts)}


def default_calendar(session: Session, code: str) -> WorkCalendar:
    """The work calendar evaluations are timed on (the city's default)."""
    calendar = session.scalar(select(WorkCalendar).where(WorkCalendar.code == code))
    if calendar is None:
        raise NotFound(f"work calendar {code!r} (settings.default_calendar_code) does not exist")
    if not calendar.periods:
        raise InvalidInput(f"work calendar {code!r} has no working periods", field="calendar")
    return calendar


def working_seconds_sql(days: str, seconds_of_day: str, period_count: int) -> str:
    """SQL for the working seconds from EPOCH_MONDAY to a local time given as its day number and
    its seconds since midnight: whole weeks, the working days before it in its week, and the
    working periods already passed on its own day (bound as :period_start_i / :period_end_i)."""
    weekday = f"(({days}) % 7 + 1)"
    in_day = " + ".join(
        f"greatest(0, least({seconds_of_day}, :period_end_{i}) - :period_start_{i})"
        for i in range(period_count)
    )
    # Integer arithmetic throughout: div() or untyped parameters would make it numeric, slow.
    return (
        f"((({days}) / 7 * CAST(:week_workdays AS bigint)"
        f" + (CAST(:workdays_before AS integer[]))[{weekday}]) * CAST(:day_seconds AS bigint)"
        f" + CASE WHEN (CAST(:workdays AS boolean[]))[{weekday}] THEN {in_day} ELSE 0 END)"
    )


def inspector_sql(pattern: WeekPattern) -> str:
    """The inspectors' statement for a calendar with this many working periods."""
    count = len(pattern.periods_s)
    return INSPECTOR_SQL.format(
        verified_w=working_seconds_sql("v_days", "v_tod", count),
        handled_w=working_seconds_sql("h_days", "h_tod", count),
    )


def pattern_params(pattern: WeekPattern) -> dict[str, Any]:
    """The bound parameters of `working_seconds_sql` for a week pattern."""
    params: dict[str, Any] = {
        "week_workdays": sum(pattern.workdays),
        "workdays_before": list(pattern.workdays_before),
        "workdays": list(pattern.workdays),
        "day_seconds": pattern.day_seconds,
        "epoch_s": EPOCH_MONDAY_S,
    }
    for i, (start, end) in enumerate(pattern.periods_s):
        params[f"period_start_{i}"], params[f"period_end_{i}"] = start, end
    return params
