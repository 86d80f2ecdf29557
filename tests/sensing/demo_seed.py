"""The demo's devices on the block of four cells, for the demo and page tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.demo.components import load_demo_components
from citygrid.demo.sensing import load_demo_devices
from citygrid.settings import Settings, get_settings
from tests.events.seed import add_department, add_user
from tests.grid.places import seed_block

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def seed_demo_devices(session: Session, media_dir: Path) -> Settings:
    """The block with its demo inventory and users, then the demo devices loaded."""
    seed_block(session)
    for suffix in ("GS", "PS", "SZ", "LD", "HW", "CG"):
        add_department(session, code=f"110101-{suffix}", kind=suffix)
    load_demo_components(session)
    add_user(session, Role.DISPATCHER, username="dispatcher")
    add_user(session, Role.DEPARTMENT, username="department")
    settings = get_settings().model_copy(update={"media_dir": media_dir})
    assert load_demo_devices(session, now=NOW, settings=settings) > 0
    return settings
