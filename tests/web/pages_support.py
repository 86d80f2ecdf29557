"""What the HTTP page tests share: the request headers of a browser, signing in, opening a page,
and reading what a page hands its scripts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from fastapi.testclient import TestClient

from citygrid.accounts.auth import SESSION_COOKIE, issue_token
from citygrid.accounts.models import User
from citygrid.settings import get_settings
from tests.events.seed import PASSWORD

HTML = {"Accept": "text/html"}
ZH = {**HTML, "Accept-Language": "zh-CN"}
EN = {**HTML, "Accept-Language": "en"}
IN_LANGUAGE = {"zh-CN": ZH, "en": EN}
SESSION_TTL = timedelta(hours=1)


def log_in(client: TestClient, user: User) -> None:
    """Sign `user` in with the session cookie /login would set: the password check costs a second
    of argon2 on a busy machine, so only the tests of the form itself post to /login."""
    token = issue_token(user.principal(), secret=get_settings().secret_key, ttl=SESSION_TTL)
    client.cookies.set(SESSION_COOKIE, token)


def log_in_through_form(client: TestClient, username: str, next_path: str = "") -> None:
    """Sign in by posting the login form (the seeded password), as a browser would."""
    form = {"username": username, "password": PASSWORD, "next": next_path}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def open_page(client: TestClient, path: str, headers: dict[str, str]) -> str:
    """The page's HTML, which must have opened (200)."""
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def script_messages(page: str) -> dict[str, str]:
    """The translated messages a page hands its scripts."""
    found = re.search(
        r'<script type="application/json" id="citygrid-messages">(.*?)</script>', page
    )
    assert found is not None
    return dict(json.loads(found.group(1)))


def script_sources(page: str) -> list[str]:
    """The files the page's scripts come from, in page order."""
    return re.findall(r'<script src="([^"]+)"></script>', page)


def inline_code(page: str) -> list[str]:
    """Whatever a strict Content Security Policy would block: inline scripts, event handler and
    style attributes."""
    inline = re.findall(r"<script(?![^>]*(?:src=|application/json))[^>]*>", page)
    return inline + re.findall(r"\s(on[a-z]+|style)=", page)
