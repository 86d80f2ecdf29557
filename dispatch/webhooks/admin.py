"""Administering webhooks with an audit record: the API and the administration page both go
through these functions, so every registration, change and removal is audited once, the same
way. The audit record names the webhook and what changed, never its secret.

Also the reads of the administration page: each webhook's deliveries counted by status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts import audit
from citygrid.accounts.audit import RequestOrigin
from citygrid.accounts.roles import Principal
from dispatch.models import Webhook
from dispatch.webhooks import service

WEBHOOK_CREATED = "webhook_created"
WEBHOOK_CHANGED = "webhook_changed"
WEBHOOK_DELETED = "webhook_deleted"
# Fields whose values the audit record keeps (a new secret is recorded as changed, not shown).
RECORDED_FIELDS = ("url", "event_kinds", "is_active")


def record(
    session: Session,
    kind: str,
    webhook: Webhook,
    *,
    by: Principal,
    origin: RequestOrigin,
    **extra: Any,
) -> None:
    """An audit event naming the webhook (id and URL) and who acted."""
    audit.audit_change(
        session, kind, by=by, origin=origin, webhook_id=webhook.id, url=webhook.url, **extra
    )


def create_webhook(
    session: Session,
    *,
    url: str,
    secret: str | None,
    event_kinds: Sequence[str],
    by: Principal,
    origin: RequestOrigin,
) -> Webhook:
    """A new webhook (service.create_webhook), audited with its event kinds."""
    webhook = service.create_webhook(
        session, url=url, secret=secret, event_kinds=event_kinds, created_by=by.user_id
    )
    record(session, WEBHOOK_CREATED, webhook, by=by, origin=origin, event_kinds=webhook.event_kinds)
    return webhook


def update_webhook(
    session: Session,
    webhook_id: int,
    changes: Mapping[str, Any],
    *,
    by: Principal,
    origin: RequestOrigin,
) -> Webhook:
    """The webhook with `changes` applied (service.update_webhook), audited with each recorded
    field's [before, after] and whether the secret was replaced."""
    webhook = service.webhook_or_404(session, webhook_id)
    before = {name: getattr(webhook, name) for name in RECORDED_FIELDS if name in changes}
    webhook = service.update_webhook(session, webhook_id, changes)
    changed = {
        name: [value, getattr(webhook, name)]
        for name, value in before.items()
        if value != getattr(webhook, name)
    }
    record(
        session,
        WEBHOOK_CHANGED,
        webhook,
        by=by,
        origin=origin,
        changes=changed,
        secret_replaced="secret" in changes,
    )
    return webhook


def delete_webhook(
    session: Session, webhook_id: int, *, by: Principal, origin: RequestOrigin
) -> None:
    """Remove the webhook with its deliveries (service.delete_webhook), audited."""
    webhook = service.webhook_or_404(session, webhook_id)
    record(session, WEBHOOK_DELETED, webhook, by=by, origin=origin)
    service.delete_webhook(session, webhook_id)


@dataclass(frozen=True)
class DeliveryCounts:
    """A webhook's deliveries by status, and when the last one was made."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0
    last_at: datetime | None = None


DELIVERY_COUNTS = text("""
SELECT webhook_id,
    count(*) FILTER (WHERE status = 'pending') AS pending,
    count(*) FILTER (WHERE status = 'delivered') AS delivered,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    max(created_at) AS last_at
FROM webhook_delivery GROUP BY webhook_id
""")


def delivery_counts(session: Session) -> dict[int, DeliveryCounts]:
    """Every webhook's deliveries by status (webhooks without any are absent)."""
    return {
        row.webhook_id: DeliveryCounts(row.pending, row.delivered, row.failed, row.last_at)
        for row in session.execute(DELIVERY_COUNTS)
    }
