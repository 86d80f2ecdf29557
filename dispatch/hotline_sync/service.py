"""Two-way sync: ticket events not yet pushed go into the webhook outbox, in (ticket, seq)
order, and are marked pushed in the same transaction — so an event is queued if and only if it
is marked, and never queued twice. The outbox then delivers them signed and retried.

Each event is queued once per webhook with its stable id (dispatch.hotline_sync.payloads): a
delivery the receiver took but acknowledged late is retried with the same id, which the hotline
system de-duplicates by. Per ticket the events leave in seq order; a delivery that fails and is
retried later may arrive after the next one, and `seq` in the payload is the order to apply.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger

from dispatch.hotline_sync.payloads import EVENT_KIND, event_id, payload
from dispatch.webhooks.service import enqueue_events

# Advisory lock key of the job ("cghsy" in ASCII), beside the scheduler's own.
SYNC_LOCK_KEY = 0x6367687379

CLAIM_SQL = text(
    """
    SELECT e.id, t.ticket_number, e.seq, e.kind, e.data, e.at
    FROM hotline_ticket_event e
    JOIN hotline_ticket t ON t.id = e.ticket_id
    WHERE e.pushed_at IS NULL
    ORDER BY e.ticket_id, e.seq
    LIMIT :limit
    FOR UPDATE OF e SKIP LOCKED
    """
)
MARK_SQL = text("UPDATE hotline_ticket_event SET pushed_at = :now WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger))
)


def push_pending(session: Session, *, now: datetime, limit: int) -> int:
    """Queues up to `limit` unpushed ticket events and marks them pushed; the caller commits.
    Returns how many events were pushed."""
    rows = session.execute(CLAIM_SQL, {"limit": limit}).all()
    if not rows:
        return 0
    events = [
        (event_id(row.ticket_number, row.seq), payload(row.ticket_number, row.seq, row.kind,
                                                        row.data, row.at))
        for row in rows
    ]  # fmt: skip
    enqueue_events(session, kind=EVENT_KIND, events=events, now=now)
    session.execute(MARK_SQL, {"now": now, "ids": [row.id for row in rows]})
    return len(rows)


def push_once(session: Session, *, now: datetime, limit: int, rounds: int = 20) -> int | None:
    """The scheduler's job: pushes batch after batch (each committed) under the job's advisory
    lock; how many were pushed, or None when another process holds the lock."""
    pushed = 0
    for _ in range(rounds):
        if not session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SYNC_LOCK_KEY}
        ):
            session.rollback()
            return pushed or None
        batch = push_pending(session, now=now, limit=limit)
        session.commit()
        pushed += batch
        if batch < limit:
            break
    return pushed
