"""The dispatchers' queue: filed and returned cases waiting for a department, and bulk actions.

A waiting case shows the department its last routing decision suggests and why, or why no rule
matched (the unrouted queue), and for a returned case how often it has bounced and the last
department's reason. One statement reads a page of the queue, with the counts of each kind.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from citygrid.errors import CitygridError, Conflict, InvalidInput
from dispatch.actions import service as actions
from dispatch.queue.schemas import AssignOutcome, QueueItem, QueuePage
from dispatch.rules import routing
from events.cases.schemas import CaseActionBody
from events.lifecycle import WAITING_FOR_DISPATCH, CaseAction

WAITING = tuple(status.value for status in WAITING_FOR_DISPATCH)


class QueueKind(enum.StrEnum):
    ALL = "all"
    NEW = "new"  # filed, a department suggested
    UNROUTED = "unrouted"  # no rule matched: a dispatcher must choose
    RETURNED = "returned"  # 退回 by a department


# The last routing decision and the last return of each waiting case, by lateral index lookups.
QUEUE = """
WITH waiting AS (
    SELECT c.id, c.number, c.status, c.urgency, c.description, c.created_at, c.filed_at,
           c.return_count, c.category_id, c.cell_id,
           d.department_id AS suggested_department_id, d.reason AS routing_reason,
           d.auto_dispatch, rs.version AS rule_set_version, d.rule_id,
           CASE WHEN c.status = 'returned' THEN 'returned'
                WHEN d.department_id IS NULL THEN 'unrouted'
                ELSE 'new' END AS kind
    FROM event_case c
    LEFT JOIN LATERAL (
        SELECT * FROM routing_decision rd WHERE rd.case_id = c.id ORDER BY rd.id DESC LIMIT 1
    ) d ON true
    LEFT JOIN rule_set rs ON rs.id = d.rule_set_id
    WHERE c.status = ANY(:waiting) AND c.merged_into_id IS NULL
)
SELECT w.*, cat.code AS category_code, cat.name_zh AS category_name_zh,
       cat.name_en AS category_name_en, g.code AS cell_code, dep.code AS suggested_department,
       dep.name AS suggested_department_name,
       (SELECT t.reason FROM case_transition t
        WHERE t.case_id = w.id AND t.action = 'return' ORDER BY t.at DESC, t.id DESC LIMIT 1)
           AS last_return_reason
FROM waiting w
JOIN category cat ON cat.id = w.category_id
JOIN grid_cell g ON g.id = w.cell_id
LEFT JOIN department dep ON dep.id = w.suggested_department_id
WHERE (:kind = 'all' OR w.kind = :kind)
ORDER BY w.urgency = 'urgent' DESC, coalesce(w.filed_at, w.created_at), w.id
LIMIT :limit OFFSET :offset
"""
COUNTS = """
SELECT CASE WHEN c.status = 'returned' THEN 'returned'
            WHEN d.department_id IS NULL THEN 'unrouted' ELSE 'new' END AS kind, count(*)
FROM event_case c
LEFT JOIN LATERAL (
    SELECT department_id FROM routing_decision rd WHERE rd.case_id = c.id
    ORDER BY rd.id DESC LIMIT 1
) d ON true
WHERE c.status = ANY(:waiting) AND c.merged_into_id IS NULL
GROUP BY 1
"""


def queue_page(
    session: Session, kind: QueueKind, *, limit: int, offset: int, now: datetime
) -> QueuePage:
    """A page of the queue (urgent first, then oldest first) and the count of each kind."""
    parameters = {"waiting": list(WAITING), "kind": kind.value, "limit": limit, "offset": offset}
    rows = session.execute(text(QUEUE), parameters).mappings().all()
    counts = {row.kind: row.count for row in session.execute(text(COUNTS), parameters)}
    return QueuePage(
        kind=kind.value,
        counts={
            each.value: counts.get(each.value, 0) for each in QueueKind if each is not QueueKind.ALL
        },
        total=sum(counts.values()) if kind is QueueKind.ALL else counts.get(kind.value, 0),
        items=[queue_item(row, now) for row in rows],
    )


def queue_item(row: Any, now: datetime) -> QueueItem:
    """A queue row as answered, with the clock hours it has waited since filing."""
    waiting_since = row.filed_at or row.created_at
    return QueueItem(
        case_id=row.id,
        number=row.number,
        status=row.status,
        kind=row.kind,
        urgency=row.urgency,
        description=row.description,
        category_code=row.category_code,
        category_name_zh=row.category_name_zh,
        category_name_en=row.category_name_en,
        cell_code=row.cell_code,
        created_at=row.created_at,
        filed_at=row.filed_at,
        waiting_hours=round((now - waiting_since) / timedelta(hours=1), 2),
        suggested_department=row.suggested_department,
        suggested_department_name=row.suggested_department_name,
        routing_reason=row.routing_reason,
        rule_set_version=row.rule_set_version,
        rule_id=row.rule_id,
        return_count=row.return_count,
        last_return_reason=row.last_return_reason,
    )


def reroute_waiting(session: Session, case_ids: Sequence[int] | None, *, now: datetime) -> int:
    """Route waiting cases again with the rules in force now (e.g. after a new rule set);
    how many were routed. Nothing is dispatched: a dispatcher confirms."""
    waiting = session.execute(
        text(
            "SELECT id FROM event_case WHERE status = ANY(:waiting) AND merged_into_id IS NULL"
            " AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[])))"
        ),
        {"waiting": list(WAITING), "ids": list(case_ids) if case_ids is not None else None},
    ).scalars()
    return routing.store_routes(session, list(waiting), at=now)


def assign_many(
    session: Session,
    case_ids: Sequence[int],
    body: CaseActionBody,
    principal: Principal,
    now: datetime,
    *,
    reopen_window: timedelta,
    default_calendar_code: str,
) -> list[AssignOutcome]:
    """Dispatch every case (to the named department, else each to its suggested one), all or
    nothing: if any case cannot be dispatched, the answer lists every refusal and none is."""
    if len(set(case_ids)) != len(case_ids):
        raise InvalidInput("case_ids lists a case twice", field="case_ids")
    outcomes: list[AssignOutcome] = []
    refusals: list[dict[str, Any]] = []
    # One savepoint around all: a refusal undoes the cases already dispatched in this call.
    everything = session.begin_nested()
    for case_id in case_ids:
        try:
            with session.begin_nested():
                case = actions.act_on_case(
                    session,
                    case_id,
                    CaseAction.DISPATCH,
                    principal,
                    body,
                    now,
                    reopen_window=reopen_window,
                    default_calendar_code=default_calendar_code,
                )
        except CitygridError as error:
            refusals.append({"case_id": case_id, "reason": str(error)})
            continue
        outcomes.append(
            AssignOutcome(
                case_id=case.id,
                number=case.number,
                department_id=case.department_id,
                due_at=case.due_at,
            )
        )
    if refusals:
        everything.rollback()
        raise BulkRefused(refusals)
    everything.commit()
    return outcomes


class BulkRefused(Conflict):
    """Some cases of a bulk assignment cannot be dispatched; none was."""

    def __init__(self, refusals: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{len(refusals)} of the cases cannot be dispatched, so none was: "
            + "; ".join(
                f"case {refusal['case_id']}: {refusal['reason']}" for refusal in refusals[:5]
            ),
            field="case_ids",
        )
        self.refusals = refusals

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "refusals": self.refusals}
