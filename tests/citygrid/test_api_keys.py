"""citygrid.api_keys: the one key mechanism of the machine channels (Open311 client apps, hotline
systems, video-analytics platforms), each channel with its own table and its own words."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid import api_keys
from citygrid.api_keys import Credential
from citygrid.errors import PermissionDenied
from events.hotline import keys as hotline_keys
from events.hotline.models import HotlineSource
from events.open311 import keys as open311_keys
from sensing.sources import service as video_sources
from tests.events.hotline.support import seed_hotline, ticket_body


def test_a_new_key_keeps_only_its_prefix_and_sha256() -> None:
    first, second = api_keys.new_key(), api_keys.new_key()
    assert len(first.secret) == 32 and first.secret != second.secret
    assert first.prefix == first.secret[:8]
    assert first.hash == hashlib.sha256(first.secret.encode()).hexdigest()
    assert first.hash == api_keys.key_hash(first.secret) and first.secret not in first.hash


@pytest.mark.parametrize(
    ("credential", "missing", "refused", "field"),
    [
        (open311_keys.CREDENTIAL, "api_key is required to submit", "api_key is not valid", None),
        (
            hotline_keys.CREDENTIAL,
            "the X-Hotline-Key header is required to send tickets",
            "the X-Hotline-Key key is not valid or was revoked",
            None,
        ),
        (
            video_sources.CREDENTIAL,
            "X-Api-Key is required to post alarms",
            "X-Api-Key is not valid or was revoked",
            "X-Api-Key",
        ),
    ],
)
def test_each_channel_refuses_a_missing_or_bad_key_in_its_own_words(
    credential: Credential, missing: str, refused: str, field: str | None
) -> None:
    for sent in (None, ""):
        with pytest.raises(PermissionDenied, match=missing) as caught:
            credential.hash_sent(sent)
        assert caught.value.field == field
    assert credential.refusal().message.startswith(refused)
    assert credential.refusal().field == field
    assert credential.hash_sent("a-key") == api_keys.key_hash("a-key")


def test_a_hotline_key_in_use_is_refused_on_the_next_ticket_after_its_revocation(
    client: TestClient, session: Session
) -> None:
    # No cache of admitted keys: the key just used is read afresh, so its revocation (by the
    # CLI, a process of its own) holds from the next ticket on, in every server process.
    _, key = seed_hotline(session)
    assert client.post("/api/hotline/tickets", json=ticket_body(), headers=key).status_code == 201
    source = session.scalars(select(HotlineSource).order_by(HotlineSource.id.desc())).first()
    assert source is not None
    hotline_keys.revoke_source(session, source.id)
    refused = client.post("/api/hotline/tickets", json=ticket_body(), headers=key)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the X-Hotline-Key key is not valid or was revoked"


def test_a_video_source_is_admitted_until_revoked_and_stays_listed(session: Session) -> None:
    older = video_sources.issue(session, code="keys-a", name="A", confidence_threshold=0.5)
    issued = video_sources.issue(session, code="keys-b", name="B", confidence_threshold=0.5)
    assert video_sources.admitted(session, issued.secret) is issued.source
    revoked_at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    video_sources.revoke(session, "keys-b", now=revoked_at)
    again = video_sources.revoke(session, "keys-b", now=revoked_at + timedelta(hours=1))
    assert again.revoked_at == revoked_at  # revoked once; a second revocation changes nothing
    with pytest.raises(PermissionDenied, match="X-Api-Key is not valid or was revoked"):
        video_sources.admitted(session, issued.secret)
    assert video_sources.admitted(session, older.secret) is older.source
    listed = video_sources.list_sources(session)
    assert listed.index(older.source) < listed.index(issued.source)  # oldest first
