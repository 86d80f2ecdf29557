"""Map pages (/maps/…), the hotspot API (/api/maps/…) and the map assets served offline."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["maps"], route_class=RoleCheckedRoute)
