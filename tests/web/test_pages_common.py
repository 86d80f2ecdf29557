"""What every page shares: login and logout, language, the session cookie, static files, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER, SESSION_COOKIE
from citygrid.accounts.roles import Role
from citygrid.i18n import LANGUAGES
from citygrid.i18n_extract import (
    conflicting_translations,
    missing_translations,
    used_messages,
)
from tests.events.seed import PASSWORD, add_user
from tests.web.pages_support import log_in_through_form

HTML = {"Accept": "text/html"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_the_pages_use_is_translated(language: str) -> None:
    assert len(used_messages()) > 40
    assert missing_translations(language) == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_two_catalogue_parts_translate_a_message_differently(language: str) -> None:
    assert conflicting_translations(language) == {}


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("zh-CN,zh;q=0.9", "用户名"), ("en-GB,en;q=0.8", "Username"), ("", "用户名")],
)
def test_login_page_follows_the_browser_language(
    client: TestClient, accept_language: str, expected: str
) -> None:
    answer = client.get("/login", headers={**HTML, "Accept-Language": accept_language})
    assert answer.status_code == 200
    assert expected in answer.text
    assert '<label for="username">' in answer.text


def test_language_choice_is_remembered_and_returns_to_the_page(client: TestClient) -> None:
    answer = client.get("/language?set=en&next=/login", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    page = client.get("/login", headers={**HTML, "Accept-Language": "zh-CN"})
    assert "Username" in page.text and 'lang="en"' in page.text


def test_language_choice_never_redirects_to_another_host(client: TestClient) -> None:
    answer = client.get("/language?set=en&next=//evil.example/x", follow_redirects=False)
    assert answer.headers["location"] == "/"
    assert client.get("/language?set=fr").status_code == 422


def test_page_without_session_goes_to_login_and_back(session: Session, client: TestClient) -> None:
    add_user(session, Role.MANAGER, username="insp")
    answer = client.get("/maps/heatmap?x=1", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/maps/heatmap%3Fx%3D1"
    form = {"username": "insp", "password": PASSWORD, "next": "/maps/heatmap?x=1"}
    signed_in = client.post("/login", data=form, follow_redirects=False)
    assert signed_in.headers["location"] == "/maps/heatmap?x=1"
    cookie = signed_in.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_wrong_password_shows_the_form_again_with_a_message(
    session: Session, client: TestClient
) -> None:
    add_user(session, Role.DISPATCHER, username="clerk")
    form = {"username": "clerk", "password": "not-it", "next": ""}
    answer = client.post("/login", data=form, headers={"Accept-Language": "en"})
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    ("role", "landing"),
    [(Role.INSPECTOR, "/m/report"), (Role.DISPATCHER, "/console"), (Role.MANAGER, "/dashboard")],
)
def test_login_lands_on_the_roles_first_page(
    session: Session, client: TestClient, role: Role, landing: str
) -> None:
    add_user(session, role, username=f"user-{role}")
    form = {"username": f"user-{role}", "password": PASSWORD, "next": ""}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.headers["location"] == landing
    assert client.get("/", follow_redirects=False).headers["location"] == landing


def test_session_cookie_authenticates_api_reads_and_page_changes_only(
    session: Session, client: TestClient
) -> None:
    add_user(session, Role.ADMIN, username="admin1")
    log_in_through_form(client, "admin1")
    assert client.get("/api/users/me").json()["username"] == "admin1"
    body = {"username": "x1", "password": "long-enough-1", "role": "manager", "display_name": "X"}
    refused = client.post("/api/users", json=body)
    assert refused.status_code == 403
    assert PAGE_HEADER in refused.json()["detail"]
    created = client.post("/api/users", json=body, headers={PAGE_HEADER: "1"})
    assert created.status_code == 201, created.text


def test_logout_drops_the_session(session: Session, client: TestClient) -> None:
    add_user(session, Role.INSPECTOR, username="insp2")
    log_in_through_form(client, "insp2")
    answer = client.post("/logout", follow_redirects=False)
    assert answer.headers["location"] == "/login"
    assert client.get("/api/users/me").status_code == 401


def test_forbidden_page_is_a_translated_page(session: Session, client: TestClient) -> None:
    add_user(session, Role.CITIZEN, username="citizen1")
    log_in_through_form(client, "citizen1")
    answer = client.get("/maps/heatmap", headers={**HTML, "Accept-Language": "zh-CN"})
    assert answer.status_code == 403
    assert "您的角色无权打开此页面。" in answer.text


def test_static_files_are_served_and_paths_cannot_escape(client: TestClient) -> None:
    script = client.get("/static/citygrid/citygrid.js")
    assert script.status_code == 200 and "window.citygrid" in script.text
    assert client.get("/static/citygrid/../settings.py").status_code == 404
    assert client.get("/static/citygrid/%2e%2e/settings.py").status_code == 404
    assert client.get("/static/os/x.js").status_code == 404
