"""The in-app inbox: notifications for the caller."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["inbox"], route_class=RoleCheckedRoute)
