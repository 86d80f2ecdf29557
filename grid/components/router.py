"""HTTP routes that change the component inventory: imports and edits."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(prefix="/api/components", tags=["components"], route_class=RoleCheckedRoute)
