"""Routing rule sets: list, show, save a new version, simulate a draft."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["routing rules"], route_class=RoleCheckedRoute)
