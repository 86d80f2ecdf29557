"""Users with roles: the table, the service functions and the routes (signing in and out,
password changes, disabling users, the audit log)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from citygrid.accounts import security
from citygrid.accounts.auth import (
    ALL_ROLES,
    MIN_PASSWORD_LENGTH,
    PUBLIC,
    Allow,
    Principal,
    Role,
    RoleCheckedRoute,
    VerifiedToken,
    check_password_strength,
    hash_password,
    issue_token,
    password_matches,
    presented_token,
    read_verified_token,
    request_origin,
)
from citygrid.accounts.backoff import LOGIN_BACKOFF, BackoffPolicy
from citygrid.accounts.models import Department
from citygrid.accounts.security import AuditEntry, AuditKind, LoginThrottled, RequestOrigin
from citygrid.db import Base, SessionDep
from citygrid.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from citygrid.settings import Settings, SettingsDep

PASSWORD_MAX_LENGTH = 256
AUDIT_PAGE_MAX = 1_000
ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)
NowDep = Annotated[datetime, Depends(security.current_time)]


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        CheckConstraint(
            "(role = 'department') = (department_id IS NOT NULL)", name="department_member"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Tokens issued before this instant are refused (password change, "log out everywhere").
    tokens_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def principal(self) -> Principal:
        return Principal(self.id, self.username, Role(self.role), self.department_id)


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    department_code: str | None = None


class UserUpdate(BaseModel):
    """An admin's change to a user; fields left out stay as they are."""

    is_active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH
    )
    log_out_everywhere: bool = False  # refuse every token issued so far


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    is_active: bool
    tokens_valid_after: datetime | None = None


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


class ThrottledRead(BaseModel):
    detail: str
    retry_after_s: int


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    user_id: int | None
    username: str | None
    client_address: str | None
    method: str | None
    path: str | None
    request_id: str | None
    details: dict[str, Any]


class LoginRefused(NotAuthenticated):
    """Wrong username or password, or a disabled user: the caller is told only the first."""

    def __init__(self, reason: str, *, user: User | None) -> None:
        super().__init__("wrong username or password")
        self.reason = reason
        self.user = user


