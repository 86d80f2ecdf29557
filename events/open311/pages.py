"""`/admin/open311-keys`: the administrators' page of Open311 client keys (list, issue, revoke),
and the JSON actions its forms call (there is no other API for keys; the CLI is
`citygrid open311 keys`). Keys are issued and revoked by events.open311.keys, as by the CLI;
here each action is also audited. A key's secret is in the answer to its issue only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from citygrid.accounts import audit
from citygrid.accounts.auth import Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import RowId, WholeNumber
from citygrid.db import SessionDep
from citygrid.settings import SettingsDep
from citygrid.web import N_, local_time, render
from events.open311 import keys
from events.open311.models import Open311ApiKey

router = APIRouter(tags=["Open311 keys"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]

KEY_ISSUED = "open311_key_issued"
KEY_REVOKED = "open311_key_revoked"
REQUESTS_PER_MINUTE_MAX = 100_000
KEY_MESSAGES = {
    "done.saved": N_("Saved."),
    "error.forbidden": N_("You may not do this."),
    "error.gone": N_("It no longer exists: reload the page."),
    "error.field.name": N_("Give the client application's name (at most 200 characters)."),
}
# Newest first among the active keys, then the revoked ones; with how much each was used.
KEYS_WITH_USE = text("""
SELECT k.id, k.name, k.key_prefix, k.requests_per_minute, k.created_at, k.revoked_at,
    u.username AS created_by_username, used.requests, used.last_request_at
FROM open311_api_key k
LEFT JOIN app_user u ON u.id = k.created_by
CROSS JOIN LATERAL (
    SELECT count(*) AS requests, max(r.created_at) AS last_request_at
    FROM open311_request r WHERE r.api_key_id = k.id) AS used
ORDER BY k.revoked_at IS NOT NULL, k.id DESC
""")


def _stripped(name: str) -> str:
    if not name.strip():
        raise ValueError("must not be blank")
    return name.strip()


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The length is checked on the name as sent (what the API document promises), the blanks
    # around it are dropped after: a name of blanks only is refused.
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_stripped)]
    requests_per_minute: WholeNumber = Field(default=60, ge=1, le=REQUESTS_PER_MINUTE_MAX)


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    key_prefix: str
    requests_per_minute: int
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(KeyRead):
    key: str  # the secret: in this answer only, never stored


def keys_with_use(session: Session) -> Sequence[Row[Any]]:
    """Every key with its author and the Open311 requests made with it."""
    return session.execute(KEYS_WITH_USE).all()


@router.get("/admin/open311-keys", tags=["pages"], response_class=HTMLResponse)
def keys_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Admin
) -> HTMLResponse:
    """The client keys: active ones first, each with its use; the form to issue one."""
    context = {
        "keys": keys_with_use(session),
        "requests_per_minute_max": REQUESTS_PER_MINUTE_MAX,
        "city_time": lambda moment: local_time(moment, settings.city_zone),
        "js_messages": KEY_MESSAGES,
    }
    return render(request, "events/admin_open311_keys.html", context, principal=principal)


@router.post("/api/open311/keys", status_code=201)
def issue_key(
    body: KeyCreate, request: Request, session: SessionDep, principal: Admin
) -> KeyIssued:
    """Issue a key for a client application; the answer carries the key, shown this once."""
    issued = keys.issue_key(
        session,
        name=body.name,
        requests_per_minute=body.requests_per_minute,
        created_by=principal.user_id,
    )
    session.refresh(issued.key)  # created_at comes from the database
    record(session, KEY_ISSUED, issued.key, request=request, by=principal)
    session.commit()
    return KeyIssued(**KeyRead.model_validate(issued.key).model_dump(), key=issued.secret)


@router.post("/api/open311/keys/{key_id}/revoke")
def revoke_key(key_id: RowId, request: Request, session: SessionDep, principal: Admin) -> KeyRead:
    """Revoke a key: requests with it are refused (403) from now on. Revoking it again changes
    nothing and is not recorded again."""
    before = session.get(Open311ApiKey, key_id)
    was_active = before is not None and before.revoked_at is None
    key = keys.revoke_key(session, key_id)
    if was_active:
        record(session, KEY_REVOKED, key, request=request, by=principal)
    session.commit()
    return KeyRead.model_validate(key)


def record(
    session: Session, kind: str, key: Open311ApiKey, *, request: Request, by: Principal
) -> None:
    """The audit event of an action on a key (never its secret or hash)."""
    audit.audit_change(
        session,
        kind,
        by=by,
        origin=request_origin(request),
        key_id=key.id,
        name=key.name,
        key_prefix=key.key_prefix,
        requests_per_minute=key.requests_per_minute,
    )
