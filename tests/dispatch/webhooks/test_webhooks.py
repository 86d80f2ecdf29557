"""Webhooks: signed outbox deliveries to a real local receiver, retries with backoff, the log,
registration through HTTP and the `citygrid dispatch webhooks deliver` command."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from citygrid.settings import Settings
from dispatch.models import Webhook, WebhookAttempt, WebhookDelivery
from dispatch.webhooks import service as webhooks
from dispatch.webhooks import signing
from tests.conftest import token_for
from tests.events.seed import add_user

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SECRET = "s3cret-for-the-receiver"
SETTINGS = Settings(webhook_max_attempts=3, webhook_backoff_s=10.0, webhook_timeout_s=2.0)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records each POST and answers the next status."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answers, in order; then 200
    received: list[Received] = field(default_factory=list)

    def verified(self, secret: str) -> list[bool]:
        return [
            signing.verify_signature(
                secret,
                request.headers["X-Citygrid-Timestamp"],
                request.body,
                request.headers["X-Citygrid-Signature"],
            )
            for request in self.received
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(Received(dict(self.headers.items()), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def add_webhook(
    session: Session, url: str, *, kinds: list[str] | None = None, active: bool = True
) -> Webhook:
    webhook = webhooks.create_webhook(
        session, url=url, secret=SECRET, event_kinds=kinds or [], created_by=None
    )
    webhook.is_active = active
    session.flush()
    return webhook


def deliveries_of(session: Session, webhook: Webhook) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    return list(session.scalars(query.order_by(WebhookDelivery.id)))


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "valid"),
    [
        (SECRET, "1764118800", b'{"a":1}', True),
        ("another-secret", "1764118800", b'{"a":1}', False),
        (SECRET, "1764118801", b'{"a":1}', False),
        (SECRET, "1764118800", b'{"a":2}', False),
    ],
)
def test_a_signature_verifies_only_with_its_secret_timestamp_and_body(
    secret: str, timestamp: str, body: bytes, valid: bool
) -> None:
    header = signing.signature(SECRET, "1764118800", b'{"a":1}')
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert signing.verify_signature(secret, timestamp, body, header) is valid


@pytest.mark.parametrize("header", ["", "sha256=", "sha256=zz", "md5=abc"])
def test_a_malformed_signature_header_does_not_verify(header: str) -> None:
    assert not signing.verify_signature(SECRET, "1", b"{}", header)


@pytest.mark.parametrize(
    ("attempts", "delay_s"), [(1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0), (30, 6 * 3600.0)]
)
def test_retry_delay_doubles_and_is_capped(attempts: int, delay_s: float) -> None:
    assert signing.retry_delay_s(attempts, backoff_s=10.0) == delay_s


def test_enqueue_writes_one_row_per_active_subscribed_webhook(session: Session) -> None:
    everything = add_webhook(session, "http://a.example/hook")
    escalations_only = add_webhook(session, "http://b.example/hook", kinds=["case.escalated"])
    inactive = add_webhook(session, "http://c.example/hook", active=False)

    event_id = webhooks.enqueue(session, kind="case.dispatched", payload={"case_id": 1}, now=NOW)

    assert [row.event_id for row in deliveries_of(session, everything)] == [event_id]
    assert deliveries_of(session, escalations_only) == []
    assert deliveries_of(session, inactive) == []
    again = webhooks.enqueue_events(
        session, kind="case.dispatched", events=[(event_id, {"case_id": 1})], now=NOW
    )
    assert again == 0  # the same event is queued once per webhook


def test_delivery_is_signed_and_verifiable_by_the_receiver(
    session: Session, receiver: Receiver
) -> None:
    webhook = add_webhook(session, receiver.url)
    payload = {"case_number": "20261126-000001", "due_at": NOW + timedelta(hours=4)}
    event_id = webhooks.enqueue(session, kind="case.dispatched", payload=payload, now=NOW)

    report = webhooks.deliver_due(session, NOW, settings=SETTINGS)

    assert (report.attempted, report.delivered) == (1, 1)
    assert receiver.verified(SECRET) == [True]
    assert receiver.verified("wrong-secret") == [False]
    request = receiver.received[0]
    assert request.headers["X-Citygrid-Event"] == "case.dispatched"
    assert request.headers["X-Citygrid-Delivery"] == str(event_id)
    assert request.headers["X-Citygrid-Timestamp"] == str(int(NOW.timestamp()))
    envelope = json.loads(request.body)
    assert envelope["id"] == str(event_id)
    assert envelope["data"]["case_number"] == "20261126-000001"
    [delivery] = deliveries_of(session, webhook)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("delivered", 1, NOW)
    assert webhooks.deliver_due(session, NOW + timedelta(hours=1), settings=SETTINGS).attempted == 0


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    session: Session, receiver: Receiver
) -> None:
    webhook = add_webhook(session, receiver.url)
    receiver.statuses = [500, 503, 500]
    webhooks.enqueue(session, kind="case.escalated", payload={"step": "overdue"}, now=NOW)

    first = webhooks.deliver_due(session, NOW, settings=SETTINGS)
    early = webhooks.deliver_due(session, NOW + timedelta(seconds=9), settings=SETTINGS)
    second = webhooks.deliver_due(session, NOW + timedelta(seconds=10), settings=SETTINGS)
    third = webhooks.deliver_due(session, NOW + timedelta(seconds=30), settings=SETTINGS)

    assert (first.retrying, early.attempted, second.retrying, third.failed) == (1, 0, 1, 1)
    [delivery] = deliveries_of(session, webhook)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.id)
    ).all()
    assert [(a.at - NOW).total_seconds() for a in attempts] == [0, 10, 30]
    assert [a.status_code for a in attempts] == [500, 503, 500]
    assert len({r.headers["X-Citygrid-Delivery"] for r in receiver.received}) == 1
    later = NOW + timedelta(days=1)
    assert webhooks.deliver_due(session, later, settings=SETTINGS).attempted == 0


def test_an_unreachable_receiver_logs_the_error(session: Session, receiver: Receiver) -> None:
    webhook = add_webhook(session, "http://127.0.0.1:9/nobody-listens")
    webhooks.enqueue(session, kind="case.escalated", payload={}, now=NOW)

    report = webhooks.deliver_due(session, NOW, settings=SETTINGS)

    assert report.retrying == 1
    [delivery] = deliveries_of(session, webhook)
    attempt = session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
    ).one()
    assert attempt.status_code is None and attempt.error
    assert delivery.next_attempt_at == NOW + timedelta(seconds=10)


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    """Headers of an administrator who exists (webhooks record who created them)."""
    user = add_user(session, Role.ADMIN)
    return {"Authorization": f"Bearer {token_for(Role.ADMIN, user_id=user.id)}"}


def test_admin_registers_a_webhook_and_sees_the_secret_once(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post("/api/webhooks", json={"url": "https://hooks.example/cg"}, headers=admin)

    assert created.status_code == 201
    assert len(created.json()["secret"]) >= 32
    listed = client.get("/api/webhooks", headers=admin).json()
    assert [hook["url"] for hook in listed] == ["https://hooks.example/cg"]
    assert "secret" not in listed[0]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example/cg"},
        {"url": "not a url"},
        {"url": "https://hooks.example/cg", "secret": "short"},
        {"url": "https://hooks.example/cg", "event_kinds": ["Case Escalated"]},
    ],
)
def test_bad_registrations_are_refused(
    client: TestClient, body: dict[str, object], admin: dict[str, str]
) -> None:
    assert client.post("/api/webhooks", json=body, headers=admin).status_code == 422


def test_only_admins_manage_webhooks(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    answer = client.post(
        "/api/webhooks", json={"url": "https://hooks.example/cg"}, headers=auth(Role.MANAGER)
    )
    assert answer.status_code == 403


def test_patch_and_delete(client: TestClient, admin: dict[str, str]) -> None:
    body = {"url": "https://hooks.example/cg", "event_kinds": ["case.escalated"]}
    webhook_id = client.post("/api/webhooks", json=body, headers=admin).json()["id"]

    patched = client.patch(
        f"/api/webhooks/{webhook_id}",
        json={"is_active": False, "event_kinds": []},
        headers=admin,
    )
    assert patched.status_code == 200
    assert (patched.json()["is_active"], patched.json()["event_kinds"]) == (False, [])
    assert client.delete(f"/api/webhooks/{webhook_id}", headers=admin).status_code == 204
    missing = client.patch(f"/api/webhooks/{webhook_id}", json={}, headers=admin)
    assert missing.status_code == 404


def test_ping_is_delivered_and_shows_in_the_delivery_log(
    client: TestClient, session: Session, receiver: Receiver, admin: dict[str, str]
) -> None:
    body = {"url": receiver.url, "secret": SECRET, "event_kinds": ["case.escalated"]}
    webhook_id = client.post("/api/webhooks", json=body, headers=admin).json()["id"]
    receiver.statuses = [500]

    ping = client.post(f"/api/webhooks/{webhook_id}/test", headers=admin)
    webhooks.deliver_due(session, datetime.now(UTC), settings=SETTINGS)
    webhooks.deliver_due(session, datetime.now(UTC) + timedelta(minutes=1), settings=SETTINGS)

    assert ping.status_code == 202
    [delivery] = client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=admin).json()
    assert delivery["event_id"] == ping.json()["event_id"]
    assert (delivery["kind"], delivery["status"], delivery["attempts"]) == ("ping", "delivered", 2)
    assert [attempt["status_code"] for attempt in delivery["log"]] == [500, 200]
    assert receiver.verified(SECRET) == [True, True]


def test_cli_delivers_due_events(
    run_cli: Callable[..., Result], session: Session, receiver: Receiver
) -> None:
    webhook = add_webhook(session, receiver.url)
    for number in range(3):
        webhooks.enqueue(session, kind="case.dispatched", payload={"n": number}, now=NOW)

    result = run_cli("dispatch", "webhooks", "deliver", "--now", "2026-11-26T17:00:00+08:00")

    assert result.exit_code == 0, result.output
    assert "attempted 3: delivered 3, retrying 0, failed 0" in result.output
    assert {row.status for row in deliveries_of(session, webhook)} == {"delivered"}
    assert len(receiver.received) == 3


def test_cli_refuses_a_time_without_offset(run_cli: Callable[..., Result]) -> None:
    result = run_cli("dispatch", "webhooks", "deliver", "--now", "2026-11-26T09:00:00")
    assert result.exit_code != 0
    assert "offset" in result.output
