"""Signed tokens: expired, foreign and incomplete ones are refused."""

from __future__ import annotations

from datetime import timedelta

import jwt
from fastapi.testclient import TestClient

from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.settings import get_settings
from tests.citygrid.accounts.sign_in_support import bearer


def test_expired_token_is_refused(client: TestClient) -> None:
    principal = Principal(1, "old", Role.ADMIN, None)
    token = issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(seconds=-1))
    response = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_signed_with_another_secret_is_refused(client: TestClient) -> None:
    token = issue_token(
        Principal(1, "x", Role.ADMIN, None),
        secret="another-secret-of-thirty-two-bytes!",
        ttl=timedelta(minutes=1),
    )
    response = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_without_an_id_is_refused(client: TestClient) -> None:
    claims = {"sub": "1", "name": "x", "role": "admin", "dept": None, "exp": 2**40, "iat": 1}
    token = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    assert client.get("/api/users", headers=bearer(token)).status_code == 401
