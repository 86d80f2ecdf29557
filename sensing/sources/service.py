"""Video-analytics platforms that post alarms over HTTP: one API key each, stored as SHA-256
(the same hash as Open311's keys), with the confidence at or above which an alarm files a case
by itself (below it waits for a dispatcher's review)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from events.open311.keys import key_hash
from sensing.models import SensingSource

KEY_BYTES = 24
PREFIX_CHARS = 8


@dataclass(frozen=True)
class IssuedSource:
    source: SensingSource
    secret: str  # shown once, never stored


def issue(session: Session, *, code: str, name: str, confidence_threshold: float) -> IssuedSource:
    if not 0 <= confidence_threshold <= 1:
        raise InvalidInput("must be between 0 and 1", field="confidence_threshold")
    if session.scalar(select(SensingSource).where(SensingSource.code == code)) is not None:
        raise Conflict(f"source {code} exists; revoke it or choose another code", field="code")
    secret = secrets.token_urlsafe(KEY_BYTES)
    source = SensingSource(
        code=code,
        name=name,
        key_prefix=secret[:PREFIX_CHARS],
        key_hash=key_hash(secret),
        confidence_threshold=confidence_threshold,
    )
    session.add(source)
    session.flush()
    return IssuedSource(source, secret)


def list_sources(session: Session) -> list[SensingSource]:
    return list(session.scalars(select(SensingSource).order_by(SensingSource.id)))


def revoke(session: Session, code: str, *, now: datetime) -> SensingSource:
    source = session.scalar(select(SensingSource).where(SensingSource.code == code))
    if source is None:
        raise NotFound(f"no source has code {code}", field="code")
    if source.revoked_at is None:
        source.revoked_at = now
        session.flush()
    return source


def admitted(session: Session, api_key: str | None) -> SensingSource:
    """The active source the key belongs to; PermissionDenied (403) otherwise."""
    if not api_key:
        raise PermissionDenied("X-Api-Key is required to post alarms", field="X-Api-Key")
    source = session.scalar(
        select(SensingSource).where(
            SensingSource.key_hash == key_hash(api_key), SensingSource.revoked_at.is_(None)
        )
    )
    if source is None:
        raise PermissionDenied("X-Api-Key is not valid or was revoked", field="X-Api-Key")
    return source
