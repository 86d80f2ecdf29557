"""Fixtures of the map tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.maps.city import seed_planted_city


@pytest.fixture
def planted_city(session: Session) -> int:
    """The 20×20 test city with 30 more cases in each planted cell; the category id."""
    return seed_planted_city(session)
