"""Hotline systems and their API keys: issued once, stored as SHA-256, checked per ticket.

Each source files its cases as a service account of its own (role dispatcher, inactive: nobody
signs in with it, its password is random and forgotten), so a case's history says which hotline
system filed it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.passwords import hash_password
from citygrid.accounts.roles import Role
from citygrid.db import RowFetcher
from citygrid.errors import InvalidInput, NotFound, PermissionDenied
from events.hotline import statements as sql
from events.hotline.models import HotlineSource
from events.hotline.service import TicketSource, source_principal
from events.open311.keys import key_hash

KEY_BYTES = 24
PREFIX_CHARS = 8
KEY_HEADER = "X-Hotline-Key"


@dataclass(frozen=True)
class IssuedSource:
    source: HotlineSource
    secret: str  # shown once, never stored


def issue_source(session: Session, *, name: str, created_by: int | None = None) -> IssuedSource:
    """A new hotline source with its key and service account (flushed); the secret is in the
    answer only."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name must have 1 to 200 characters", field="name")
    secret = secrets.token_urlsafe(KEY_BYTES)
    prefix = secret[:PREFIX_CHARS]
    user = User(
        username=f"hotline-{key_hash(secret)[:12]}",
        display_name=f"12345 {name}"[:200],
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role=Role.DISPATCHER.value,
        is_active=False,
    )
    session.add(user)
    session.flush()
    source = HotlineSource(
        name=name,
        key_prefix=prefix,
        key_hash=key_hash(secret),
        user_id=user.id,
        created_by=created_by,
    )
    session.add(source)
    session.flush()
    return IssuedSource(source, secret)


def list_sources(session: Session) -> list[HotlineSource]:
    """Every source, revoked ones included, oldest first."""
    return list(session.scalars(select(HotlineSource).order_by(HotlineSource.id)))


def revoke_source(session: Session, source_id: int) -> HotlineSource:
    """The source, its key revoked now (unchanged when revoked before)."""
    source = session.get(HotlineSource, source_id)
    if source is None:
        raise NotFound(f"no hotline source {source_id}", field="id")
    if source.revoked_at is None:
        source.revoked_at = datetime.now(UTC)
        session.flush()
    return source


def import_source(session: Session) -> TicketSource:
    """The source of tickets imported from files (made on first use, with no usable key)."""
    name = "import"
    source = session.scalar(
        select(HotlineSource).where(HotlineSource.name == name).order_by(HotlineSource.id)
    )
    if source is None:
        source = issue_source(session, name=name).source
    user = session.get(User, source.user_id)
    assert user is not None
    return TicketSource(source.id, source_principal(user.id, user.username))


# Active keys seen lately, per process: hash → (source, when read). A revoked key is refused
# at most max_age_s later (the setting revocation_refresh_s, as for revoked tokens).
_ADMITTED: dict[str, tuple[TicketSource, float]] = {}
ADMITTED_MAX = 1_000


async def admitted_source(
    fetch: RowFetcher, api_key: str | None, *, max_age_s: float = 0.0
) -> TicketSource:
    """The active source of the key sent; PermissionDenied (403) for a missing, unknown or
    revoked key. An active key is re-read at most every `max_age_s` seconds."""
    if not api_key:
        raise PermissionDenied(f"the {KEY_HEADER} header is required to send tickets")
    hashed = key_hash(api_key)
    now = time.monotonic()
    seen = _ADMITTED.get(hashed)
    if seen is not None and now - seen[1] < max_age_s:
        return seen[0]
    rows = await fetch(sql.ACTIVE_SOURCE, {"key_hash": hashed})
    if not rows:
        _ADMITTED.pop(hashed, None)
        raise PermissionDenied(f"the {KEY_HEADER} key is not valid or was revoked")
    row = rows[0]
    source = TicketSource(int(row.id), source_principal(int(row.user_id), str(row.username)))
    if len(_ADMITTED) >= ADMITTED_MAX:
        _ADMITTED.clear()
    _ADMITTED[hashed] = (source, now)
    return source
