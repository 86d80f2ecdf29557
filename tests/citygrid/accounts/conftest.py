"""Fixtures of the accounts tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citygrid.accounts import throttling
from tests.citygrid.accounts.sign_in_support import T0, Clock


@pytest.fixture
def clock(client: TestClient) -> Iterator[Clock]:
    app = client.app
    assert isinstance(app, FastAPI)
    clock = Clock(T0)
    app.dependency_overrides[throttling.current_time] = clock
    yield clock
    app.dependency_overrides.pop(throttling.current_time, None)
