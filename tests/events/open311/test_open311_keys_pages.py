"""The administrators' Open311 keys page: the keys with their use, issuing a key (shown once,
never again), revoking it (audited, refused to Open311 clients), refused to other roles."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import AuditEvent, User
from citygrid.accounts.roles import Role
from citygrid.api_keys import key_hash
from events.open311 import keys
from events.open311.models import Open311ApiKey, Open311Request
from tests.events.seed import add_user
from tests.web.pages_support import EN, ZH, inline_code, log_in, open_page, script_sources

PAGE = {PAGE_HEADER: "1", "Accept": "application/json"}


@pytest.fixture
def admin(session: Session, client: TestClient) -> User:
    user = add_user(session, Role.ADMIN, username="keys.admin")
    log_in(client, user)
    return user


def audit_events(session: Session, kind: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def test_the_page_lists_keys_with_their_use_in_chinese(
    session: Session, client: TestClient, admin: User
) -> None:
    used = keys.issue_key(session, name="市民热线 app", requests_per_minute=30)
    revoked = keys.issue_key(session, name="旧客户端", requests_per_minute=5)
    keys.revoke_key(session, revoked.key.id)
    for _ in range(2):
        session.add(
            Open311Request(report_uuid=uuid.uuid4(), api_key_id=used.key.id, token=uuid.uuid4())
        )
    session.flush()
    page = open_page(client, "/admin/open311-keys", ZH)
    for words in ("Open311 密钥", "签发密钥", "市民热线 app", "已吊销", "吊销", "每分钟请求数"):
        assert words in page, words
    active_row = page[page.index(f'data-key-id="{used.key.id}"') :]
    assert f"<code>{used.key.key_prefix}…</code>" in active_row
    assert "<td>2<br>" in active_row  # two reports submitted with it
    assert used.secret not in page and used.key.key_hash not in page
    assert f'data-url="/api/open311/keys/{used.key.id}/revoke"' in page
    assert f'data-url="/api/open311/keys/{revoked.key.id}/revoke"' not in page
    assert page.index(f'data-key-id="{used.key.id}"') < page.index(
        f'data-key-id="{revoked.key.id}"'
    )
    assert inline_code(page) == []
    assert "/static/events/admin_reveal.js" in script_sources(page)
    assert client.get("/static/events/admin_reveal.js").status_code == 200


def test_a_key_is_shown_once_when_issued_and_the_issue_is_audited(
    session: Session, client: TestClient, admin: User
) -> None:
    answer = client.post(
        "/api/open311/keys", json={"name": " 巡查 app ", "requests_per_minute": 20}, headers=PAGE
    )
    assert answer.status_code == 201, answer.text
    issued = answer.json()
    assert issued["name"] == "巡查 app" and issued["key"].startswith(issued["key_prefix"])
    stored = session.get(Open311ApiKey, issued["id"])
    assert stored is not None and stored.key_hash == key_hash(issued["key"])
    assert stored.created_by == admin.id
    (event,) = audit_events(session, "open311_key_issued")
    assert event.username == admin.username and event.details["key_id"] == issued["id"]
    assert issued["key"] not in str(event.details) and stored.key_hash not in str(event.details)
    page = open_page(client, "/admin/open311-keys", EN)
    assert "巡查 app" in page and issued["key"] not in page
    assert "keys.admin" in page  # who issued it


def test_a_revoked_key_is_refused_and_the_revocation_audited_once(
    session: Session, client: TestClient, admin: User
) -> None:
    issued = keys.issue_key(session, name="client", requests_per_minute=10)
    url = f"/api/open311/keys/{issued.key.id}/revoke"
    first = client.post(url, json={}, headers=PAGE)
    assert first.status_code == 200 and first.json()["revoked_at"]
    assert (
        client.post(url, json={}, headers=PAGE).json()["revoked_at"] == first.json()["revoked_at"]
    )
    assert len(audit_events(session, "open311_key_revoked")) == 1
    assert client.post("/api/open311/keys/999999/revoke", json={}, headers=PAGE).status_code == 404
    assert "已吊销" in open_page(client, "/admin/open311-keys", ZH)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "  "}, "name"),
        ({"requests_per_minute": 10}, "name"),
        ({"name": "x", "requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "x", "requests_per_minute": "many"}, "requests_per_minute"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    session: Session, client: TestClient, admin: User, body: dict[str, object], field: str
) -> None:
    answer = client.post("/api/open311/keys", json=body, headers=PAGE)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", field]
    assert audit_events(session, "open311_key_issued") == []


def test_other_roles_are_refused(session: Session, client: TestClient) -> None:
    issued = keys.issue_key(session, name="client", requests_per_minute=10)
    log_in(client, add_user(session, Role.DISPATCHER))
    assert client.get("/admin/open311-keys", headers=ZH).status_code == 403
    answer = client.post("/api/open311/keys", json={"name": "mine"}, headers=PAGE)
    assert answer.status_code == 403
    revoke = client.post(f"/api/open311/keys/{issued.key.id}/revoke", json={}, headers=PAGE)
    assert revoke.status_code == 403
    assert session.get(Open311ApiKey, issued.key.id).revoked_at is None  # type: ignore[union-attr]
    assert audit_events(session, "permission_denied")
