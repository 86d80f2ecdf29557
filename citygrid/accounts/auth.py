"""Signed tokens, and the role check every route declares."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer

from citygrid import logs
from citygrid.accounts import audit, revocation
from citygrid.accounts.audit import AuditEntry, AuditKind, RequestOrigin
from citygrid.accounts.roles import ALL_ROLES, Principal, Role
from citygrid.db import RowFetcher, Writer, get_row_fetcher, get_writer
from citygrid.errors import CitygridError, NotAuthenticated, PermissionDenied
from citygrid.settings import Settings, SettingsDep, get_settings

TOKEN_ALGORITHM = "HS256"
VERIFIED_TOKENS_CACHED = 4096
_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
# Pages carry the token in an HttpOnly, SameSite=Strict cookie set at /login. Their scripts send
# this header with every change: a cross-site form cannot set it, and a cross-site script would
# need a CORS preflight, which is refused.
SESSION_COOKIE = "citygrid_session"
PAGE_HEADER = "X-Citygrid-Page"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature was checked: who it speaks for, its id, and its lifetime."""

    principal: Principal
    token_id: str  # the jti claim, a UUID
    issued_at: float  # epoch seconds, with their fraction
    expires_at: float


def issue_token(
    principal: Principal, *, secret: str, ttl: timedelta, now: datetime | None = None
) -> str:
    """A signed token with its own id (jti, for revocation) and issue time (iat, to the
    microsecond: a token issued just after a password change must not look older than it)."""
    issued_at = now or datetime.now(UTC)
    claims = {
        "sub": str(principal.user_id),
        "name": principal.username,
        "role": principal.role.value,
        "dept": principal.department_id,
        "jti": new_token_id(),
        "iat": issued_at.timestamp(),
        "exp": issued_at + ttl,
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def new_token_id() -> str:
    return str(uuid.uuid4())


def read_token(token: str, *, secret: str) -> Principal:
    """The principal of a well-signed, unexpired token (revocation is not checked here)."""
    return read_verified_token(token, secret=secret).principal


def read_verified_token(token: str, *, secret: str) -> VerifiedToken:
    """A well-signed, unexpired token (revocation is not checked here)."""
    verified = _verified(token, secret)
    if time.time() >= verified.expires_at:
        raise NotAuthenticated("the token has expired; log in again")
    return verified


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified(token: str, secret: str) -> VerifiedToken:
    """The token's claims, its signature checked once per token (a phone sends the same token
    with every request); the expiry is checked on every use by the caller."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "iat", "jti", "sub"]},
        )
        principal = Principal(
            int(claims["sub"]), claims["name"], Role(claims["role"]), claims["dept"]
        )
        token_id = str(uuid.UUID(str(claims["jti"])))
        return VerifiedToken(principal, token_id, float(claims["iat"]), float(claims["exp"]))
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticated("the token has expired; log in again") from error
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as error:
        raise NotAuthenticated("the token is not valid") from error


def request_origin(request: Request) -> RequestOrigin:
    """Where a request came from, for the audit log."""
    return RequestOrigin(
        client_address=request.client.host if request.client else None,
        method=request.method,
        path=request.url.path,
        request_id=logs.REQUEST_ID.get(),
    )


async def occasional_dependency(request: Request, dependency: Callable[[Request], Any]) -> Any:
    """The value of a dependency that takes only the request, needed on few requests (a
    refusal, a refresh): solved here, when needed, instead of by FastAPI on every request
    (~10 µs each). Honours `app.dependency_overrides`, as tests use them."""
    call = request.app.dependency_overrides.get(dependency, dependency)
    value = call(request) if inspect.signature(call).parameters else call()
    return await value if inspect.isawaitable(value) else value


async def audit_refusal(
    request: Request,
    kind: str,
    error: CitygridError,
    *,
    principal: Principal | None = None,
    **details: Any,
) -> None:
    """Record a 401 or 403 in the audit log (a failed write is only logged)."""
    entry = AuditEntry(
        kind,
        request_origin(request),
        user_id=principal.user_id if principal else None,
        username=principal.username if principal else None,
        details={"reason": error.message, **details},
    )
    writer: Writer = await occasional_dependency(request, get_writer)
    error.audited = True
    await audit.write_audit_event(writer, entry)


async def audit_domain_denial(request: Request, error: PermissionDenied) -> None:
    """Audit a 403 that a service raised (a role check audits its own): the caller as the
    request's token says, when it says anything valid."""
    token = presented_token(request)
    principal = None
    if token is not None:
        try:
            principal = read_token(token, secret=get_settings().secret_key)
        except NotAuthenticated:
            principal = None
    details = {"role": principal.role.value} if principal else {}
    await audit_refusal(request, AuditKind.PERMISSION_DENIED, error, principal=principal, **details)


# The role dependencies are async: they check a signature and the in-memory revocation state,
# awaiting their rare I/O (a refresh, an audit row); a sync dependency would cost a threadpool
# hop on every request.
def page_session_token(request: Request) -> str | None:
    """The token of a signed-in page (its cookie), refused on a change without the page header."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        return None
    if request.method not in SAFE_METHODS and request.headers.get(PAGE_HEADER) != "1":
        raise PermissionDenied(f"a change made from a page must carry the {PAGE_HEADER} header")
    return token


def presented_token(request: Request) -> str | None:
    """The bearer token of a request, else its page session cookie's (no checks)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return request.cookies.get(SESSION_COOKIE)


async def current_principal(
    request: Request, token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep
) -> Principal:
    """The caller of a signed, unexpired, unrevoked token (401 otherwise, audited)."""
    try:
        token = token or page_session_token(request)
    except PermissionDenied as denied:
        await audit_refusal(request, AuditKind.PERMISSION_DENIED, denied)
        raise
    if token is None:
        raise NotAuthenticated("this route needs a bearer token (POST /api/auth/token)")
    try:
        verified = read_verified_token(token, secret=settings.secret_key)
    except NotAuthenticated as bad_token:
        await audit_refusal(request, AuditKind.TOKEN_REFUSED, bad_token)
        raise
    refusal = await revocation_refusal(request, verified, settings)
    if refusal is not None:
        refused = NotAuthenticated(refusal)
        principal = verified.principal
        await audit_refusal(request, AuditKind.TOKEN_REFUSED, refused, principal=principal)
        raise refused
    return verified.principal


async def revocation_refusal(
    request: Request, verified: VerifiedToken, settings: Settings
) -> str | None:
    """Why a token is revoked (logout, disabled user, tokens reset), or None; answered from
    the process's revocation state, re-read at most every `revocation_refresh_s`."""
    state = revocation.revocations_in(request.app.state)
    max_age_s = settings.revocation_refresh_s
    if state.is_stale(max_age_s):
        fetch: RowFetcher = await occasional_dependency(request, get_row_fetcher)
        await state.ensure_fresh(
            fetch, max_age_s=max_age_s, token_ttl_s=settings.token_ttl_minutes * 60.0
        )
    return state.refusal(
        user_id=verified.principal.user_id,
        token_id=verified.token_id,
        issued_at=verified.issued_at,
    )


class Allow:
    """Dependency admitting the listed roles (published per route in OpenAPI as x-roles);
    a refusal is written to the audit log."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self, request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            denied = PermissionDenied(f"role {principal.role} may not do this (allowed: {allowed})")
            await audit_refusal(
                request,
                AuditKind.PERMISSION_DENIED,
                denied,
                principal=principal,
                role=principal.role.value,
            )
            raise denied
        return principal


class AllowOrAnonymous:
    """Dependency admitting the listed roles, and a caller without any token (as None) while
    `anonymous_allowed(settings)` holds; published as x-roles like Allow. A token that is sent
    is always checked: a bad or expired one is 401, not an anonymous call."""

    def __init__(self, *roles: Role, anonymous_allowed: Callable[[Settings], bool]) -> None:
        self.roles = frozenset(roles)
        self.anonymous_allowed = anonymous_allowed
        self._allow = Allow(*roles)

    async def __call__(
        self,
        request: Request,
        token: Annotated[str | None, Depends(_bearer)],
        settings: SettingsDep,
    ) -> Principal | None:
        anonymous = token is None and request.cookies.get(SESSION_COOKIE) is None
        if anonymous and self.anonymous_allowed(settings):
            return None
        principal = await current_principal(request, token, settings)
        return await self._allow(request, principal)


class Public:
    """Dependency marking a route that anyone may call, token or not."""

    roles = ALL_ROLES

    async def __call__(self) -> None:
        return None


PUBLIC = Public()


def declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles an endpoint admits, from the Allow/Public dependency somewhere in its tree."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Allow | AllowOrAnonymous | Public):
            return dependency.call.roles
        found = declared_roles(dependency)
        if found is not None:
            return found
    return None


class RoleCheckedRoute(APIRoute):
    """A route that must declare its roles; they are published in OpenAPI as `x-roles`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        roles = declared_roles(self.dependant)
        if roles is None:
            raise TypeError(f"route {path} declares no roles: add Depends(Allow(...)) or PUBLIC")
        public = any(isinstance(d.call, Public) for d in self.dependant.dependencies)
        extra = {"x-roles": ["anyone"] if public else sorted(roles)}
        self.openapi_extra = {**(self.openapi_extra or {}), **extra}
