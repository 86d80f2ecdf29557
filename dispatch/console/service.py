"""The console's reads: reports waiting to be filed, duplicate candidates, requests waiting for
approval, the cases departments hold, and what arrived since the page was shown.

Each list is a keyset page (dispatch.console.worklist) of the cases matching the listing's
filters and search (events.listing.service.where_clause) and the list's own condition, with the
true total; what a card shows beyond the listing's columns is read for the page's cases only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import LateralFromClause
from sqlalchemy.types import Interval

from citygrid.accounts.roles import Principal
from citygrid.settings import Settings
from dispatch.console.cards import RUNNING
from dispatch.console.worklist import (
    ListPage,
    PageRequest,
    case_page,
    case_texts,
    listed_items,
)
from dispatch.queue import service as queue_service
from dispatch.queue.schemas import QueueItem
from dispatch.queue.service import QueueKind
from events.cases.service import SUSPENSION_RECORD
from events.lifecycle import DEPARTMENT_WORKING, OPEN_STATUSES, WORKING_STATUSES, CaseStatus
from events.listing.cursor import decode_cursor, encode_cursor
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort
from events.listing.service import ORDER_BY, after_condition, count_cases, sort_values, where_clause
from events.models import Case, CaseTransition, Category

WAITING = [status.value for status in (CaseStatus.REPORTED, CaseStatus.FILED, CaseStatus.RETURNED)]
# New arrivals are looked for a little before the last look: a case whose transaction began
# before it and committed after it is still found (the page skips the cases it shows already).
ARRIVALS_OVERLAP = timedelta(seconds=30)
ARRIVALS_MAX = 20


@dataclass(frozen=True)
class CaseCard:
    """A listed case with its description and address (the reports to file)."""

    item: CaseListItem
    description: str
    address: str | None


def with_texts(session: Session, items: list[CaseListItem]) -> list[CaseCard]:
    """The listed cases with their descriptions and addresses."""
    texts = case_texts(session, [item.id for item in items])
    return [
        CaseCard(item, texts[item.id]["description"], texts[item.id]["address"]) for item in items
    ]


# Reports to file ------------------------------------------------------------------------------


def to_file_condition() -> ColumnElement[bool]:
    """Reported, not yet filed or refused, not merged (by ix_event_case_status_created_at)."""
    return and_(Case.status == CaseStatus.REPORTED.value, Case.merged_into_id.is_(None))


def reports_to_file(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    paged: PageRequest,
) -> ListPage[CaseCard]:
    """Reported cases waiting to be filed (立案) that match the filters."""
    where = and_(where_clause(principal, filters), to_file_condition())
    page = case_page(session, where, paged)
    return ListPage(page.total, page.next_cursor, with_texts(session, page.items))


# The queue ------------------------------------------------------------------------------------


def waiting_queue(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    paged: PageRequest,
    *,
    kind: QueueKind,
    now: datetime,
) -> tuple[ListPage[QueueItem], dict[str, int]]:
    """A page of the dispatchers' queue and the count of each of its kinds."""
    listing = queue_service.queue_page(
        session,
        principal,
        kind,
        filters=filters,
        sort=paged.sort,
        page_size=paged.page_size,
        after=paged.after,
        now=now,
    )
    page = listing.page
    return ListPage(page.total, listing.next_cursor, page.items), page.counts


# Duplicate candidates -------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    """A waiting case and an older open case it may duplicate, for a side-by-side look."""

    newer: CaseCard
    older: CaseCard
    distance_m: float


def older_duplicate(settings: Settings) -> LateralFromClause:
    """For the outer case (with its category joined), its nearest older open case of the same
    category within the category's duplicate radius, reported within the duplicate window before
    it: the test intake applies, so what intake flagged shows here until a dispatcher decides.
    The bounding box (degrees, widened by latitude) lets the spatial index narrow the search."""
    older = aliased(Case, name="older")
    radius = func.coalesce(Category.duplicate_radius_m, settings.duplicate_radius_m)
    here, there = cast(Case.geom, Geography), cast(older.geom, Geography)
    distance = func.ST_Distance(there, here)
    metres_per_degree = 111320.0 * func.greatest(func.cos(func.radians(func.ST_Y(Case.geom))), 0.01)
    window = literal(timedelta(hours=settings.duplicate_window_hours), Interval())
    return (
        select(older.id.label("older_id"), distance.label("distance_m"))
        .where(
            older.category_id == Case.category_id,
            older.created_at <= Case.created_at,
            # Older: reported earlier, or at the same moment and filed first.
            tuple_(older.created_at, older.id) < tuple_(Case.created_at, Case.id),
            older.status.in_(sorted(OPEN_STATUSES)),
            older.merged_into_id.is_(None),
            older.created_at >= Case.created_at - window,
            older.geom.op("&&")(func.ST_Expand(Case.geom, radius / metres_per_degree + 1e-6)),
            func.ST_DWithin(there, here, radius),
        )
        .order_by(distance, older.id)
        .limit(1)
        .lateral("older_case")
    )


