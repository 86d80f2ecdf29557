"""Password strength (pure), and its checks when a user is created by an admin or on the CLI;
passwords are stored as argon2 hashes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.passwords import check_password_strength, password_weakness
from citygrid.accounts.roles import Role
from citygrid.accounts.schemas import UserCreate
from citygrid.accounts.service import create_user
from citygrid.errors import InvalidInput
from tests.citygrid.accounts.sign_in_support import STRONG


@pytest.mark.parametrize(
    ("password", "user_inputs", "complaint"),
    [
        ("Xk9#q", (), "at least 10 characters"),
        ("password123", (), "too easy to guess"),
        ("qwertyuiop", (), "too easy to guess"),
        ("zhangwei1234", ("zhangwei",), "too easy to guess"),
        ("citygrid-2026", (), "too easy to guess"),
        (STRONG, ("zhangwei",), None),
        ("correct horse battery staple", (), None),
        ("0" * 200, (), "too easy to guess"),  # zxcvbn ≥4.5 raises past 72: only those are scored
    ],
)
def test_password_strength(
    password: str, user_inputs: tuple[str, ...], complaint: str | None
) -> None:
    weakness = password_weakness(password, user_inputs=user_inputs)
    if complaint is None:
        assert weakness is None
    else:
        assert weakness is not None and complaint in weakness


def test_a_weak_password_is_an_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="too easy to guess") as raised:
        check_password_strength("password123")
    assert raised.value.field == "password"


def test_an_unknown_department_in_a_users_body_is_a_422_naming_the_field(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    """404 would say the user is missing (the fuzzer's "created resource not found")."""
    body = {"username": "liu", "password": STRONG, "role": "department", "department_code": "å"}
    answer = client.post("/api/users", json=body, headers=auth(Role.ADMIN))
    assert answer.status_code == 422
    assert answer.json() == {"detail": "no department with code 'å'", "field": "department_code"}


def test_a_weak_password_is_refused_when_creating_a_user(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    body = {"username": "liu", "password": "liu-liu-liu-liu", "role": "inspector"}
    answer = client.post("/api/users", json=body, headers=auth(Role.ADMIN))
    assert answer.status_code == 422
    assert answer.json()["field"] == "password"
    assert "too easy to guess" in answer.json()["detail"]
    short = client.post("/api/users", json={**body, "password": "Xk9#q2"}, headers=auth(Role.ADMIN))
    assert short.status_code == 422 and "password" in short.json()["detail"][0]["loc"]
    strong = client.post("/api/users", json={**body, "password": STRONG}, headers=auth(Role.ADMIN))
    assert strong.status_code == 201, strong.text


def test_users_create_on_the_cli_refuses_a_weak_password(run_cli: Callable[..., Result]) -> None:
    weak = run_cli("users", "create", "ma", "--role", "citizen", "--password", "password1234")
    assert weak.exit_code == 1
    assert "too easy to guess" in weak.output
    strong = run_cli("users", "create", "ma", "--role", "citizen", "--password", STRONG)
    assert strong.exit_code == 0, strong.output


def test_passwords_are_stored_hashed_with_argon2(session: Session) -> None:
    user = create_user(
        session, UserCreate(username="wang", password="s3cret-passage-of-lilacs", role=Role.MANAGER)
    )
    assert user.password_hash.startswith("$argon2")
    assert "s3cret-passage-of-lilacs" not in user.password_hash
