"""Webhooks: registration and the delivery log (admins); changes are audited by
dispatch.webhooks.admin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from citygrid.accounts.auth import Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId, RowId
from citygrid.db import SessionDep
from dispatch.models import Webhook
from dispatch.webhooks import admin
from dispatch.webhooks import service as webhooks
from dispatch.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    PingQueued,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], route_class=RoleCheckedRoute)

Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
DELIVERIES_PAGE_MAX = 200


@router.post("", status_code=201)
def create_webhook(
    body: WebhookCreate, request: Request, session: SessionDep, principal: Admin
) -> WebhookCreated:
    """Registers a receiver; the answer carries the signing secret, shown this once."""
    webhook = admin.create_webhook(
        session,
        url=str(body.url),
        secret=body.secret,
        event_kinds=body.event_kinds,
        by=principal,
        origin=request_origin(request),
    )
    created = _with_secret(webhook)
    session.commit()
    return created


@router.get("")
def list_webhooks(session: SessionDep, principal: Admin) -> list[WebhookRead]:
    """Every webhook, oldest first, without secrets."""
    return [WebhookRead.model_validate(webhook) for webhook in webhooks.list_webhooks(session)]


@router.patch("/{webhook_id}")
def update_webhook(
    webhook_id: RowId, body: WebhookUpdate, request: Request, session: SessionDep, principal: Admin
) -> WebhookRead:
    """Changes the given fields; a new secret is echoed back once."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        changes["url"] = str(body.url)
    webhook = admin.update_webhook(
        session, webhook_id, changes, by=principal, origin=request_origin(request)
    )
    answer = _with_secret(webhook) if "secret" in changes else WebhookRead.model_validate(webhook)
    session.commit()
    return answer


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: RowId, request: Request, session: SessionDep, principal: Admin
) -> Response:
    """Removes the webhook, its pending deliveries and their log."""
    admin.delete_webhook(session, webhook_id, by=principal, origin=request_origin(request))
    session.commit()
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: RowId,
    session: SessionDep,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=DELIVERIES_PAGE_MAX)] = 50,
    before_id: Annotated[BigRowId | None, Query()] = None,
) -> list[DeliveryRead]:
    """The delivery log, newest first: each event with its status and every attempt."""
    rows = webhooks.deliveries_of(session, webhook_id, limit=limit, before_id=before_id)
    return [
        DeliveryRead.model_validate(delivery).model_copy(
            update={"log": [AttemptRead.model_validate(attempt) for attempt in attempts]}
        )
        for delivery, attempts in rows
    ]


@router.post("/{webhook_id}/test", status_code=202)
def test_webhook(webhook_id: RowId, session: SessionDep, principal: Admin) -> PingQueued:
    """Queues a `ping` event for this webhook; the scheduler delivers it."""
    event_id = webhooks.ping(session, webhook_id, now=datetime.now(UTC))
    session.commit()
    return PingQueued(event_id=event_id)


def _with_secret(webhook: Webhook) -> WebhookCreated:
    return WebhookCreated.model_validate(webhook)
