"""The sign-in pages: the role's home, logging in and out with the session cookie, and the
choice of language."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from citygrid.accounts.auth import (
    PUBLIC,
    SESSION_COOKIE,
    RoleCheckedRoute,
    issue_token,
    read_token,
    read_verified_token,
    request_origin,
)
from citygrid.accounts.revocation import revocations_in
from citygrid.accounts.roles import Principal
from citygrid.accounts.service import LoginRefused, log_in_checked, log_out_token
from citygrid.accounts.throttling import LoginThrottled, current_time
from citygrid.api_types import redirects
from citygrid.db import SessionDep
from citygrid.errors import NotAuthenticated
from citygrid.settings import SettingsDep, get_settings
from citygrid.web import LANGUAGE_COOKIE, N_, gettext_for, landing_path, render

LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def safe_next(next_path: str | None) -> str | None:
    """A path on this site to go back to after login; anything else (another host) is dropped."""
    if next_path and next_path.startswith("/") and not next_path.startswith(("//", "/\\")):
        return next_path
    return None


def signed_in(request: Request) -> Principal | None:
    """The page's user when the session cookie holds a valid token."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        return None
    try:
        return read_token(token, secret=get_settings().secret_key)
    except NotAuthenticated:
        return None


router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)


@router.get("/", dependencies=[Depends(PUBLIC)], **redirects("To the first page or /login"))
def home(request: Request) -> RedirectResponse:
    """The user's first page, or the login page."""
    principal = signed_in(request)
    return RedirectResponse(landing_path(principal.role) if principal else "/login", 303)


@router.get("/login", dependencies=[Depends(PUBLIC)], response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """The login form."""
    context = {"next": safe_next(next) or "", "failed": False, "username": ""}
    return render(request, "login.html", context, principal=None)


@router.post(
    "/login",
    dependencies=[Depends(PUBLIC)],
    **redirects(
        "Signed in: the session cookie, and on to the page asked for",
        **{"401": "The login form again: wrong name or password", "429": "Too many failures"},
    ),
)
def log_in_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: Annotated[datetime, Depends(current_time)],
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Sign in: the session cookie, and on to the page asked for (or the role's first page).
    Throttled, audited and counted like the API's login (they share `log_in_checked`)."""
    try:
        user = log_in_checked(session, username, password, origin=request_origin(request), now=now)
    except LoginRefused:
        session.commit()  # the failure counts even though the answer is an error
        context = {"next": safe_next(next) or "", "failed": True, "username": username}
        return render(request, "login.html", context, principal=None, status_code=401)
    except LoginThrottled as throttled:
        session.commit()
        return throttled_page(request, throttled)
    session.commit()
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    principal = user.principal()
    response = RedirectResponse(safe_next(next) or landing_path(principal.role), 303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_token(principal, secret=settings.secret_key, ttl=ttl),
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.env == "production",
        path="/",
    )
    return response


def throttled_page(request: Request, throttled: LoginThrottled) -> HTMLResponse:
    """The error page for a login refused by the throttle: 429, Retry-After, when to retry."""
    message = gettext_for(request)(N_("Too many failed logins. Try again in {seconds} s."))
    context = {"status_code": 429, "message": message.format(seconds=throttled.retry_after_s)}
    response = render(request, "error.html", context, principal=None, status_code=429)
    response.headers["Retry-After"] = str(throttled.retry_after_s)
    return response


@router.post("/logout", dependencies=[Depends(PUBLIC)], **redirects("To /login"))
def log_out_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: Annotated[datetime, Depends(current_time)],
) -> RedirectResponse:
    """Sign out: the session cookie's token is revoked and the cookie dropped."""
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        token = read_verified_token(cookie or "", secret=settings.secret_key)
    except NotAuthenticated:
        return response  # nothing to revoke: no cookie, or one that is refused anyway
    log_out_token(session, token, origin=request_origin(request), now=now)
    session.commit()
    revocations_in(request.app.state).revoke(token.token_id, token.expires_at)
    return response


@router.get("/language", dependencies=[Depends(PUBLIC)], **redirects("Back to `next`"))
def choose_language(
    request: Request,
    language: Annotated[str, Query(alias="set", pattern="^(zh-CN|en)$")],
    next: Annotated[str | None, Query()] = None,
) -> RedirectResponse:
    """Switch the pages' language (remembered in a cookie) and go back."""
    response = RedirectResponse(safe_next(next) or "/", 303)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_MAX_AGE_S, samesite="lax", path="/"
    )
    return response
