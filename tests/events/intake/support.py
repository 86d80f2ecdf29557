"""Helpers shared by the intake and photo tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from citygrid.accounts.auth import issue_token
from citygrid.accounts.models import User
from citygrid.settings import Settings, get_settings, settings_dependency
from events.models import Category
from tests.events.seed import add_category
from tests.grid.places import COMMUNITY, Place, add_cell, rectangle_wkt, seed_block

CELL_SOUTH = Place("110101001001005", "南边网格")  # below the block, for points 200 m south
# The test database holds the real taxonomy: test categories live in a standard of their own.
TEST_STANDARD = "citygrid-test-standard"

Configure = Callable[..., Settings]


def headers_for(user: User) -> dict[str, str]:
    token = issue_token(
        user.principal(), secret=get_settings().secret_key, ttl=timedelta(minutes=5)
    )
    return {"Authorization": f"Bearer {token}"}


def report_body(
    category: Category, point: tuple[float, float] | None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_uuid": str(uuid.uuid4()),
        "category_id": category.id,
        "description": "垃圾堆在路边 garbage by the road",
    }
    if point is not None:
        body["lon"], body["lat"] = point
    return {**body, **extra}


def configure_app(app: FastAPI, media_dir: Path) -> Configure:
    """A function setting the app's settings (media in `media_dir`) with some changes."""

    def apply(**changes: Any) -> Settings:
        settings = get_settings().model_copy(update={"media_dir": media_dir, **changes})

        async def override() -> Settings:
            return settings

        app.dependency_overrides[settings_dependency] = override
        return settings

    apply()
    return apply


def seed_intake(session: Session) -> Category:
    """The test block, a cell south of it, and a test category."""
    seed_block(session)
    add_cell(
        session,
        place=CELL_SOUTH,
        wkt=rectangle_wkt(116.399, 39.896, 116.401, 39.899),
        community=COMMUNITY,
    )
    return add_category(session, standard=TEST_STANDARD)
