"""The dispatchers' queue: filed and returned cases waiting for a department, and bulk actions.

A waiting case shows the department its last routing decision suggests and why, or why no rule
matched (the unrouted queue), and for a returned case how often it has bounced and the last
department's reason. A page of the queue is the listing's keyset page (the listing's filters,
search and sorts) of the waiting cases, then one statement for the page's routing and returns.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, case, func, select, text, true
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from citygrid.errors import CitygridError, Conflict, InvalidInput
from dispatch.actions import service as actions
from dispatch.console.worklist import PageRequest, case_page
from dispatch.models import RoutingDecision, RuleSet
from dispatch.queue.schemas import AssignOutcome, QueueItem, QueuePage
from dispatch.rules import routing
from events.cases.schemas import CaseActionBody, RoutingReasonFields
from events.lifecycle import WAITING_FOR_DISPATCH, CaseAction, CaseStatus
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort
from events.listing.service import where_clause
from events.models import Case, CaseTransition

WAITING = tuple(status.value for status in WAITING_FOR_DISPATCH)


class QueueKind(enum.StrEnum):
    ALL = "all"
    NEW = "new"  # filed, a department suggested
    UNROUTED = "unrouted"  # no rule matched: a dispatcher must choose
    RETURNED = "returned"  # 退回 by a department


def waiting_condition() -> ColumnElement[bool]:
    """Filed or returned, not merged into another case (by ix_event_case_status_created_at)."""
    return and_(Case.status.in_(WAITING), Case.merged_into_id.is_(None))


def kind_column() -> ColumnElement[str]:
    """new, unrouted or returned: the case's status and its last routing decision (one lookup
    by ix_routing_decision_case_id)."""
    suggested = (
        select(RoutingDecision.department_id)
        .where(RoutingDecision.case_id == Case.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        (Case.status == CaseStatus.RETURNED.value, QueueKind.RETURNED.value),
        (suggested.is_(None), QueueKind.UNROUTED.value),
        else_=QueueKind.NEW.value,
    )


def kind_condition(kind: QueueKind) -> ColumnElement[bool]:
    return true() if kind is QueueKind.ALL else kind_column() == kind.value


def kind_counts(session: Session, where: ColumnElement[bool]) -> dict[str, int]:
    """How many waiting cases matching `where` are of each kind (every kind named)."""
    kinds = select(kind_column().label("kind")).where(where).subquery()
    counted: dict[str, int] = dict(
        session.execute(select(kinds.c.kind, func.count()).group_by(kinds.c.kind)).all()
    )
    return {
        each.value: counted.get(each.value, 0) for each in QueueKind if each is not QueueKind.ALL
    }


def routing_of(session: Session, case_ids: Sequence[int]) -> dict[int, RowMapping]:
    """Each case's kind, last routing decision (suggested department, reason, rule) and last
    return's reason, by case id: lateral index look-ups for a page's cases only."""
    if not case_ids:
        return {}
    decision = (
        select(RoutingDecision)
        .where(RoutingDecision.case_id == Case.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
        .lateral("decision")
    )
    last_return = (
        select(CaseTransition.reason)
        .where(CaseTransition.case_id == Case.id, CaseTransition.action == CaseAction.RETURN.value)
        .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(
            Case.id,
            Case.description,
            Case.filed_at,
            Case.return_count,
            kind_column().label("kind"),
            decision.c.id.label("decision_id"),
            decision.c.reason.label("routing_reason"),
            decision.c.rule_id,
            RuleSet.version.label("rule_set_version"),
            Department.code.label("suggested_department"),
            Department.name.label("suggested_department_name"),
            last_return.label("last_return_reason"),
        )
        .select_from(Case)
        .outerjoin(decision, true())
        .outerjoin(RuleSet, RuleSet.id == decision.c.rule_set_id)
        .outerjoin(Department, Department.id == decision.c.department_id)
        .where(Case.id.in_(sorted(case_ids)))
    )
    return {row["id"]: row for row in session.execute(statement).mappings()}


@dataclass(frozen=True)
class QueueListing:
    """A page of the queue and the cursor of the page after it (None: the last page)."""

    page: QueuePage
    next_cursor: str | None


def queue_page(
    session: Session,
    principal: Principal,
    kind: QueueKind,
    *,
    filters: CaseFilters | None = None,
    sort: CaseSort = CaseSort.URGENCY,
    page_size: int,
    after: str | None = None,
    offset: int = 0,
    now: datetime,
) -> QueueListing:
    """A page of the waiting cases matching the filters (urgent first, then the newest, unless
    sorted otherwise), with the true count of each kind."""
    where = and_(where_clause(principal, filters or CaseFilters()), waiting_condition())
    paged = PageRequest(sort, page_size, after)
    listed = case_page(session, and_(where, kind_condition(kind)), paged, offset=offset)
    counts = kind_counts(session, where)
    items = queue_items(session, listed.items, now)
    total = sum(counts.values()) if kind is QueueKind.ALL else counts[kind.value]
    page = QueuePage(kind=kind.value, counts=counts, total=total, items=items)
    return QueueListing(page, listed.next_cursor)


def queue_items(session: Session, listed: Sequence[CaseListItem], now: datetime) -> list[QueueItem]:
    """The listed waiting cases as queue rows, with their routing and returns."""
    routes = routing_of(session, [item.id for item in listed])
    decisions = [row["decision_id"] for row in routes.values() if row["decision_id"] is not None]
    reasons = routing.reason_fields(session, decisions)
    return [
        queue_item(item, routes[item.id], now, reasons.get(routes[item.id]["decision_id"]))
        for item in listed
    ]


def queue_item(
    item: CaseListItem, route: RowMapping, now: datetime, reason: RoutingReasonFields | None
) -> QueueItem:
    """A queue row as answered, with the clock hours it has waited since filing and its
    routing reason as fields (events.cases.routing_reasons.describe_routing says it)."""
    waiting_since = route["filed_at"] or item.created_at
    return QueueItem(
        case_id=item.id,
        number=item.number,
        status=item.status.value,
        kind=route["kind"],
        urgency=item.urgency,
        description=route["description"],
        category_code=item.category_code,
        category_name_zh=item.category_name_zh,
        category_name_en=item.category_name_en,
        cell_code=item.cell_code,
        created_at=item.created_at,
        filed_at=route["filed_at"],
        waiting_hours=round((now - waiting_since) / timedelta(hours=1), 2),
        suggested_department=route["suggested_department"],
        suggested_department_name=route["suggested_department_name"],
        routing_reason=route["routing_reason"],
        routing_reason_fields=reason,
        rule_set_version=route["rule_set_version"],
        rule_id=route["rule_id"],
        return_count=route["return_count"],
        last_return_reason=route["last_return_reason"],
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
