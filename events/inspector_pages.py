"""Inspector pages (mobile first): new report with an offline queue, my reports, checks."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
