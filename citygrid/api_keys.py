"""API keys of the machine channels (Open311 client apps, hotline systems, video-analytics
platforms): issued, checked and revoked one way here; each channel keeps its own table and passes
it (or the statement reading it) in.

A key's secret (24 random bytes, 32 URL-safe characters) is shown once, when it is issued, and
never stored: the table keeps its first `PREFIX_CHARS` characters, for administrators to tell keys
apart, and its SHA-256 hex digest, the unique column a sent key is looked up by. A key is active
while its `revoked_at` is NULL; a revoked row stays, for audit.

Every request reads its key afresh (one lookup on the unique hash), with no cache: a revoked key
is refused from the next request on, in every process (`serve --workers N`, the CLI revoking in
a process of its own). A missing, unknown or revoked key is refused 403 in the channel's own
words (`Credential`); a channel with a rate per key counts each admitted request
(`count_request`, 429 with `Retry-After` past it).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import Request
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from citygrid.db import RowFetcher
from citygrid.errors import PermissionDenied
from citygrid.rate_limit import app_limiter

KEY_BYTES = 24
PREFIX_CHARS = 8


class KeyRow(Protocol):
    """A row of a channel's key table (mapped with at least these columns)."""

    id: int
    key_prefix: str
    key_hash: str
    revoked_at: datetime | None


Row = TypeVar("Row", bound=KeyRow)


@dataclass(frozen=True)
class NewKey:
    secret: str  # shown once, never stored
    prefix: str  # the column key_prefix
    hash: str  # the column key_hash


def key_hash(secret: str) -> str:
    """The SHA-256 hex digest a key is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> NewKey:
    """A fresh random secret with the prefix and hash its row stores."""
    secret = secrets.token_urlsafe(KEY_BYTES)
    return NewKey(secret, secret[:PREFIX_CHARS], key_hash(secret))


def all_keys(session: Session, table: type[Row]) -> list[Row]:
    """Every key of a channel's table, revoked ones included, oldest first."""
    return list(session.scalars(select(table).order_by(inspect(table).local_table.c.id)))


def revoke(session: Session, key: Row, *, now: datetime) -> Row:
    """The key, revoked at `now` (unchanged when revoked before); refused from the next request."""
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
    return key


@dataclass(frozen=True)
class Credential:
    """What a channel answers (403) when a request's key is missing, and when it is unknown or
    revoked: in its clients' words (the header or form field, what the key is for)."""

    missing: str  # "api_key is required to submit a request"
    refused: str  # "api_key is not valid or was revoked"
    field: str | None = None  # the answer's `field`, when the channel names one

    def hash_sent(self, secret: str | None) -> str:
        """The hash of the key sent; PermissionDenied when none (or an empty one) was sent."""
        if not secret:
            raise PermissionDenied(self.missing, field=self.field)
        return key_hash(secret)

    def refusal(self) -> PermissionDenied:
        return PermissionDenied(self.refused, field=self.field)


async def admitted_row(
    fetch: RowFetcher, active_key_sql: str, *, secret: str | None, credential: Credential
) -> Any:
    """The row `active_key_sql` reads for the key sent (its %(key_hash)s placeholder is the
    key's hash; it selects active keys only); PermissionDenied for a missing, unknown or revoked
    key."""
    rows = await fetch(active_key_sql, {"key_hash": credential.hash_sent(secret)})
    if not rows:
        raise credential.refusal()
    return rows[0]


def admitted_key(
    session: Session, table: type[Row], *, secret: str | None, credential: Credential
) -> Row:
    """The active key of `table` that was sent; PermissionDenied for a missing, unknown or revoked
    key."""
    hashed = credential.hash_sent(secret)
    columns = inspect(table).local_table.c
    key = session.scalar(
        select(table).where(columns.key_hash == hashed, columns.revoked_at.is_(None))
    )
    if key is None:
        raise credential.refusal()
    return key


class RateLimited(Exception):
    """Too many requests with one key; `retry_after_s` until the next one is admitted."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def count_request(
    request: Request, limiter: str, key_id: int, *, per_minute: int, key_name: str
) -> None:
    """Count one request of a key against its rate, in the app's limiter named `limiter`;
    RateLimited (naming the key as its clients do) past `per_minute`."""
    counted = app_limiter(request, limiter)
    wait_s = counted.retry_after_s(str(key_id), limit=per_minute, now=time.monotonic())
    if wait_s is not None:
        message = f"at most {per_minute} requests per minute with this {key_name}"
        raise RateLimited(message, max(1, math.ceil(wait_s)))
