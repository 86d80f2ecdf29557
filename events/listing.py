"""Placeholder router; filled in by the work on issue 3 (case queries and exports)."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["cases"], route_class=RoleCheckedRoute)
