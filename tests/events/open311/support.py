"""Helpers shared by the Open311 tests: a seeded grid and services, a key, a served app."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from events.models import Report
from events.open311 import keys
from events.open311.models import Open311Request
from events.open311.seed import seed_service_attributes
from tests.grid.places import CELL_NW, centre_of, seed_block
from tests.served_app import serve

BASE = "/open311/v2"
GARBAGE = "event-0102"  # exposed garbage: bag_count (number), waste_kinds (multi), landmark
COVER = "component-0101"  # water-supply manhole cover: cover_state (single, required)
NOISE = "event-0301"  # construction noise: noise_since (datetime)
LON, LAT = centre_of(CELL_NW)


def seed_open311(session: Session) -> str:
    """The grid block and the service attributes in place; the secret of a fresh key."""
    seed_block(session)
    seed_service_attributes(session)
    return keys.issue_key(session, name="test app", requests_per_minute=1000).secret


def stored_token(session: Session, request_id: str) -> str:
    """The token kept with the client's details of a posted request (for GET tokens)."""
    report = session.scalars(select(Report).where(Report.case_id == int(request_id))).one()
    query = select(Open311Request.token).where(Open311Request.report_uuid == report.report_uuid)
    return str(session.scalars(query).one())


def form(api_key: str | None, service_code: str = GARBAGE, **extra: str) -> dict[str, str]:
    fields = {
        "service_code": service_code,
        "lat": str(LAT),
        "long": str(LON),
        "description": "垃圾堆在路边 garbage by the road",
        **extra,
    }
    if api_key is not None:
        fields["api_key"] = api_key
    return fields


def xml_of(response: Response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)


def errors_of(response: Response, fmt: str) -> list[tuple[str, str]]:
    """The (code, description) pairs of a spec error list in either format."""
    if fmt == "json":
        return [(str(error["code"]), error["description"]) for error in response.json()]
    root = xml_of(response)
    assert root.tag == "errors"
    return [(e.findtext("code") or "", e.findtext("description") or "") for e in root]


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread; yields the Open311 root."""
    with serve(app) as base_url:
        yield f"{base_url}{BASE}"


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]
