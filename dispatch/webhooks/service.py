"""Webhooks: the outbox, signed deliveries with retries and their log, and registration.

An event is written to the outbox (`webhook_delivery`, one row per subscribed webhook) in the
transaction that made it, so it is sent if and only if that transaction commits. Delivery is
at least once: a crash after the receiver answered but before the result was committed sends it
again, with the same `X-Citygrid-Delivery` id, by which the receiver de-duplicates.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic_core import to_jsonable_python
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from citygrid.errors import NotFound
from citygrid.settings import Settings
from dispatch.models import Webhook, WebhookAttempt, WebhookDelivery
from dispatch.webhooks.signing import retry_delay_s, signature

PING_KIND = "ping"
DELIVERY_BATCH = 50  # rows claimed (and locked) per transaction
ERROR_MAX_CHARS = 500
KIND_MAX_CHARS = 32  # webhook_delivery.kind

# A sender posts a body with headers to a URL and returns the HTTP status code; it raises
# httpx.HTTPError (or OSError) when no answer came.
Sender = Callable[[str, bytes, Mapping[str, str]], int]

ENQUEUE = text(
    """
    INSERT INTO webhook_delivery
        (webhook_id, event_id, kind, payload, status, attempts, next_attempt_at, created_at)
    SELECT w.id, e.event_id, CAST(:kind AS varchar), e.payload, 'pending', 0, :now, :now
    FROM webhook AS w
    CROSS JOIN jsonb_to_recordset(:events) AS e(event_id uuid, payload jsonb)
    WHERE CASE WHEN CAST(:webhook_id AS integer) IS NULL
               THEN w.is_active AND (
                   w.event_kinds = '[]'::jsonb
                   OR w.event_kinds @> jsonb_build_array(CAST(:kind AS varchar)))
               ELSE w.id = :webhook_id END
    ON CONFLICT (webhook_id, event_id) DO NOTHING
    """
).bindparams(bindparam("events", type_=JSONB))


def envelope_bytes(delivery: WebhookDelivery) -> bytes:
    """The JSON body posted for a delivery: the event's id, kind, time and payload."""
    envelope = {
        "id": str(delivery.event_id),
        "kind": delivery.kind,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


# -- The outbox ---------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: Mapping[str, Any],
    now: datetime,
    event_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queues an event for every active webhook subscribed to `kind`; returns the event's id."""
    event_id = event_id or uuid.uuid4()
    enqueue_events(session, kind=kind, events=[(event_id, payload)], now=now)
    return event_id


def enqueue_events(
    session: Session,
    *,
    kind: str,
    events: Sequence[tuple[uuid.UUID, Mapping[str, Any]]],
    now: datetime,
    webhook_id: int | None = None,
) -> int:
    """Queues many events of one kind in one statement (to one webhook when `webhook_id` is
    given, whatever it subscribes to); returns how many delivery rows were written."""
    if not 0 < len(kind) <= KIND_MAX_CHARS:
        raise ValueError(f"an event kind has 1 to {KIND_MAX_CHARS} characters: {kind!r}")
    if not events:
        return 0
    rows = [{"event_id": str(event_id), "payload": dict(body)} for event_id, body in events]
    params = {"kind": kind, "now": now, "webhook_id": webhook_id}
    result = session.execute(ENQUEUE, {**params, "events": to_jsonable_python(rows)})
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- Delivery -----------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed


def httpx_sender(timeout_s: float) -> Sender:
    """A sender posting with httpx; redirects are not followed (a 3xx counts as a failure)."""

    def send(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        response = httpx.post(url, content=body, headers=dict(headers), timeout=timeout_s)
        return response.status_code

    return send


def deliver_due(
    session: Session,
    now: datetime,
    *,
    settings: Settings,
    send: Sender | None = None,
    limit: int = DELIVERY_BATCH,
) -> DeliveryReport:
    """Claims up to `limit` due deliveries (rows other workers hold are skipped), posts each and
    records the attempt; the caller commits. Returns the counts."""
    send = send or httpx_sender(settings.webhook_timeout_s)
    report = DeliveryReport()
    for delivery, url, secret in _claim_due(session, now, limit):
        status_code, error, duration_ms = _post(send, url, secret, delivery, now)
        attempt = WebhookAttempt(
            delivery_id=delivery.id,
            at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
        session.add(attempt)
        outcome = _record_outcome(delivery, status_code, now, settings=settings)
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.attempted += 1
    session.flush()
    return report


def _claim_due(
    session: Session, now: datetime, limit: int
) -> list[tuple[WebhookDelivery, str, str]]:
    claim = (
        select(WebhookDelivery, Webhook.url, Webhook.secret)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            Webhook.is_active,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(claim)]


def _post(
    send: Sender, url: str, secret: str, delivery: WebhookDelivery, now: datetime
) -> tuple[int | None, str | None, float]:
    """Posts the delivery; returns the status code (None when no answer), error and duration."""
    body = envelope_bytes(delivery)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "citygrid-webhooks/1",
        "X-Citygrid-Event": delivery.kind,
        "X-Citygrid-Delivery": str(delivery.event_id),
        "X-Citygrid-Timestamp": timestamp,
        "X-Citygrid-Signature": signature(secret, timestamp, body),
    }
    started = time.perf_counter()
    try:
        status_code: int | None = send(url, body, headers)
        error = None if 200 <= (status_code or 0) < 300 else f"HTTP {status_code}"
    except (httpx.HTTPError, OSError) as failure:
        status_code, error = None, f"{type(failure).__name__}: {failure}"[:ERROR_MAX_CHARS]
    return status_code, error, (time.perf_counter() - started) * 1000


def _record_outcome(
    delivery: WebhookDelivery, status_code: int | None, now: datetime, *, settings: Settings
) -> str:
    """Updates the delivery after an attempt; returns "delivered", "retrying" or "failed"."""
    delivery.attempts += 1
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at = "delivered", now
        return "delivered"
    if delivery.attempts >= settings.webhook_max_attempts:
        delivery.status = "failed"
        return "failed"
    delay_s = retry_delay_s(delivery.attempts, backoff_s=settings.webhook_backoff_s)
    delivery.next_attempt_at = now + timedelta(seconds=delay_s)
    return "retrying"


# -- Registration -------------------------------------------------------------------------------


def new_secret() -> str:
    """A random signing secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def create_webhook(
    session: Session,
    *,
    url: str,
    secret: str | None,
    event_kinds: Sequence[str],
    created_by: int | None,
) -> Webhook:
    """Registers a receiver; a secret is generated when none is given."""
    webhook = Webhook(
        url=url,
        secret=secret or new_secret(),
        event_kinds=sorted(set(event_kinds)),
        created_by=created_by,
        is_active=True,
    )
    session.add(webhook)
    session.flush()
    return webhook


def webhook_or_404(session: Session, webhook_id: int) -> Webhook:
    """The webhook; NotFound when there is none with this id."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return webhook


def list_webhooks(session: Session) -> list[Webhook]:
    """Every webhook, oldest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def update_webhook(session: Session, webhook_id: int, changes: Mapping[str, Any]) -> Webhook:
    """Applies the given fields (url, secret, event_kinds, is_active); returns the webhook."""
    webhook = webhook_or_404(session, webhook_id)
    for field, value in changes.items():
        if field == "event_kinds":
            value = sorted(set(value))
        setattr(webhook, field, value)
    session.flush()
    return webhook


def delete_webhook(session: Session, webhook_id: int) -> None:
    """Removes the webhook with its deliveries and their log."""
    session.delete(webhook_or_404(session, webhook_id))
    session.flush()


def deliveries_of(
    session: Session, webhook_id: int, *, limit: int, before_id: int | None
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """The webhook's deliveries, newest first, each with its attempts (oldest first)."""
    webhook_or_404(session, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    deliveries = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))
    attempts: dict[int, list[WebhookAttempt]] = {delivery.id: [] for delivery in deliveries}
    log = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
    for attempt in session.scalars(log.order_by(WebhookAttempt.id)):
        attempts[attempt.delivery_id].append(attempt)
    return [(delivery, attempts[delivery.id]) for delivery in deliveries]


def ping(session: Session, webhook_id: int, *, now: datetime) -> uuid.UUID:
    """Queues a `ping` event for one webhook (sent even when it subscribes to other kinds)."""
    webhook_or_404(session, webhook_id)
    event_id = uuid.uuid4()
    payload = {"message": "ping from citygrid", "webhook_id": webhook_id}
    enqueue_events(
        session, kind=PING_KIND, events=[(event_id, payload)], now=now, webhook_id=webhook_id
    )
    return event_id
