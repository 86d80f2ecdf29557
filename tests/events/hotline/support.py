"""Helpers of the hotline ticket tests: a hotline source with its key, and ticket bodies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from events.hotline.keys import KEY_HEADER, issue_source
from events.models import Category
from tests.events.intake.support import seed_intake
from tests.grid.places import CELL_NW, centre_of

PHONE = "13812345678"
MASKED_PHONE = "138****5678"
CALLER = "张三丰"


def seed_hotline(session: Session) -> tuple[Category, dict[str, str]]:
    """The test block and category, and the headers carrying a fresh hotline source's key."""
    category = seed_intake(session)
    issued = issue_source(session, name="12345 test")
    return category, {KEY_HEADER: issued.secret}


def ticket_body(
    *, number: str | None = None, point: tuple[float, float] | None = None, **extra: Any
) -> dict[str, Any]:
    """A complaint with a caller, at the north-west cell's centre unless told otherwise."""
    lon, lat = point if point is not None else centre_of(CELL_NW)
    body: dict[str, Any] = {
        "ticket_number": number or f"T{uuid.uuid4().hex[:12]}",
        "received_at": "2026-12-06T09:00:00+08:00",
        "ticket_type": "complaint",
        "urgency_class": "general",
        "content": "小区门口垃圾堆放多日无人清理",
        "caller_name": CALLER,
        "caller_phone": PHONE,
        "address_text": "东城区多福巷1号",
        "lon": lon,
        "lat": lat,
    }
    return {**body, **extra}


def add_places(session: Session) -> None:
    """Three gazetteer addresses on the test block: two compounds in two cells, and a building."""
    from grid.places.imports import PlaceRow, write_places
    from tests.grid.places import CELL_NE, CELL_SE, CELL_SW

    rows = [
        PlaceRow(0, "北京市东城区多福巷5号院", "address", *centre_of(CELL_NE)),
        PlaceRow(1, "北京市东城区多福巷5号院3号楼", "address", *centre_of(CELL_SE)),
        PlaceRow(2, "北京市东城区多福巷7号", "address", *centre_of(CELL_SW)),
    ]
    write_places(session, rows, district_code="110101", source="test")
