"""Hotline systems and their API keys (table hotline_source), checked per ticket; issued,
checked and revoked through `citygrid.api_keys`.

Each source files its cases as a service account of its own (role dispatcher, inactive: nobody
signs in with it, its password is random and forgotten), so a case's history says which hotline
system filed it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid import api_keys
from citygrid.accounts.models import User
from citygrid.accounts.passwords import hash_password
from citygrid.accounts.roles import Role
from citygrid.api_keys import Credential
from citygrid.db import RowFetcher
from citygrid.errors import InvalidInput, NotFound
from events.hotline import statements as sql
from events.hotline.models import HotlineSource
from events.hotline.service import TicketSource, source_principal

KEY_HEADER = "X-Hotline-Key"
CREDENTIAL = Credential(
    missing=f"the {KEY_HEADER} header is required to send tickets",
    refused=f"the {KEY_HEADER} key is not valid or was revoked",
)


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
    new = api_keys.new_key()
    user = User(
        username=f"hotline-{new.hash[:12]}",
        display_name=f"12345 {name}"[:200],
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role=Role.DISPATCHER.value,
        is_active=False,
    )
    session.add(user)
    session.flush()
    source = HotlineSource(
        name=name, key_prefix=new.prefix, key_hash=new.hash, user_id=user.id, created_by=created_by
    )
    session.add(source)
    session.flush()
    return IssuedSource(source, new.secret)


def list_sources(session: Session) -> list[HotlineSource]:
    """Every source, revoked ones included, oldest first."""
    return api_keys.all_keys(session, HotlineSource)


def revoke_source(session: Session, source_id: int) -> HotlineSource:
    """The source, its key revoked now (unchanged when revoked before): its next ticket is
    refused, in every process."""
    source = session.get(HotlineSource, source_id)
    if source is None:
        raise NotFound(f"no hotline source {source_id}", field="id")
    return api_keys.revoke(session, source, now=datetime.now(UTC))


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


async def admitted_source(fetch: RowFetcher, api_key: str | None) -> TicketSource:
    """The active source of the key sent; PermissionDenied (403) for a missing, unknown or
    revoked key."""
    row = await api_keys.admitted_row(
        fetch, sql.ACTIVE_SOURCE, secret=api_key, credential=CREDENTIAL
    )
    return TicketSource(int(row.id), source_principal(int(row.user_id), str(row.username)))
