"""Video-analytics platforms that post alarms over HTTP (table sensing_source): one API key each,
issued, checked and revoked through `citygrid.api_keys`, with the confidence at or above which an
alarm files a case by itself (below it waits for a dispatcher's review)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid import api_keys
from citygrid.api_keys import Credential
from citygrid.errors import Conflict, InvalidInput, NotFound
from sensing.models import SensingSource

KEY_HEADER = "X-Api-Key"
CREDENTIAL = Credential(
    missing=f"{KEY_HEADER} is required to post alarms",
    refused=f"{KEY_HEADER} is not valid or was revoked",
    field=KEY_HEADER,
)


@dataclass(frozen=True)
class IssuedSource:
    source: SensingSource
    secret: str  # shown once, never stored


def issue(session: Session, *, code: str, name: str, confidence_threshold: float) -> IssuedSource:
    if not 0 <= confidence_threshold <= 1:
        raise InvalidInput("must be between 0 and 1", field="confidence_threshold")
    if session.scalar(select(SensingSource).where(SensingSource.code == code)) is not None:
        raise Conflict(f"source {code} exists; revoke it or choose another code", field="code")
    new = api_keys.new_key()
    source = SensingSource(
        code=code,
        name=name,
        key_prefix=new.prefix,
        key_hash=new.hash,
        confidence_threshold=confidence_threshold,
    )
    session.add(source)
    session.flush()
    return IssuedSource(source, new.secret)


def list_sources(session: Session) -> list[SensingSource]:
    return api_keys.all_keys(session, SensingSource)


def revoke(session: Session, code: str, *, now: datetime) -> SensingSource:
    source = session.scalar(select(SensingSource).where(SensingSource.code == code))
    if source is None:
        raise NotFound(f"no source has code {code}", field="code")
    return api_keys.revoke(session, source, now=now)


def admitted(session: Session, api_key: str | None) -> SensingSource:
    """The active source the key belongs to; PermissionDenied (403) otherwise."""
    return api_keys.admitted_key(session, SensingSource, secret=api_key, credential=CREDENTIAL)
