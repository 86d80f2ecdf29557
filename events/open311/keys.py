"""API keys of Open311 client applications: issued once, stored as SHA-256, checked per POST."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.db import RowFetcher
from citygrid.errors import NotFound, PermissionDenied
from citygrid.rate_limit import SlidingWindowLimiter, app_limiter
from events.open311.models import Open311ApiKey

KEY_BYTES = 24
PREFIX_CHARS = 8
ACTIVE_KEY = """
    SELECT id, requests_per_minute FROM open311_api_key
    WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""


class RateLimited(Exception):
    """Too many requests with one key; `retry_after_s` until the next one is admitted."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(f"at most {limit} requests per minute with this api_key")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class IssuedKey:
    key: Open311ApiKey
    secret: str  # shown once, never stored


def key_hash(secret: str) -> str:
    """The SHA-256 hex digest a key is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(
    session: Session, *, name: str, requests_per_minute: int, created_by: int | None = None
) -> IssuedKey:
    """A new key (flushed); its secret is in the answer only."""
    secret = secrets.token_urlsafe(KEY_BYTES)
    key = Open311ApiKey(
        name=name,
        key_prefix=secret[:PREFIX_CHARS],
        key_hash=key_hash(secret),
        requests_per_minute=requests_per_minute,
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key, secret)


def list_keys(session: Session) -> list[Open311ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(select(Open311ApiKey).order_by(Open311ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> Open311ApiKey:
    """The key, revoked now (unchanged when revoked before); NotFound for an unknown id."""
    key = session.get(Open311ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}", field="id")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
    return key


async def admitted_key_id(request: Request, fetch: RowFetcher, api_key: str | None) -> int:
    """The id of the active key sent, counted against its rate; PermissionDenied (403) for a
    missing, unknown or revoked key, RateLimited past its requests per minute."""
    if api_key is None:
        raise PermissionDenied("api_key is required to submit a request")
    rows = await fetch(ACTIVE_KEY, {"key_hash": key_hash(api_key)})
    if not rows:
        raise PermissionDenied("api_key is not valid or was revoked")
    key_id, limit = int(rows[0].id), int(rows[0].requests_per_minute)
    wait_s = limiter_of(request).retry_after_s(str(key_id), limit=limit, now=time.monotonic())
    if wait_s is not None:
        raise RateLimited(limit, max(1, math.ceil(wait_s)))
    return key_id


def limiter_of(request: Request) -> SlidingWindowLimiter:
    """The app's per-key limiter, made on first use (one per app)."""
    return app_limiter(request, "open311_limiter")
