"""Callbacks (回访): the list of tickets waiting for one (a query over the tickets, never copied
rows), recording a try with one click, and what it sets going: an answer in the rework answers
(setting `hotline_rework_answers`, default "not solved" and "partly solved": work remains)
sends the work back to the same unit (rework); any other answer — or the last unanswered try —
closes the ticket.

A ticket waits for a callback while its reply has arrived (status 'replied'), or when it was
closed without any callback in the last CLOSED_WINDOW_DAYS days. Its current round is 1 plus
the number of reached callbacks (a reached callback ends a round: it closed the ticket or
reopened the work); the tries of that round count towards the retry limit
(dispatch.callbacks.retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from citygrid.errors import Conflict, InvalidInput, NotFound
from dispatch.callbacks.models import HotlineCallback
from dispatch.callbacks.retries import RetryPolicy, TooSoon, check_try, next_try_at, reworks
from dispatch.callbacks.schemas import CallbackTaskRead
from dispatch.hotline import service as hotline_workflow
from dispatch.hotline_rates.rates import Satisfaction, Solved
from events.hotline import service as hotline_tickets
from events.hotline.standard import mask_phone

# Closed without a callback: within this many days of the closing (older ones are history).
CLOSED_WINDOW_DAYS = 30
WAITING_CONDITION = f"""
    (t.status = 'replied'
     OR (t.status = 'closed' AND t.closed_at >= :now - interval '{CLOSED_WINDOW_DAYS} days'
         AND NOT EXISTS (SELECT 1 FROM hotline_callback done WHERE done.ticket_id = t.id)))
"""
ROUND_OF_TICKET = """
    1 + (SELECT count(*) FROM hotline_callback r
         WHERE r.ticket_id = t.id AND r.reached)
"""
LIST_SQL = f"""
SELECT t.id, t.ticket_number, t.ticket_type, t.urgency_class, t.content, t.address_text,
       t.status, t.replied_at, t.closed_at, d.name AS lead_unit, cur.round,
       coalesce(tries.attempts, 0) AS attempts, tries.last_try_at, caller.phone AS caller_phone