def create_user(session: Session, user_in: UserCreate) -> User:
    """Add a user; a department member must name an existing department, nobody else may;
    the password must be strong enough."""
    if session.scalar(select(User.id).where(User.username == user_in.username)) is not None:
        raise Conflict(f"username {user_in.username!r} is taken", field="username")
    department_id = _department_for(session, user_in.role, user_in.department_code)
    display_name = user_in.display_name or user_in.username
    check_password_strength(user_in.password, user_inputs=[user_in.username, display_name])
    user = User(
        username=user_in.username,
        display_name=display_name,
        password_hash=hash_password(user_in.password),
        role=user_in.role.value,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def _department_for(session: Session, role: Role, department_code: str | None) -> int | None:
    if role is not Role.DEPARTMENT:
        if department_code is not None:
            raise InvalidInput(
                "only role 'department' belongs to a department", field="department_code"
            )
        return None
    if department_code is None:
        raise InvalidInput("role 'department' needs a department_code", field="department_code")
    department_id = session.scalar(select(Department.id).where(Department.code == department_code))
    if department_id is None:
        raise NotFound(f"no department with code {department_code!r}", field="department_code")
    return department_id


@lru_cache(maxsize=1)
def _unknown_user_hash() -> str:
    """A hash to check passwords of unknown users against, so they take as long to refuse."""
    return hash_password("citygrid: no such user")


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with this username and password; LoginRefused (401) otherwise."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        password_matches(_unknown_user_hash(), password)
        raise LoginRefused("unknown user", user=None)
    if not password_matches(user.password_hash, password):
        raise LoginRefused("wrong password", user=user)
    if not user.is_active:
        raise LoginRefused("disabled user", user=user)
    return user


def log_in_checked(
    session: Session,
    username: str,
    password: str,
    *,
    origin: RequestOrigin,
    now: datetime,
    policy: BackoffPolicy = LOGIN_BACKOFF,
) -> User:
    """The user, after the throttle let the attempt through and the password matched. A
    refusal (LoginThrottled, LoginRefused) is counted and audited in the session: the caller
    commits before answering it."""
    keys = security.throttle_keys(username, origin.client_address)
    wait_s = security.seconds_blocked(session, keys, now=now)
    if wait_s > 0:
        _audit_failed_login(session, origin, username, "throttled", user=None)
        raise LoginThrottled(wait_s)
    try:
        user = authenticate(session, username, password)
    except LoginRefused as refused:
        security.record_login_failure(session, keys, now=now, policy=policy)
        _audit_failed_login(session, origin, username, refused.reason, user=refused.user)
        raise
    security.clear_login_failures(session, username)
    return user


def _audit_failed_login(
    session: Session, origin: RequestOrigin, username: str, reason: str, *, user: User | None
) -> None:
    entry = AuditEntry(
        AuditKind.LOGIN_FAILED,
        origin,
        user_id=user.id if user else None,
        username=username,
        details={"reason": reason},
    )
    security.add_audit_event(session, entry)


def log_out_token(
    session: Session, token: VerifiedToken, *, origin: RequestOrigin, now: datetime
) -> None:
    """Revoke one token (logout) until it expires, and audit it."""
    principal = token.principal
    security.revoke_token(
        session,
        token_id=token.token_id,
        user_id=principal.user_id,
        expires_at=datetime.fromtimestamp(token.expires_at, now.tzinfo),
        now=now,
    )
    entry = AuditEntry(
        AuditKind.TOKEN_REVOKED,
        origin,
        user_id=principal.user_id,
        username=principal.username,
        details={"token_id": token.token_id},
    )
    security.add_audit_event(session, entry)


def update_user(
    session: Session,
    user: User,
    user_in: UserUpdate,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> User:
    """Change a user's password, disable or enable them, or refuse all their tokens so far."""
    if user_in.password is not None:
        change_password(session, user, user_in.password, by=by, origin=origin, now=now)
    if user_in.is_active is not None and user_in.is_active != user.is_active:
        _set_active(session, user, user_in.is_active, by=by, origin=origin, now=now)
    if user_in.log_out_everywhere:
        _reset_tokens(session, user, AuditKind.TOKENS_RESET, by=by, origin=origin, now=now)
    session.flush()
    return user


def change_password(
    session: Session,
    user: User,
    password: str,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> None:
    """Set a strong enough password; every token issued before is refused from now on."""
    check_password_strength(password, user_inputs=[user.username, user.display_name])
    user.password_hash = hash_password(password)
    _reset_tokens(session, user, AuditKind.PASSWORD_CHANGED, by=by, origin=origin, now=now)


def _set_active(
    session: Session,
    user: User,
    active: bool,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> None:
    if not active and user.id == by.user_id:
        raise Conflict("an admin cannot disable their own account", field="is_active")
    user.is_active = active
    kind = AuditKind.USER_ENABLED if active else AuditKind.USER_DISABLED
    _reset_tokens(session, user, kind, by=by, origin=origin, now=now)


def _reset_tokens(
    session: Session,
    user: User,
    kind: str,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> None:
    """Refuse the user's tokens issued before `now`, and audit why (`kind`)."""
    user.tokens_valid_after = now
    details = {"by_user_id": by.user_id, "by_username": by.username}
    entry = AuditEntry(kind, origin, user_id=user.id, username=user.username, details=details)
    security.add_audit_event(session, entry)


def token_for_user(user: User, settings: Settings) -> TokenRead:
    """A new signed token for the user, valid for `token_ttl_minutes`."""
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = issue_token(user.principal(), secret=settings.secret_key, ttl=ttl)
    return TokenRead(access_token=token, expires_in=int(ttl.total_seconds()), role=Role(user.role))


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
    state = security.revocations_in(request.app.state)
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
    security.revocations_in(request.app.state).revoke(token.token_id, token.expires_at)
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
    users = session.scalars(select(User).order_by(User.username))
    return [UserRead.model_validate(user) for user in users]


@router.post("/api/users", status_code=201, dependencies=[Depends(Allow(Role.ADMIN))])
def add_user(user_in: UserCreate, session: SessionDep) -> UserRead:
    user = create_user(session, user_in)
    session.commit()
    return UserRead.model_validate(user)


@router.patch("/api/users/{user_id}")
def change_user(
    request: Request,
    user_id: int,
    user_in: UserUpdate,
    principal: Annotated[Principal, Depends(Allow(Role.ADMIN))],
    session: SessionDep,
    now: NowDep,
) -> UserRead:
    """Disable or enable a user, set their password, or log them out everywhere; each refuses
    the user's tokens issued so far (a disabled user's, all of them)."""
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
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
) -> list[AuditRead]:
    """The audit log, newest first: failed logins, refused tokens, permission denials,
    revocations and user changes."""
    events = security.audit_events(session, kind=kind, since=since, limit=limit)
    return [AuditRead.model_validate(event) for event in events]
