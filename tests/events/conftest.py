"""Fixtures shared by the intake and photo tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from events.models import Category
from tests.events.intake.support import Configure, configure_app, seed_intake
from tests.events.seed import add_user


@pytest.fixture
def configure(client: TestClient, tmp_path: Path) -> Configure:
    """Settings for the app under test (media under tmp_path); call again to change them."""
    return configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]


@pytest.fixture
def category(session: Session) -> Category:
    return seed_intake(session)


@pytest.fixture
def inspector(session: Session) -> User:
    return add_user(session, Role.INSPECTOR)
