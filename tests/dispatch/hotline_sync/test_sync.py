"""The sync job: ticket events into the webhook outbox once, in (ticket, seq) order, with stable
ids; a replay or a delayed acknowledgement makes no second event at the hotline system."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.settings import Settings
from dispatch.hotline_sync import service as sync
from dispatch.hotline_sync.payloads import EVENT_KIND, event_id
from dispatch.models import Webhook, WebhookDelivery
from dispatch.webhooks import service as webhooks
from events.hotline.service import record_event
from tests.dispatch.hotline_sync.simulated_hotline import SECRET, HotlineSystem, hotline_system

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SETTINGS = Settings(webhook_max_attempts=5, webhook_backoff_s=10.0, webhook_timeout_s=2.0)


def add_ticket(session: Session, number: str) -> int:
    return int(
        session.scalar(
            text(
                "INSERT INTO hotline_ticket (ticket_number, received_at, ticket_type, "
                "urgency_class, content, location_status, status) VALUES (:n, :at, 'complaint', "
                "'general', '垃圾无人清运', 'to_locate', 'received') RETURNING id"
            ),
            {"n": number, "at": NOW},
        )
    )


@pytest.fixture
def system(session: Session) -> Iterator[tuple[HotlineSystem, Webhook]]:
    with hotline_system() as state:
        webhook = webhooks.create_webhook(
            session, url=state.url, secret=SECRET, event_kinds=[EVENT_KIND], created_by=None
        )
        yield state, webhook


def deliveries(session: Session, webhook: Webhook) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    return list(session.scalars(query.order_by(WebhookDelivery.id)))


def test_events_are_queued_once_in_ticket_and_seq_order(
    session: Session, system: tuple[HotlineSystem, Webhook]
) -> None:
    state, webhook = system
    first, second = add_ticket(session, "SYNC-1"), add_ticket(session, "SYNC-2")
    for ticket, kind in ((second, "received"), (first, "received"), (first, "located"),
                         (second, "located"), (first, "filed")):  # fmt: skip
        record_event(session, ticket, kind, {"status": kind}, now=NOW)

    assert sync.push_pending(session, now=NOW, limit=2) == 2  # batches keep the order
    assert sync.push_pending(session, now=NOW, limit=100) == 3
    assert sync.push_pending(session, now=NOW, limit=100) == 0

    rows = deliveries(session, webhook)
    assert [(row.payload["ticket_number"], row.payload["seq"]) for row in rows] == [
        ("SYNC-1", 1), ("SYNC-1", 2), ("SYNC-1", 3), ("SYNC-2", 1), ("SYNC-2", 2),
    ]  # fmt: skip
    assert rows[0].event_id == event_id("SYNC-1", 1)
    assert rows[0].payload == {
        "ticket_number": "SYNC-1",
        "seq": 1,
        "kind": "received",
        "data": {"status": "received"},
        "at": NOW.isoformat(),
    }
    unpushed = session.scalar(
        text("SELECT count(*) FROM hotline_ticket_event WHERE pushed_at IS NULL")
    )
    assert unpushed == 0
    webhooks.deliver_due(session, NOW, settings=SETTINGS)
    assert state.kinds_of("SYNC-1") == ["received", "located", "filed"]
    assert state.bad_signatures == 0


def test_a_replayed_push_makes_no_second_event(
    session: Session, system: tuple[HotlineSystem, Webhook]
) -> None:
    state, webhook = system
    ticket = add_ticket(session, "SYNC-3")
    record_event(session, ticket, "reply", {"action_taken": "已清运"}, now=NOW)
    sync.push_pending(session, now=NOW, limit=10)
    # As if the job ran again over the same rows (a restore, a replay of the ticket's events).
    session.execute(text("UPDATE hotline_ticket_event SET pushed_at = NULL"))
    assert sync.push_pending(session, now=NOW + timedelta(minutes=1), limit=10) == 1

    assert len(deliveries(session, webhook)) == 1
    webhooks.deliver_due(session, NOW + timedelta(minutes=1), settings=SETTINGS)
    assert state.kinds_of("SYNC-3") == ["reply"]


def test_a_delayed_acknowledgement_makes_no_second_reply(
    session: Session, system: tuple[HotlineSystem, Webhook]
) -> None:
    state, webhook = system
    ticket = add_ticket(session, "SYNC-4")
    record_event(session, ticket, "reply", {"action_taken": "已修复"}, now=NOW)
    sync.push_pending(session, now=NOW, limit=10)
    state.statuses = [504]  # the system took the reply, but its answer was lost: a timeout

    first = webhooks.deliver_due(session, NOW, settings=SETTINGS)
    again = webhooks.deliver_due(session, NOW + timedelta(seconds=10), settings=SETTINGS)

    assert (first.retrying, again.delivered) == (1, 1)
    assert len(state.delivery_ids) == 2 and len(set(state.delivery_ids)) == 1
    assert state.kinds_of("SYNC-4") == ["reply"]  # applied once
    [delivery] = deliveries(session, webhook)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_the_scheduler_job_runs_under_its_lock(
    session: Session, system: tuple[HotlineSystem, Webhook]
) -> None:
    _, webhook = system
    ticket = add_ticket(session, "SYNC-5")
    record_event(session, ticket, "received", {}, now=NOW)
    # In the test's transaction the job's commits only release savepoints.
    assert sync.push_once(session, now=NOW, limit=10) == 1
    assert sync.push_once(session, now=NOW, limit=10) == 0
    assert len(deliveries(session, webhook)) == 1
