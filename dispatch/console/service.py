"""The console's reads, each one set-based statement: reports waiting to be filed, duplicate
candidates, requests waiting for approval, and the cases departments hold (from the listing)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import RowMapping, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from citygrid.settings import Settings
from dispatch.console.cards import CASE_CARD, ROWS_SHOWN, RUNNING
from events.cases.service import SUSPENSION_RECORD
from events.lifecycle import DEPARTMENT_WORKING, OPEN_STATUSES, WORKING_STATUSES, CaseStatus
from events.listing import service as listing
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort

DUPLICATE_PAIRS_SHOWN = 50
WAITING = [status.value for status in (CaseStatus.REPORTED, CaseStatus.FILED, CaseStatus.RETURNED)]

TO_FILE = f"""
SELECT {CASE_CARD}
FROM event_case c JOIN category cat ON cat.id = c.category_id JOIN grid_cell g ON g.id = c.cell_id
WHERE c.status = 'reported' AND c.merged_into_id IS NULL
ORDER BY c.urgency = 'urgent' DESC, c.created_at, c.id
LIMIT :limit
"""
# Each waiting case (no department yet) with its nearest older open case of the same category
# within the category's duplicate radius, reported within the duplicate window before it: the
# same test intake applies, so what intake flagged shows here until a dispatcher decides.
# The bounding box (degrees, widened by latitude) lets the spatial index narrow the search.
DUPLICATE_PAIRS = """
SELECT w.id AS newer_id, older.id AS older_id, older.distance_m
FROM event_case w
JOIN category cat ON cat.id = w.category_id
CROSS JOIN LATERAL (
    SELECT o.id, ST_Distance(o.geom::geography, w.geom::geography) AS distance_m
    FROM event_case o
    WHERE o.category_id = w.category_id AND o.id <> w.id AND o.created_at <= w.created_at
      AND o.status = ANY(:open) AND o.merged_into_id IS NULL
      AND o.created_at >= w.created_at - make_interval(secs => :window_s)
      AND o.geom && ST_Expand(w.geom, coalesce(cat.duplicate_radius_m, :radius_m)
              / (111320.0 * greatest(cos(radians(ST_Y(w.geom))), 0.01)) + 1e-6)
      AND ST_DWithin(o.geom::geography, w.geom::geography,
                     coalesce(cat.duplicate_radius_m, :radius_m))
    ORDER BY distance_m, o.id
    LIMIT 1
) older
WHERE w.status = ANY(:waiting) AND w.merged_into_id IS NULL
ORDER BY w.created_at DESC, w.id DESC
LIMIT :limit
"""
CASES_BY_ID = f"""
SELECT {CASE_CARD}, c.address, dep.code AS department_code
FROM event_case c JOIN category cat ON cat.id = c.category_id JOIN grid_cell g ON g.id = c.cell_id
LEFT JOIN department dep ON dep.id = c.department_id
WHERE c.id = ANY(:ids)
"""
# Cases with a postponement or suspension request waiting for a dispatcher. A suspension is
# pending while the last suspension step in the history is its request (as case_service reads it).
APPROVALS = f"""
SELECT {CASE_CARD}, dep.code AS department_code, dep.name AS department_name, c.due_at,
       c.postponement_hours_requested AS hours_requested,
       postponement.reason AS postponement_reason, postponement.at AS postponement_at,
       suspension.reason AS suspension_reason, suspension.at AS suspension_at,
       c.postponement_hours_requested IS NOT NULL AND c.status = ANY(:postponable)
           AS postponement_pending,
       coalesce(suspension.action = 'request_suspension', false) AS suspension_pending
FROM event_case c
JOIN category cat ON cat.id = c.category_id
JOIN grid_cell g ON g.id = c.cell_id
LEFT JOIN department dep ON dep.id = c.department_id
LEFT JOIN LATERAL (
    SELECT t.reason, t.at FROM case_transition t
    WHERE c.postponement_hours_requested IS NOT NULL  -- a one-time filter: no probe otherwise
      AND t.case_id = c.id AND t.action = 'request_postponement'
    ORDER BY t.at DESC, t.id DESC LIMIT 1
) postponement ON true
LEFT JOIN LATERAL (
    SELECT t.action, t.reason, t.at FROM case_transition t
    WHERE t.case_id = c.id AND t.action = ANY(:suspension_record)
    ORDER BY t.at DESC, t.id DESC LIMIT 1
) suspension ON true
WHERE c.status = ANY(:working) AND c.merged_into_id IS NULL
  AND ((c.postponement_hours_requested IS NOT NULL AND c.status = ANY(:postponable))
       OR suspension.action = 'request_suspension')
ORDER BY least(postponement.at, suspension.at) NULLS LAST, c.id
LIMIT :limit
"""


def reports_to_file(session: Session) -> list[RowMapping]:
    """Reported cases waiting to be filed (立案), urgent first, then the oldest."""
    return list(session.execute(text(TO_FILE), {"limit": ROWS_SHOWN}).mappings())


@dataclass(frozen=True)
class DuplicatePair:
    """A waiting case and an older open case it may duplicate, for a side-by-side look."""

    newer: RowMapping
    older: RowMapping
    distance_m: float


def duplicate_pairs(session: Session, settings: Settings) -> list[DuplicatePair]:
    """Waiting cases that look like duplicates of older open cases, newest first."""
    parameters = {
        "open": sorted(OPEN_STATUSES),
        "waiting": WAITING,
        "window_s": settings.duplicate_window_hours * 3600.0,
        "radius_m": settings.duplicate_radius_m,
        "limit": DUPLICATE_PAIRS_SHOWN,
    }
    pairs = session.execute(text(DUPLICATE_PAIRS), parameters).all()
    ids = sorted({pair.newer_id for pair in pairs} | {pair.older_id for pair in pairs})
    cards = {row["id"]: row for row in session.execute(text(CASES_BY_ID), {"ids": ids}).mappings()}
    return [
        DuplicatePair(cards[pair.newer_id], cards[pair.older_id], round(pair.distance_m, 1))
        for pair in pairs
    ]


def requests_to_approve(session: Session) -> list[RowMapping]:
    """Cases whose department asks for a postponement or a suspension, oldest request first."""
    parameters = {
        "working": sorted(WORKING_STATUSES),
        "postponable": sorted(DEPARTMENT_WORKING),
        "suspension_record": list(SUSPENSION_RECORD),
        "limit": ROWS_SHOWN,
    }
    return list(session.execute(text(APPROVALS), parameters).mappings())


def held_cases(session: Session, principal: Principal, *, overdue_only: bool) -> list[CaseListItem]:
    """Cases departments hold (or hold suspended), the nearest deadline first, with the light."""
    statuses = tuple(CaseStatus(status) for status in RUNNING)
    filters = CaseFilters(statuses=statuses, overdue=True if overdue_only else None)
    page = listing.list_cases(
        session, principal, filters, sort=CaseSort.DUE_AT, page=1, page_size=ROWS_SHOWN
    )
    return list(page.items)
