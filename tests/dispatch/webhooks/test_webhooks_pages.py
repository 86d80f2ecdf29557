"""The administrators' webhook pages: the list with deliveries by status, registering (the
secret shown once, never on a page), disabling and removing (audited), each webhook's delivery
log with its attempts in city time; refused to other roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from dispatch.models import Webhook, WebhookAttempt, WebhookDelivery
from dispatch.webhooks import service as webhooks
from tests.events.seed import add_user
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_sources

PAGE = {PAGE_HEADER: "1", "Accept": "application/json"}
SECRET = "a-secret-of-the-receiver-1234"
# 01:30 UTC is 09:30 in the city (Asia/Shanghai).
SENT_AT = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.ADMIN, username="webhooks.admin")
    log_in(client, user)
    return user


def audit_events(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def webhook(session: Session, url: str = "https://receiver.example/hook") -> Webhook:
    return webhooks.create_webhook(
        session, url=url, secret=SECRET, event_kinds=["case.dispatched"], created_by=None
    )


def delivery(session: Session, hook: Webhook, status: str, *, case_id: int = 7) -> WebhookDelivery:
    row = WebhookDelivery(
        webhook_id=hook.id,
        event_id=uuid.uuid4(),
        kind="case.dispatched",
        payload={"case_id": case_id, "number": f"20261126-{case_id:06d}"},
        status=status,
        attempts=1,
        next_attempt_at=SENT_AT + timedelta(minutes=5),
        delivered_at=SENT_AT if status == "delivered" else None,
        created_at=SENT_AT,
    )
    session.add(row)
    session.flush()
    answer = 200 if status == "delivered" else None
    error = None if answer else "ConnectError: connection refused"
    session.add(
        WebhookAttempt(
            delivery_id=row.id, at=SENT_AT, status_code=answer, error=error, duration_ms=42.4
        )
    )
    session.flush()
    return row


def test_the_list_shows_each_webhook_with_its_deliveries_in_chinese(
    session: Session, client: TestClient, admin: User
) -> None:
    hook = webhook(session)
    delivery(session, hook, "delivered")
    delivery(session, hook, "failed", case_id=8)
    page = open_page(client, "/admin/webhooks", ZH)
    for words in (
        "注册 Webhook",
        "案件已派遣",
        "已送达：1 · 待发送：0 · 失败：1",
        "停用",
        "发送测试事件",
    ):
        assert words in page, words
    assert "2026-11-26 09:30" in page  # the last delivery, in city time
    assert SECRET not in page
    assert f'href="/admin/webhooks/{hook.id}"' in page
    assert f'data-url="/api/webhooks/{hook.id}"' in page and 'data-method="DELETE"' in page
    assert inline_code(page) == []
    assert script_sources(page)[-2:] == [
        "/static/citygrid/admin.js",
        "/static/events/admin_reveal.js",
    ]


def test_the_delivery_log_shows_every_attempt_in_city_time(
    session: Session, client: TestClient, admin: User
) -> None:
    hook = webhook(session)
    delivered = delivery(session, hook, "delivered")
    failed = delivery(session, hook, "failed", case_id=8)
    page = open_page(client, f"/admin/webhooks/{hook.id}", ZH)
    for words in ("投递记录", "已送达", "失败", "HTTP 200", "ConnectError", "42 毫秒", "无应答"):
        assert words in page, words
    assert page.index(f'data-delivery-id="{failed.id}"') < page.index(
        f'data-delivery-id="{delivered.id}"'
    )
    assert '<a href="/cases/8">20261126-000008</a>' in page
    assert "2026-11-26 09:30" in page and "2026-11-26 01:30" not in page
    assert SECRET not in page
    assert client.get("/admin/webhooks/999999", headers=ZH).status_code == 404


def test_the_log_is_paged_from_the_newest(
    session: Session, client: TestClient, admin: User
) -> None:
    hook = webhook(session)
    rows = [delivery(session, hook, "delivered", case_id=n) for n in range(1, 53)]
    first = open_page(client, f"/admin/webhooks/{hook.id}", EN)
    assert f'data-delivery-id="{rows[-1].id}"' in first
    assert f'data-delivery-id="{rows[1].id}"' not in first
    older = f"/admin/webhooks/{hook.id}?before_id={rows[2].id}"
    assert f'href="{older}"' in first
    second = open_page(client, older, EN)
    assert f'data-delivery-id="{rows[0].id}"' in second and "Newest deliveries" in second


def test_registering_shows_the_secret_once_and_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    url = "https://receiver.example/in"
    body = {"url": url, "event_kinds": ["case.closed"]}
    answer = client.post("/api/webhooks", json=body, headers=PAGE)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert len(created["secret"]) >= 16
    (event,) = audit_events(session, "webhook_created")
    assert event.username == admin.username
    assert event.details["url"] == url and event.details["event_kinds"] == ["case.closed"]
    assert created["secret"] not in str(event.details)
    page = open_page(client, "/admin/webhooks", ZH)
    assert url in page and created["secret"] not in page and "案件已结案" in page


def test_disabling_and_removing_are_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    hook = webhook(session)
    url = f"/api/webhooks/{hook.id}"
    disabled = client.patch(url, json={"is_active": False}, headers=PAGE)
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    (changed,) = audit_events(session, "webhook_changed")
    assert changed.details["changes"] == {"is_active": [True, False]}
    assert changed.details["secret_replaced"] is False
    page = open_page(client, "/admin/webhooks", ZH)
    assert "启用" in page and "发送测试事件" not in page
    assert client.delete(url, headers=PAGE).status_code == 204
    (removed,) = audit_events(session, "webhook_deleted")
    assert removed.details["webhook_id"] == hook.id
    assert session.get(Webhook, hook.id) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not an address"}, "url"),
        ({"url": "ftp://receiver.example/"}, "url"),
        ({"url": "https://receiver.example/", "secret": "short"}, "secret"),
        ({"url": "https://receiver.example/", "event_kinds": ["Case Dispatched"]}, "event_kinds"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    session: Session, client: TestClient, admin: User, body: dict[str, object], field: str
) -> None:
    answer = client.post("/api/webhooks", json=body, headers=PAGE)
    assert answer.status_code == 422
    assert field in answer.json()["detail"][0]["loc"]
    assert audit_events(session, "webhook_created") == []


def test_other_roles_are_refused(session: Session, client: TestClient) -> None:
    hook = webhook(session)
    log_in(client, add_user(session, Role.DISPATCHER))
    assert client.get("/admin/webhooks", headers=ZH).status_code == 403
    assert client.get(f"/admin/webhooks/{hook.id}", headers=ZH).status_code == 403
    refused = client.patch(f"/api/webhooks/{hook.id}", json={"is_active": False}, headers=PAGE)
    assert refused.status_code == 403
    assert audit_events(session, "webhook_changed") == []
    assert audit_events(session, "permission_denied")
