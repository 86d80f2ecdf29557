"""Departments, their members and supervisors; work calendars with holiday overrides."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["departments"], route_class=RoleCheckedRoute)
