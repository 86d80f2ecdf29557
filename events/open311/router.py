"""Open311 GeoReport v2 under /open311/v2: services, requests, tokens, discovery (XML and JSON)."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=RoleCheckedRoute)
