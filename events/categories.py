"""Placeholder router; filled in by the work on issue 3."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["categories"], route_class=RoleCheckedRoute)
