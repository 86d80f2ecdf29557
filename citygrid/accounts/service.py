"""Users: adding and changing them, logging in and out (throttled and audited). Each function
takes the request's session and flushes; the route commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from citygrid.accounts import audit, throttling
from citygrid.accounts.audit import AuditEntry, AuditKind, RequestOrigin
from citygrid.accounts.auth import VerifiedToken, issue_token
from citygrid.accounts.backoff import LOGIN_BACKOFF, BackoffPolicy
from citygrid.accounts.models import Department, DepartmentSupervisor, User
from citygrid.accounts.passwords import check_password_strength, hash_password, password_matches
from citygrid.accounts.revocation import revoke_token
from citygrid.accounts.roles import SUPERVISOR_ROLES, Principal, Role
from citygrid.accounts.schemas import TokenRead, UserCreate, UserUpdate
from citygrid.accounts.throttling import LoginThrottled
from citygrid.errors import Conflict, InvalidInput, NotAuthenticated
from citygrid.settings import Settings


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


def create_user_audited(
    session: Session, user_in: UserCreate, *, by: Principal, origin: RequestOrigin
) -> User:
    """Add a user (as create_user does) on an administrator's behalf, and audit it."""
    user = create_user(session, user_in)
    _audit_user_change(
        session,
        AuditKind.USER_CREATED,
        user,
        by=by,
        origin=origin,
        role=user.role,
        department_code=user_in.department_code,
    )
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
        # 422, not 404: the path's user exists; it is a value in the body that names nothing
        raise InvalidInput(f"no department with code {department_code!r}", field="department_code")
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
    keys = throttling.throttle_keys(username, origin.client_address)
    wait_s = throttling.seconds_blocked(session, keys, now=now)
    if wait_s > 0:
        _audit_failed_login(session, origin, username, "throttled", user=None)
        raise LoginThrottled(wait_s)
    try:
        user = authenticate(session, username, password)
    except LoginRefused as refused:
        throttling.record_login_failure(session, keys, now=now, policy=policy)
        _audit_failed_login(session, origin, username, refused.reason, user=refused.user)
        raise
    throttling.clear_login_failures(session, username)
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
    audit.add_audit_event(session, entry)


def log_out_token(
    session: Session, token: VerifiedToken, *, origin: RequestOrigin, now: datetime
) -> None:
    """Revoke one token (logout) until it expires, and audit it."""
    principal = token.principal
    revoke_token(
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
    audit.add_audit_event(session, entry)


def update_user(
    session: Session,
    user: User,
    user_in: UserUpdate,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> User:
    """Change a user's role or department, password, disable or enable them, or refuse all
    their tokens so far."""
    if user_in.role is not None or user_in.department_code is not None:
        role = user_in.role or Role(user.role)
        _set_role(session, user, role, user_in.department_code, by=by, origin=origin, now=now)
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


def _set_role(
    session: Session,
    user: User,
    role: Role,
    department_code: str | None,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
) -> None:
    """A new role (and department): the user's tokens, which carry the old one, are refused;
    supervising departments ends with a role that cannot."""
    if user.id == by.user_id and role is not Role.ADMIN:
        raise Conflict("an admin cannot change their own role", field="role")
    department_id = _department_for(session, role, department_code)
    if (role.value, department_id) == (user.role, user.department_id):
        return
    previous = {"previous_role": user.role, "previous_department_id": user.department_id}
    user.role, user.department_id = role.value, department_id
    if role not in SUPERVISOR_ROLES:
        session.execute(delete(DepartmentSupervisor).where(DepartmentSupervisor.user_id == user.id))
    changed = {"role": role.value, "department_code": department_code, **previous}
    _reset_tokens(
        session, user, AuditKind.USER_ROLE_CHANGED, by=by, origin=origin, now=now, **changed
    )


def _reset_tokens(
    session: Session,
    user: User,
    kind: str,
    *,
    by: Principal,
    origin: RequestOrigin,
    now: datetime,
    **changed: Any,
) -> None:
    """Refuse the user's tokens issued before `now`, and audit why (`kind`, `changed`)."""
    user.tokens_valid_after = now
    _audit_user_change(session, kind, user, by=by, origin=origin, **changed)


def _audit_user_change(
    session: Session,
    kind: str,
    user: User,
    *,
    by: Principal,
    origin: RequestOrigin,
    **changed: Any,
) -> None:
    """Audit a change an administrator made to `user` (the row names the user changed)."""
    details = {**changed, "by_user_id": by.user_id, "by_username": by.username}
    entry = AuditEntry(kind, origin, user_id=user.id, username=user.username, details=details)
    audit.add_audit_event(session, entry)


def token_for_user(user: User, settings: Settings) -> TokenRead:
    """A new signed token for the user, valid for `token_ttl_minutes`."""
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = issue_token(user.principal(), secret=settings.secret_key, ttl=ttl)
    return TokenRead(access_token=token, expires_in=int(ttl.total_seconds()), role=Role(user.role))


def users_by_name(session: Session) -> Sequence[User]:
    """Every user, in the order of their usernames."""
    return session.scalars(select(User).order_by(User.username)).all()


@dataclass(frozen=True)
class UsersPage:
    """One page of the users found, with their departments, and how many were found in all."""

    rows: Sequence[tuple[User, Department | None]]
    total: int


def users_page(
    session: Session, *, search: str | None, role: Role | None, offset: int, limit: int
) -> UsersPage:
    """Users whose username or name contains `search` (and of `role`), by username."""
    query = select(User, Department).outerjoin(Department, Department.id == User.department_id)
    if search:
        query = query.where(
            or_(
                User.username.icontains(search, autoescape=True),
                User.display_name.icontains(search, autoescape=True),
            )
        )
    if role is not None:
        query = query.where(User.role == role.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.execute(query.order_by(User.username).offset(offset).limit(limit))
    return UsersPage(rows=[(user, department) for user, department in page], total=total)


def department_choices(session: Session) -> Sequence[Department]:
    """The active departments a user may be placed in, by name."""
    query = select(Department).where(Department.is_active).order_by(Department.name)
    return session.scalars(query).all()


def supervised_departments(session: Session, user_id: int) -> Sequence[Department]:
    """The departments the user supervises, by name."""
    query = (
        select(Department)
        .join(DepartmentSupervisor, DepartmentSupervisor.department_id == Department.id)
        .where(DepartmentSupervisor.user_id == user_id)
        .order_by(Department.name)
    )
    return session.scalars(query).all()


def department_of(session: Session, user: User) -> Department | None:
    """The department the user is a member of, if any."""
    return session.get(Department, user.department_id) if user.department_id else None
