"""`/admin/webhooks`: the administrators' pages of webhooks. The list (register, disable or
enable, send a test event, remove) and each webhook's delivery log with every attempt.

Read with the webhook service; the forms act through the JSON API (`/api/webhooks`, audited by
dispatch.webhooks.admin). A signing secret is shown once, in the answer to the registration,
and never on a page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import BigRowId, RowId
from citygrid.db import SessionDep
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, local_time, render
from dispatch.actions.service import ANNOUNCED
from dispatch.escalation.service import WEBHOOK_KIND as ESCALATED
from dispatch.webhooks import admin
from dispatch.webhooks import service as webhooks
from dispatch.webhooks.service import PING_KIND

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]

DELIVERIES_SHOWN = 50
# The events a webhook can subscribe to (an empty choice: all of them), in lifecycle order.
EVENT_KINDS = (*ANNOUNCED.values(), ESCALATED)
EVENT_KIND_LABELS = {
    "case.dispatched": N_("Case dispatched"),
    "case.returned": N_("Case returned by the department"),
    "case.handled": N_("Case handled"),
    "case.closed": N_("Case closed"),
    "case.rework": N_("Case sent back for rework"),
    "case.cancelled": N_("Case cancelled"),
    ESCALATED: N_("Case escalated (deadline warning or overdue)"),
    PING_KIND: N_("Test event"),
}
DELIVERY_STATUS_LABELS = {
    "pending": N_("Waiting to be sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}
WEBHOOK_MESSAGES = {
    "done.saved": N_("Saved."),
    "error.forbidden": N_("You may not do this."),
    "error.gone": N_("It no longer exists: reload the page."),
    "error.url_parsing": N_("Give a full web address (http:// or https://)."),
    "error.url_scheme": N_("Give a full web address (http:// or https://)."),
    "error.field.url": N_("Give a full web address (http:// or https://)."),
    "error.field.secret": N_("At least 16 characters, or leave it empty to have one made."),
}


def page_context(settings: Settings) -> dict[str, Any]:
    """What both webhook pages show with: labels, the city clock and the forms' messages."""
    zone = settings.city_zone
    return {
        "kind_labels": EVENT_KIND_LABELS,
        "status_labels": DELIVERY_STATUS_LABELS,
        "city_time": lambda moment: local_time(moment, zone),
        "js_messages": WEBHOOK_MESSAGES,
    }


@router.get("/admin/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Admin
) -> HTMLResponse:
    """Every webhook with its deliveries by status; the form to register one."""
    context = page_context(settings) | {
        "webhooks": webhooks.list_webhooks(session),
        "counts": admin.delivery_counts(session),
        "no_counts": admin.DeliveryCounts(),
        "event_kinds": EVENT_KINDS,
    }
    return render(request, "dispatch/admin_webhooks.html", context, principal=principal)


@router.get("/admin/webhooks/{webhook_id}", response_class=HTMLResponse)
def deliveries_page(
    webhook_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    before_id: Annotated[BigRowId | None, Query()] = None,
) -> HTMLResponse:
    """One webhook's delivery log, newest first, 50 a page, each delivery with its attempts."""
    webhook = webhooks.webhook_or_404(session, webhook_id)
    deliveries = webhooks.deliveries_of(
        session, webhook_id, limit=DELIVERIES_SHOWN + 1, before_id=before_id
    )
    shown = deliveries[:DELIVERIES_SHOWN]
    context = page_context(settings) | {
        "webhook": webhook,
        "counts": admin.delivery_counts(session).get(webhook_id, admin.DeliveryCounts()),
        "deliveries": shown,
        "older_url": (
            f"/admin/webhooks/{webhook_id}?before_id={shown[-1][0].id}"
            if len(deliveries) > DELIVERIES_SHOWN
            else None
        ),
        "newest_url": f"/admin/webhooks/{webhook_id}" if before_id else None,
    }
    return render(request, "dispatch/admin_webhook.html", context, principal=principal)
