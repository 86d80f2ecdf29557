"""API keys of Open311 client applications (table open311_api_key), checked per POST with a rate
per key; issued, checked and revoked through `citygrid.api_keys`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session

from citygrid import api_keys
from citygrid.api_keys import Credential
from citygrid.db import RowFetcher
from citygrid.errors import NotFound
from events.open311.models import Open311ApiKey

KEY_FIELD = "api_key"  # a field of the POSTed form
CREDENTIAL = Credential(
    missing=f"{KEY_FIELD} is required to submit a request",
    refused=f"{KEY_FIELD} is not valid or was revoked",
)
LIMITER = "open311_limiter"  # the app's limiter of requests per key
ACTIVE_KEY = """
    SELECT id, requests_per_minute FROM open311_api_key
    WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""


@dataclass(frozen=True)
class IssuedKey:
    key: Open311ApiKey
    secret: str  # shown once, never stored


def issue_key(
    session: Session, *, name: str, requests_per_minute: int, created_by: int | None = None
) -> IssuedKey:
    """A new key (flushed); its secret is in the answer only."""
    new = api_keys.new_key()
    key = Open311ApiKey(
        name=name,
        key_prefix=new.prefix,
        key_hash=new.hash,
        requests_per_minute=requests_per_minute,
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key, new.secret)


def list_keys(session: Session) -> list[Open311ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return api_keys.all_keys(session, Open311ApiKey)


def revoke_key(session: Session, key_id: int) -> Open311ApiKey:
    """The key, revoked now (unchanged when revoked before); NotFound for an unknown id."""
    key = session.get(Open311ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}", field="id")
    return api_keys.revoke(session, key, now=datetime.now(UTC))


async def admitted_key_id(request: Request, fetch: RowFetcher, api_key: str | None) -> int:
    """The id of the active key sent, counted against its rate; PermissionDenied (403) for a
    missing, unknown or revoked key, api_keys.RateLimited (429) past its requests per minute."""
    row = await api_keys.admitted_row(fetch, ACTIVE_KEY, secret=api_key, credential=CREDENTIAL)
    key_id, per_minute = int(row.id), int(row.requests_per_minute)
    api_keys.count_request(request, LIMITER, key_id, per_minute=per_minute, key_name=KEY_FIELD)
    return key_id
