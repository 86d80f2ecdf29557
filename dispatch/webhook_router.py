"""Webhooks: registration and the delivery log (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["webhooks"], route_class=RoleCheckedRoute)
