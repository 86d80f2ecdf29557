"""HTTP routes that read the component inventory: search, one component, repeat cases."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)