def _pairs_from(
    statement: Select[Any], pair: LateralFromClause, where: ColumnElement[bool]
) -> Select[Any]:
    """Waiting cases matching `where`, each with its older duplicate (only those with one)."""
    waiting = and_(Case.status.in_(WAITING), Case.merged_into_id.is_(None), where)
    return (
        statement.select_from(Case)
        .join(Category, Category.id == Case.category_id)
        .join(pair, true())
        .where(waiting)
    )


def duplicate_pairs(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    settings: Settings,
    paged: PageRequest,
) -> ListPage[DuplicatePair]:
    """Waiting cases matching the filters that look like duplicates of older open cases."""
    pair = older_duplicate(settings)
    where = where_clause(principal, filters)
    sort, size = paged.sort, paged.page_size
    statement = _pairs_from(select(Case.id, pair.c.older_id, pair.c.distance_m), pair, where)
    if paged.after is not None:
        statement = statement.where(after_condition(sort, decode_cursor(paged.after, sort)))
    rows = session.execute(statement.order_by(*ORDER_BY[sort]).limit(size + 1)).all()
    rows, following = rows[:size], len(rows) > size
    ids = {row.id for row in rows} | {row.older_id for row in rows}
    cards = _case_cards(session, ids)
    pairs = [
        DuplicatePair(cards[row.id], cards[row.older_id], round(row.distance_m, 1)) for row in rows
    ]
    if paged.after is None and not following:
        total = len(pairs)
    else:
        total = duplicate_count(session, principal, filters, settings)
    cursor = encode_cursor(sort, sort_values(pairs[-1].newer.item, sort)) if following else None
    return ListPage(total, cursor, pairs)


def duplicate_count(
    session: Session, principal: Principal, filters: CaseFilters, settings: Settings
) -> int:
    """How many waiting cases matching the filters look like duplicates. One spatial look-up
    per waiting case: the console asks for it apart from its first page (console.js)."""
    pair = older_duplicate(settings)
    statement = _pairs_from(select(func.count()), pair, where_clause(principal, filters))
    return int(session.scalar(statement) or 0)


def _case_cards(session: Session, ids: set[int]) -> dict[int, CaseCard]:
    cards = with_texts(session, list(listed_items(session, ids).values()))
    return {card.item.id: card for card in cards}


# Requests to approve --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalCard:
    """A case whose department asks for a postponement, a suspension, or both."""

    item: CaseListItem
    hours_requested: float | None
    postponement_pending: bool
    postponement_reason: str | None
    postponement_at: datetime | None
    suspension_pending: bool
    suspension_reason: str | None
    suspension_at: datetime | None


def _last_step(actions: tuple[str, ...], name: str) -> LateralFromClause:
    """The outer case's last history step among `actions` (by ix_case_transition_case_id)."""
    return (
        select(CaseTransition.action, CaseTransition.reason, CaseTransition.at)
        .where(CaseTransition.case_id == Case.id, CaseTransition.action.in_(actions))
        .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())
        .limit(1)
        .lateral(name)
    )


def postponement_pending() -> ColumnElement[bool]:
    return and_(
        Case.postponement_hours_requested.is_not(None),
        Case.status.in_(sorted(DEPARTMENT_WORKING)),
    )


