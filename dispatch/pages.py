"""Dispatcher console and department desk pages."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
