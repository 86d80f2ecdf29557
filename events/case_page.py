"""The case page: details, photos, location map with the cell outline, history, allowed actions."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
