"""Passwords, signed tokens, and the role check every route declares."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer

from citygrid.errors import NotAuthenticated, PermissionDenied
from citygrid.settings import Settings, SettingsDep

TOKEN_ALGORITHM = "HS256"
VERIFIED_TOKENS_CACHED = 4096
_hasher = PasswordHasher()
_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
# Pages carry the token in an HttpOnly, SameSite=Strict cookie set at /login. Their scripts send
# this header with every change: a cross-site form cannot set it, and a cross-site script would
# need a CORS preflight, which is refused.
SESSION_COOKIE = "citygrid_session"
PAGE_HEADER = "X-Citygrid-Page"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(enum.StrEnum):
    INSPECTOR = "inspector"  # 监督员
    CITIZEN = "citizen"
    DISPATCHER = "dispatcher"  # 派遣员
    DEPARTMENT = "department"  # member of one department
    MANAGER = "manager"
    ADMIN = "admin"


ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset(ALL_ROLES - {Role.CITIZEN})


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    user_id: int
    username: str
    role: Role
    department_id: int | None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def issue_token(principal: Principal, *, secret: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(principal.user_id),
        "name": principal.username,
        "role": principal.role.value,
        "dept": principal.department_id,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_token(token: str, *, secret: str) -> Principal:
    principal, expires_at = _verified(token, secret)
    if time.time() >= expires_at:
        raise NotAuthenticated("the token has expired; log in again")
    return principal


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    """The token's principal and expiry, its signature checked once per token (a phone sends
    the same token with every request); the expiry is checked on every use by the caller."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp"]}
        )
        principal = Principal(
            int(claims["sub"]), claims["name"], Role(claims["role"]), claims["dept"]
        )
        return principal, float(claims["exp"])
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticated("the token has expired; log in again") from error
    except (jwt.InvalidTokenError, KeyError, ValueError) as error:
        raise NotAuthenticated("the token is not valid") from error


# The role dependencies are async: they only check a signature (no I/O), and each sync
# dependency would cost a threadpool hop on every request.
def page_session_token(request: Request) -> str | None:
    """The token of a signed-in page (its cookie), refused on a change without the page header."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        return None
    if request.method not in SAFE_METHODS and request.headers.get(PAGE_HEADER) != "1":
        raise PermissionDenied(f"a change made from a page must carry the {PAGE_HEADER} header")
    return token


async def current_principal(
    request: Request, token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep
) -> Principal:
    token = token or page_session_token(request)
    if token is None:
        raise NotAuthenticated("this route needs a bearer token (POST /api/auth/token)")
    return read_token(token, secret=settings.secret_key)


class Allow:
    """Dependency admitting the listed roles (published per route in OpenAPI as x-roles)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise PermissionDenied(f"role {principal.role} may not do this (allowed: {allowed})")
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
        token = token or page_session_token(request)
        if token is None and self.anonymous_allowed(settings):
            return None
        return await self._allow(await current_principal(request, token, settings))


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
