"""The dispatchers' queue (filed, unrouted, returned cases, suggested department); bulk assign."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["dispatch"], route_class=RoleCheckedRoute)