def approval_condition() -> ColumnElement[bool]:
    """A postponement or a suspension waits for a dispatcher. A suspension is pending while the
    last suspension step in the history is its request (as events.cases.service reads it)."""
    last_suspension_step = (
        select(CaseTransition.action)
        .where(CaseTransition.case_id == Case.id, CaseTransition.action.in_(SUSPENSION_RECORD))
        .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # The few cases that ever asked (two small partial indexes) before the exact test, so the
    # history is read for those alone, not for every case a department holds.
    ever_asked = union_all(
        select(Case.id).where(Case.postponement_hours_requested.is_not(None)),
        select(CaseTransition.case_id).where(CaseTransition.action == "request_suspension"),
    )
    return and_(
        Case.id.in_(ever_asked),
        Case.status.in_(sorted(WORKING_STATUSES)),
        Case.merged_into_id.is_(None),
        or_(postponement_pending(), last_suspension_step == "request_suspension"),
    )


def requests_to_approve(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    paged: PageRequest,
) -> ListPage[ApprovalCard]:
    """Cases matching the filters whose department asks for a postponement or a suspension."""
    where = and_(where_clause(principal, filters), approval_condition())
    page = case_page(session, where, paged)
    requests = _requests_of(session, [item.id for item in page.items])
    cards = [_approval_card(item, requests[item.id]) for item in page.items]
    return ListPage(page.total, page.next_cursor, cards)


def _approval_card(item: CaseListItem, request: RowMapping) -> ApprovalCard:
    return ApprovalCard(
        item,
        hours_requested=request["hours_requested"],
        postponement_pending=request["postponement_pending"],
        postponement_reason=request["postponement_reason"],
        postponement_at=request["postponement_at"],
        suspension_pending=request["suspension_pending"],
        suspension_reason=request["suspension_reason"],
        suspension_at=request["suspension_at"],
    )


def _requests_of(session: Session, ids: list[int]) -> dict[int, RowMapping]:
    """The pending requests of the page's cases: hours, reasons and when they were asked."""
    if not ids:
        return {}
    postponement = _last_step(("request_postponement",), "postponement")
    suspension = _last_step(SUSPENSION_RECORD, "suspension")
    statement = (
        select(
            Case.id,
            Case.postponement_hours_requested.label("hours_requested"),
            postponement_pending().label("postponement_pending"),
            postponement.c.reason.label("postponement_reason"),
            postponement.c.at.label("postponement_at"),
            func.coalesce(suspension.c.action == "request_suspension", False).label(
                "suspension_pending"
            ),
            suspension.c.reason.label("suspension_reason"),
            suspension.c.at.label("suspension_at"),
        )
        .select_from(Case)
        .outerjoin(postponement, true())
        .outerjoin(suspension, true())
        .where(Case.id.in_(ids))
    )
    return {row["id"]: row for row in session.execute(statement).mappings()}


# Cases departments hold -----------------------------------------------------------------------


def held_condition() -> ColumnElement[bool]:
    """Held by a department, running or suspended, not merged."""
    return and_(Case.status.in_(RUNNING), Case.merged_into_id.is_(None))


def held_cases(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    paged: PageRequest,
) -> ListPage[CaseListItem]:
    """Cases departments hold (or hold suspended) that match the filters, with the light."""
    where = and_(where_clause(principal, filters), held_condition())
    page = case_page(session, where, paged)
    return ListPage(page.total, page.next_cursor, page.items)


def list_totals(session: Session, principal: Principal, filters: CaseFilters) -> dict[str, int]:
    """The totals of the lists the page does not show (each an index-only count): a tab's
    label says how many are waiting without the list being read."""
    where = where_clause(principal, filters)
    return {
        "filing": count_cases(session, and_(where, to_file_condition())),
        "approvals": count_cases(session, and_(where, approval_condition())),
        "deadlines": count_cases(session, and_(where, held_condition())),
    }


# What arrived since the page was shown ---------------------------------------------------------


@dataclass(frozen=True)
class Arrivals:
    """Reports and queue entries newer than a moment, the lists' totals now, and the moment to
    look from next time (the database's clock, less the overlap)."""

    to_file: list[CaseCard]
    queue: list[QueueItem]
    to_file_total: int
    queue_total: int
    next_since: datetime


def arrivals(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    *,
    kind: QueueKind,
    since: datetime,
    now: datetime,
) -> Arrivals:
    """Reports filed since `since` (by created_at, on ix_event_case_status_created_at) and cases
    that entered the queue since then (filed or returned: updated_at among the waiting cases),
    newest first, with the lists' true totals."""
    looked_at = database_now(session)
    where = where_clause(principal, filters)
    new_reports = and_(where, to_file_condition(), Case.created_at >= since)
    newest = PageRequest(CaseSort.CREATED_AT_DESC, ARRIVALS_MAX)
    report_page = case_page(session, new_reports, newest)
    queued = and_(where, queue_service.waiting_condition(), queue_service.kind_condition(kind))
    queue_page = case_page(session, and_(queued, Case.updated_at >= since), newest)
    return Arrivals(
        to_file=with_texts(session, report_page.items),
        queue=queue_service.queue_items(session, queue_page.items, now),
        to_file_total=count_cases(session, and_(where, to_file_condition())),
        queue_total=count_cases(session, queued),
        next_since=looked_at - ARRIVALS_OVERLAP,
    )


def database_now(session: Session) -> datetime:
    """The database's clock (created_at and updated_at are stamped by it)."""
    moment: datetime | None = session.scalar(select(func.now()))
    assert moment is not None
    return moment