FROM hotline_ticket t
LEFT JOIN department d ON d.id = t.lead_department_id
LEFT JOIN hotline_caller caller ON caller.ticket_id = t.id
CROSS JOIN LATERAL (SELECT {ROUND_OF_TICKET} AS round) cur
LEFT JOIN LATERAL (
    SELECT count(*) AS attempts, max(c.at) AS last_try_at
    FROM hotline_callback c WHERE c.ticket_id = t.id AND c.round = cur.round
) tries ON true
WHERE {WAITING_CONDITION}
ORDER BY coalesce(t.replied_at, t.closed_at), t.id
LIMIT :limit
"""
TICKET_SQL = f"""
SELECT t.id, t.ticket_number, t.status, {ROUND_OF_TICKET} AS round, {WAITING_CONDITION} AS waiting
FROM hotline_ticket t WHERE t.id = :ticket_id FOR UPDATE OF t
"""
TRIES_SQL = """
SELECT count(*) AS attempts, max(at) AS last_try_at
FROM hotline_callback WHERE ticket_id = :ticket_id AND round = :round
"""


Outcome = Literal["rework", "closed", "retry", "unreachable"]


@dataclass(frozen=True)
class CallbackAnswer:
    """One click: reached with the two answers, or not reached."""

    reached: bool
    solved: Solved | None = None
    satisfaction: Satisfaction | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.reached:
            for name in ("solved", "satisfaction"):
                if getattr(self, name) is None:
                    raise InvalidInput(f"a reached callback needs its {name} answer", field=name)
        else:
            for name in ("solved", "satisfaction"):
                if getattr(self, name) is not None:
                    raise InvalidInput(f"an unreached callback has no {name} answer", field=name)


@dataclass(frozen=True)
class CallbackOutcome:
    callback: HotlineCallback
    outcome: Outcome


def waiting_list(
    session: Session, *, policy: RetryPolicy, limit: int, now: datetime
) -> list[CallbackTaskRead]:
    """The tickets waiting for a callback, longest waiting first (the phone masked: the whole
    number is read through caller_of)."""
    rows = session.execute(text(LIST_SQL), {"limit": limit, "now": now}).mappings()
    return [
        CallbackTaskRead(
            ticket_id=row["id"],
            **{key: row[key] for key in CALLBACK_TASK_COLUMNS},
            next_try_at=next_try_at(row["last_try_at"], policy),
            caller_phone_masked=mask_phone(row["caller_phone"]),
        )
        for row in rows
    ]


CALLBACK_TASK_COLUMNS = (
    "ticket_number",
    "ticket_type",
    "urgency_class",
    "content",
    "address_text",
    "status",
    "replied_at",
    "closed_at",
    "lead_unit",
    "round",
    "attempts",
    "last_try_at",
)


def record_callback(
    session: Session,
    ticket_id: int,
    answer: CallbackAnswer,
    *,
    by: Principal,
    now: datetime,
    policy: RetryPolicy,
) -> CallbackOutcome:
    """Records a try (the ticket row is locked, so two clicks at once make one try and a
    conflict), its 'callback' ticket event, and sends the ticket to rework or closes it."""
    params = {"ticket_id": ticket_id, "now": now}
    ticket = session.execute(text(TICKET_SQL), params).mappings().first()
    if ticket is None:
        raise NotFound(f"no hotline ticket {ticket_id}")
    if not ticket["waiting"]:
        raise Conflict(f"ticket {ticket['ticket_number']} is not waiting for a callback "
                       f"(status {ticket['status']})")  # fmt: skip
    tries = session.execute(
        text(TRIES_SQL), {"ticket_id": ticket_id, "round": ticket["round"]}
    ).one()
    try:
        gave_up = check_try(
            tries.attempts, tries.last_try_at, reached=answer.reached, now=now, policy=policy
        )
    except TooSoon as early:
        raise Conflict(str(early), field="next_try_at") from None
    callback = HotlineCallback(
        ticket_id=ticket_id,
        round=ticket["round"],
        attempt=tries.attempts + 1,
        at=now,
        operator_id=by.user_id,
        reached=answer.reached,
        solved=answer.solved and answer.solved.value,
        satisfaction=answer.satisfaction and answer.satisfaction.value,
        gave_up=gave_up,
        note=answer.note,
    )
    session.add(callback)
    session.flush()
    hotline_tickets.record_event(session, ticket_id, "callback", event_data(callback), now=now)
    outcome = _follow_up(session, ticket["status"], callback, by=by, now=now, policy=policy)
    return CallbackOutcome(callback, outcome)


def event_data(callback: HotlineCallback) -> dict[str, Any]:
    """What the hotline system is told of a try (no personal data, no operator)."""
    return {
        "round": callback.round,
        "attempt": callback.attempt,
        "reached": callback.reached,
        "solved": callback.solved,
        "satisfaction": callback.satisfaction,
        "unreachable": callback.gave_up,
    }


def _follow_up(
    session: Session,
    status: str,
    callback: HotlineCallback,
    *,
    by: Principal,
    now: datetime,
    policy: RetryPolicy,
) -> Outcome:
    """Rework for a rework answer; closing for any other answer or for giving up; else a
    retry."""
    ticket_id = callback.ticket_id
    if callback.reached and reworks(callback.solved, policy):
        note = callback.note or f"callback: {callback.solved}"
        hotline_workflow.rework_after_callback(session, ticket_id, by=by, now=now, note=note)
        return "rework"
    if not (callback.reached or callback.gave_up):
        return "retry"
    if status != "closed":
        hotline_workflow.close_after_callback(session, ticket_id, by=by, now=now)
    return "closed" if callback.reached else "unreachable"


def callbacks_of(session: Session, ticket_id: int) -> list[HotlineCallback]:
    """Every try of a ticket, oldest first."""
    return list(
        session.query(HotlineCallback)
        .filter(HotlineCallback.ticket_id == ticket_id)
        .order_by(HotlineCallback.at, HotlineCallback.id)
    )
