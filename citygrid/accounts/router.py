"""The accounts API: tokens (log in, log out), users, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from citygrid.accounts import audit
from citygrid.accounts.auth import (
    PUBLIC,
    Allow,
    RoleCheckedRoute,
    presented_token,
    read_verified_token,
    request_origin,
)
from citygrid.accounts.models import User
from citygrid.accounts.passwords import check_password_strength
from citygrid.accounts.revocation import revocations_in
from citygrid.accounts.roles import ALL_ROLES, Principal, Role
from citygrid.accounts.schemas import (
    AuditRead,
    PasswordChange,
    ThrottledRead,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from citygrid.accounts.service import (
    LoginRefused,
    change_password,
    create_user_audited,
    log_in_checked,
    log_out_token,
    token_for_user,
    update_user,
    users_by_name,
)
from citygrid.accounts.throttling import LoginThrottled, current_time
from citygrid.api_types import IsoDateTime, RowId
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import SettingsDep

AUDIT_PAGE_MAX = 1_000
NowDep = Annotated[datetime, Depends(current_time)]


def throttled_response(throttled: LoginThrottled) -> JSONResponse:
    """429 with Retry-After, for a login refused by the throttle."""
    body = ThrottledRead(detail=throttled.message, retry_after_s=throttled.retry_after_s)
    return JSONResponse(
        body.model_dump(),
        status_code=429,
        headers={"Retry-After": str(throttled.retry_after_s)},
    )


def remember_user_change(request: Request, user: User) -> None:
    """Apply a committed change of a user's tokens to this process's revocation state."""
    state = revocations_in(request.app.state)
    state.set_user(user.id, active=user.is_active, valid_after=user.tokens_valid_after)


router = APIRouter(tags=["users"], route_class=RoleCheckedRoute)
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"model": ThrottledRead, "description": "Too many failed logins"}
}


@router.post(
    "/api/auth/token",
    dependencies=[Depends(PUBLIC)],
    response_model=TokenRead,
    responses=THROTTLED,
)
def log_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenRead | JSONResponse:
    """OAuth2 password flow: a signed token that expires after `token_ttl_minutes`; 429 with
    Retry-After while the username or the client address is blocked by failed logins."""
    origin = request_origin(request)
    try:
        user = log_in_checked(session, form.username, form.password, origin=origin, now=now)
    except LoginRefused:
        session.commit()  # the failure counts even though the answer is an error
        raise
    except LoginThrottled as throttled:
        session.commit()
        return throttled_response(throttled)
    session.commit()
    return token_for_user(user, settings)


@router.post("/api/auth/logout", status_code=204)
def log_out(
    request: Request,
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Revoke the caller's token: it is refused from now on (by other processes within
    `revocation_refresh_s`)."""
    token = read_verified_token(presented_token(request) or "", secret=settings.secret_key)
    log_out_token(session, token, origin=request_origin(request), now=now)
    session.commit()
    revocations_in(request.app.state).revoke(token.token_id, token.expires_at)
    return Response(status_code=204)


@router.get("/api/users/me")
def who_am_i(
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))], session: SessionDep
) -> UserRead:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("the user of this token no longer exists")
    return UserRead.model_validate(user)


@router.post("/api/users/me/password", response_model=TokenRead, responses=THROTTLED)
def change_my_password(
    request: Request,
    change: PasswordChange,
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenRead | JSONResponse:
    """Change one's own password (the current one is checked, and throttled like a login).
    Every earlier token is refused from now on; the answer holds a new one."""
    origin = request_origin(request)
    # Before the current password's (deliberately slow) check.
    check_password_strength(change.new_password, user_inputs=[principal.username])
    try:
        user = log_in_checked(
            session, principal.username, change.current_password, origin=origin, now=now
        )
    except LoginRefused as refused:
        session.commit()
        raise InvalidInput("the current password is wrong", field="current_password") from refused
    except LoginThrottled as throttled:
        session.commit()
        return throttled_response(throttled)
    change_password(session, user, change.new_password, by=principal, origin=origin, now=now)
    session.commit()
    remember_user_change(request, user)
    return token_for_user(user, settings)


@router.get("/api/users", dependencies=[Depends(Allow(Role.ADMIN))])
def list_users(session: SessionDep) -> list[UserRead]:
    return [UserRead.model_validate(user) for user in users_by_name(session)]


@router.post("/api/users", status_code=201)
def add_user(
    request: Request,
    user_in: UserCreate,
    principal: Annotated[Principal, Depends(Allow(Role.ADMIN))],
    session: SessionDep,
) -> UserRead:
    """Add a user (audited)."""
    user = create_user_audited(session, user_in, by=principal, origin=request_origin(request))
    session.commit()
    return UserRead.model_validate(user)


@router.patch("/api/users/{user_id:int}")
def change_user(
    request: Request,
    user_id: RowId,
    user_in: UserUpdate,
    principal: Annotated[Principal, Depends(Allow(Role.ADMIN))],
    session: SessionDep,
    now: NowDep,
) -> UserRead:
    """Change a user's role or department, disable or enable them, set their password, or log
    them out everywhere; each refuses the user's tokens issued so far (a disabled user's, all of
    them) and is audited."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    update_user(session, user, user_in, by=principal, origin=request_origin(request), now=now)
    session.commit()
    remember_user_change(request, user)
    return UserRead.model_validate(user)


@router.get("/api/audit", dependencies=[Depends(Allow(Role.ADMIN))])
def list_audit_events(
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    since: IsoDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
) -> list[AuditRead]:
    """The audit log, newest first: failed logins, refused tokens, permission denials,
    revocations and user changes."""
    events = audit.audit_events(session, kind=kind, since=since, limit=limit)
    return [AuditRead.model_validate(event) for event in events]
